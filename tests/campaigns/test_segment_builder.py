"""Segments built with the form: the builder's lists, the live count, and the JSON it writes."""

import html
import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Segment, SegmentMembership
from campaigns.segments import segment_accounts, segment_refresh
from tests.factories import AccountFactory, CheckFactory, ProgramFactory, TierFactory

pytestmark = pytest.mark.django_db

# What the builder writes for "gold or silver, and at least 2 purchases in 90 days".
BUILT = {
    "all": [
        {"field": "frequency", "op": "gte", "value": 2, "period_days": 90},
        {
            "any": [
                {"field": "tier", "op": "in", "value": ["gold"]},
                {"field": "consent_email", "op": "is", "value": True},
            ]
        },
    ]
}


@pytest.fixture
def program():
    program = ProgramFactory(code="coffee", name="Кофейня")
    gold = TierFactory(program=program, code="gold", name="Золото", rank=2)
    regular = AccountFactory(program=program, tier=gold)
    for _ in range(2):
        CheckFactory(account=regular, occurred_at=timezone.now() - timedelta(days=3))
    AccountFactory(program=program, customer__consent_email=True)
    AccountFactory(program=program)
    return program


def textarea_json(page: str):
    found = re.search(r'<textarea name="conditions"[^>]*>(.*?)</textarea>', page, re.S)
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.russian
def test_the_builder_offers_fields_and_operators_in_russian(admin_client, program):
    # The unprefixed URL, the default language's (a reverse() may be cached with "en/").
    page = admin_client.get("/admin/campaigns/segment/add/").content.decode()
    catalogue = json.loads(
        re.search(r'<script id="sb-catalogue-id_conditions"[^>]*>(.*?)</script>', page, re.S).group(
            1
        )
    )
    labels = {f["code"]: f["label"] for f in catalogue["fields"]}
    assert labels["recency_days"] == "дней с последней покупки"
    assert labels["monetary"] == "сумма покупок"
    assert catalogue["ops"]["gte"] == "не меньше"
    assert catalogue["texts"]["any"] == "любое из условий (ИЛИ)"
    assert {"code": "gold", "label": "Золото (gold)"} in catalogue["choices"]["tier"]
    assert "segment_builder.js" in page
    assert "recency_days, frequency" not in page  # no English field names in the help text


def test_existing_json_is_what_the_form_shows_and_saves_back(admin_client, program):
    segment = Segment.objects.create(program=program, code="mix", name="Mix", conditions=BUILT)
    url = reverse("admin:campaigns_segment_change", args=[segment.pk])
    shown = textarea_json(admin_client.get(url).content.decode())
    assert shown == BUILT
    response = admin_client.post(
        url,
        {
            "program": program.pk,
            "code": "mix",
            "name": "Mix",
            "conditions": json.dumps(shown),
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    segment.refresh_from_db()
    assert segment.conditions == BUILT


def test_the_built_json_selects_the_same_members_as_the_evaluator(admin_client, program):
    response = admin_client.post(
        reverse("admin:campaigns_segment_add"),
        {
            "program": program.pk,
            "code": "built",
            "name": "Built",
            "conditions": json.dumps(BUILT),
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    segment = Segment.objects.get(code="built")
    now = timezone.now()
    segment_refresh(segment, program=program, now=now)
    members = set(SegmentMembership.objects.filter(segment=segment).values_list("account", flat=1))
    expected = set(segment_accounts(BUILT, program=program, now=now).values_list("pk", flat=True))
    assert members == expected and len(members) == 1  # gold with two recent purchases
    count = admin_client.post(
        reverse("admin:campaigns_segment_count"),
        {"conditions": json.dumps(BUILT), "program": program.pk},
    ).json()
    assert count == {"count": len(expected), "program": "Кофейня"}


def test_imported_json_is_still_validated_with_the_place_named(admin_client, program):
    bad = {"all": [{"field": "recency", "op": "gte", "value": 1}]}
    response = admin_client.post(
        reverse("admin:campaigns_segment_add"),
        {"program": program.pk, "code": "bad", "name": "Bad", "conditions": json.dumps(bad)},
    )
    assert response.status_code == 200
    errors = " ".join(response.context["adminform"].form.errors["conditions"])
    assert "conditions.all[0].field" in errors
    assert not Segment.objects.filter(code="bad").exists()


def test_the_count_endpoint_answers_errors_by_place(admin_client, program):
    url = reverse("admin:campaigns_segment_count")
    assert admin_client.get(url).status_code == 405
    response = admin_client.post(url, {"conditions": "{not json", "program": program.pk})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["conditions"]
    wrong = {"all": [{"field": "frequency", "op": "in", "value": 3}]}
    response = admin_client.post(url, {"conditions": json.dumps(wrong), "program": program.pk})
    assert response.status_code == 400
    assert "conditions.all[0].op" in response.json()["errors"]
    empty = admin_client.post(url, {"conditions": "", "program": program.pk}).json()
    assert empty == {"count": 3, "program": "Кофейня"}


def test_the_count_needs_the_segment_permission(client, program):
    user = User.objects.create_user("support", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="support"))
    client.force_login(user)
    response = client.post(reverse("admin:campaigns_segment_count"), {"conditions": "{}"})
    assert response.status_code == 403
