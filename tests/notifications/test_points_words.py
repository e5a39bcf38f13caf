"""Shipped messages put the word "points" in the form the number needs (ngettext rules)."""

import importlib
from decimal import Decimal

import pytest
from django.apps import apps

from notifications.defaults import DEFAULTS
from notifications.models import Template
from notifications.rendering import render_text

pytestmark = pytest.mark.django_db


def shipped(event, channel, language):
    return next(
        d for d in DEFAULTS if (d.event, d.channel, d.language) == (event, channel, language)
    )


def render(spec, **context):
    base = {"program": {"name": "Кофе"}, "check": {"receipt_number": "R-1", "amount": "100"}}
    return render_text(
        subject=spec.subject,
        body=spec.body,
        context={**base, **context},
        language=spec.language,
        time_zone="Europe/Moscow",
    )


@pytest.mark.parametrize(
    ("points", "word"),
    [(1, "балл"), (2, "балла"), (122, "балла"), (54, "балла"), (5, "баллов"), (11, "баллов")],
)
def test_the_cabinet_inbox_message_agrees_with_the_number(points, word):
    subject, body = render(shipped("points_earned", "cabinet", "ru"), points=Decimal(points))
    assert subject == f"+{points} {word}"
    assert f"+{points} {word}" in body


def test_english_says_one_point_and_many_points():
    spec = shipped("points_earned", "email", "en")
    assert render(spec, points=Decimal(1), balance=Decimal(1))[0] == "You earned 1 point"
    assert render(spec, points=Decimal(7), balance=Decimal(1))[0] == "You earned 7 points"


def test_the_expiry_reminder_agrees_too():
    spec = shipped("points_expiring", "cabinet", "ru")
    subject, body = render(spec, total=Decimal(21), items=[{"points": Decimal(3), "date": None}])
    assert subject == "Скоро сгорают баллы: 21 балл"
    assert "— 3 балла —" in body


def test_untouched_shipped_rows_get_the_new_text_and_edited_ones_stay():
    migration = importlib.import_module("notifications.migrations.0004_points_words_agree")
    key = ("points_earned", "cabinet", "ru")
    old_subject, old_body = migration.PREVIOUS[key]
    Template.objects.filter(event=key[0], program=None).delete()
    untouched = Template.objects.create(
        event=key[0], channel=key[1], language=key[2], subject=old_subject, body=old_body
    )
    edited = Template.objects.create(
        event=key[0], channel="email", language="ru", subject="Мой текст", body="{{ points }}"
    )
    migration.update(apps, None)
    untouched.refresh_from_db()
    edited.refresh_from_db()
    assert untouched.subject == shipped(*key).subject
    assert (edited.subject, edited.body) == ("Мой текст", "{{ points }}")
