"""The segment admin: live preview before saving, path-named errors, RFM list."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import RfmScore, Segment
from campaigns.rfm import rfm_refresh
from tests.factories import AccountFactory, ProgramFactory

pytestmark = pytest.mark.django_db


def form_data(program, conditions, **extra):
    return {
        "program": program.pk if program else "",
        "code": "sleepers",
        "name": "Sleepers",
        "description": "",
        "conditions": json.dumps(conditions),
        "is_active": "on",
        "preview_program": "",
        **extra,
    }


@pytest.fixture
def program():
    # The admin reads the clock (it is a door), so the history is relative to it.
    now = timezone.now()
    program = ProgramFactory(code="coffee")
    AccountFactory(program=program, last_purchase_at=now - timedelta(days=100))
    AccountFactory(program=program, last_purchase_at=now - timedelta(days=200))
    AccountFactory(program=program, last_purchase_at=now - timedelta(days=1))
    return program


def test_preview_counts_without_saving(admin_client, program, now):
    conditions = {"all": [{"field": "recency_days", "op": "gte", "value": 90}]}
    response = admin_client.post(
        reverse("admin:campaigns_segment_add"),
        form_data(program, conditions, _preview="Preview"),
    )
    assert response.status_code == 200
    assert response.context["segment_preview"].size == 2
    assert len(response.context["segment_preview"].sample) == 2
    assert not Segment.objects.filter(code="sleepers").exists()

    response = admin_client.post(
        reverse("admin:campaigns_segment_add"), form_data(program, conditions, _save="Save")
    )
    assert response.status_code == 302
    assert Segment.objects.get(code="sleepers").conditions == conditions


def test_preview_of_a_builtin_segment_counts_in_the_chosen_programme(admin_client, program):
    segment = Segment.objects.get(code="sleeping", program__isnull=True)
    data = form_data(None, segment.conditions, _preview="Preview")
    data.update(code="sleeping", name=segment.name, preview_program=program.pk)
    response = admin_client.post(reverse("admin:campaigns_segment_change", args=[segment.pk]), data)
    assert response.status_code == 200
    assert response.context["segment_preview"].size == 2


def test_bad_conditions_name_the_path(admin_client, program):
    conditions = {"all": [{"field": "recency_days", "op": "between", "value": [9, 1]}]}
    response = admin_client.post(
        reverse("admin:campaigns_segment_add"), form_data(program, conditions, _preview="Preview")
    )
    assert response.status_code == 200
    assert response.context["segment_preview"] is None
    errors = response.context["adminform"].form.errors["conditions"]
    assert any("conditions.all[0].value" in e for e in errors)


def test_programme_segment_cannot_shadow_a_builtin_code(admin_client, program):
    response = admin_client.post(
        reverse("admin:campaigns_segment_add"),
        form_data(program, {}, code="vip", _save="Save"),
    )
    assert response.status_code == 200
    assert "code" in response.context["adminform"].form.errors


def test_rfm_admin_lists_scores(admin_client, program):
    rfm_refresh(program=program, now=timezone.now())
    response = admin_client.get(reverse("admin:campaigns_rfmscore_changelist") + "?r__exact=5")
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == list(RfmScore.objects.filter(r=5))
