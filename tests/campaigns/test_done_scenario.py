"""Issue 6 "done": a marketer launches a weekend ×2 campaign for sleeping customers from the admin.

Everything the marketer does goes through the Django admin with the test client (the rule
included); only the customers' purchases come from the till (``check_commit``). The admin reads
the real clock, so the customers' history and the till's dates are relative to it.
"""

import json
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import Campaign, CampaignMember, CampaignStatus, Segment
from campaigns.services import campaign_figures
from loyalty.api.models import OutletAPIKey
from loyalty.rules.models import EarnRule
from tests.campaigns.till import D, commit, rule_points
from tests.factories import (
    AccountFactory,
    OutletFactory,
    ProgramFactory,
    RedemptionPolicyFactory,
    TierFactory,
)

pytestmark = pytest.mark.django_db

MSK = ZoneInfo("Europe/Moscow")


def next_local(weekday: int, after: datetime) -> datetime:
    """Noon in Moscow on the first ``weekday`` (1 = Monday) at least a day after ``after``."""
    day = (after.astimezone(MSK) + timedelta(days=1)).date()
    while day.isoweekday() != weekday:
        day += timedelta(days=1)
    return datetime.combine(day, time(12), tzinfo=MSK)


def split(moment: datetime, prefix: str) -> dict:
    """The admin's split date/time inputs, in the admin's time zone."""
    local = timezone.localtime(moment)
    return {f"{prefix}_0": local.strftime("%Y-%m-%d"), f"{prefix}_1": local.strftime("%H:%M:%S")}


@pytest.fixture
def shop():
    real_now = timezone.now()
    program = ProgramFactory(code="coffee", timezone="Europe/Moscow")
    TierFactory(program=program, code="base", rank=0, earn_percent=D(5))
    RedemptionPolicyFactory(program=program)
    outlet = OutletFactory(program=program, code="msk-1")
    sleeping = [
        AccountFactory(program=program, last_purchase_at=real_now - timedelta(days=120))
        for _ in range(30)
    ]
    active = [
        AccountFactory(program=program, last_purchase_at=real_now - timedelta(days=3))
        for _ in range(3)
    ]
    return program, outlet, sleeping, active


def pos_check(pos, account, at, amount="1000.00") -> dict:
    body = {
        "customer": {"phone": account.customer.phone},
        "lines": [{"sku": "LATTE", "category": "coffee", "quantity": "1", "price": amount}],
        "receipt_number": f"R-{account.pk}-{at:%Y%m%d}",
        "occurred_at": at.isoformat(),
    }
    response = pos.post(
        "/api/v1/checks", body, format="json", HTTP_IDEMPOTENCY_KEY=body["receipt_number"]
    )
    assert response.status_code == 201, response.json()
    return response.json()


def create_rule_in_admin(client, program) -> EarnRule:
    """The marketer builds the ×2 weekend rule in the constructor (the earn rule admin)."""
    url = reverse("admin:rules_earnrule_add")
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "program": program.pk,
            "code": "weekend-x2",
            "name": "×2 по выходным",
            "kind": "multiplier",
            "is_active": "on",
            "factor": "2",
            "priority": "0",
            "days_of_week": ["6", "7"],  # Saturday and Sunday ticked
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    return EarnRule.objects.get(program=program, code="weekend-x2")


def test_marketer_launches_weekend_double_points_for_sleeping_customers(admin_client, shop):
    program, outlet, sleeping_accounts, active = shop
    real_now = timezone.now()
    sleeping = Segment.objects.get(program=None, code="sleeping")

    # 1. How many sleeping customers are there? The segment's live preview, nothing saved.
    preview = admin_client.post(
        reverse("admin:campaigns_segment_change", args=[sleeping.pk]),
        {
            "program": "",
            "code": sleeping.code,
            "name": sleeping.name,
            "description": sleeping.description,
            "conditions": json.dumps(sleeping.conditions),
            "is_active": "on",
            "preview_program": program.pk,
            "_preview": "Preview",
        },
    )
    assert preview.status_code == 200
    assert preview.context["segment_preview"].size == 30

    # 2. The ×2 weekend rule, in the constructor.
    rule = create_rule_in_admin(admin_client, program)

    # 3. The campaign: sleeping customers, 50 000 points, 10 % control group, the rule.
    response = admin_client.post(
        reverse("admin:campaigns_campaign_add"),
        {
            "program": program.pk,
            "code": "weekend-x2",
            "name": "Двойные баллы по выходным для спящих",
            "description": "",
            **split(real_now - timedelta(minutes=5), "starts_at"),
            **split(real_now + timedelta(days=40), "ends_at"),
            "segment": sleeping.pk,
            "control_percent": "10",
            "budget_points": "50000",
            "message_title": "Скучаем!",
            "message_text": "Двойные баллы по выходным — только для вас.",
            "links-TOTAL_FORMS": "1",
            "links-INITIAL_FORMS": "0",
            "links-MIN_NUM_FORMS": "0",
            "links-MAX_NUM_FORMS": "1000",
            "links-0-rule": rule.pk,
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    campaign = Campaign.objects.get(program=program, code="weekend-x2")
    assert campaign.status == CampaignStatus.DRAFT
    change_url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    page = admin_client.get(change_url)
    launch_url = reverse("admin:campaigns_campaign_transition", args=[campaign.pk, "launch"])
    assert launch_url in page.content.decode()

    # 4. Launch now.
    response = admin_client.post(launch_url, follow=True)
    assert response.status_code == 200
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING
    page = admin_client.get(change_url).content.decode()
    assert "3 of 30" in page or "3 из 30" in page  # control group drawn and shown
    members = CampaignMember.objects.filter(campaign=campaign)
    assert members.count() == 30 and members.filter(is_control=True).count() == 3
    control = [a for a in sleeping_accounts if members.get(account=a).is_control]
    audience = [a for a in sleeping_accounts if not members.get(account=a).is_control]

    # 5. At the till, through the POS API.
    saturday = next_local(6, real_now)
    weekday = next_local(3, real_now)
    # The till reports checks of the coming days: widen the programme's occurred_at window.
    program.occurred_at_future_minutes = 8 * 24 * 60
    program.save(update_fields=["occurred_at_future_minutes"])
    _, key = OutletAPIKey.objects.create_key(outlet=outlet, name="till 1")
    pos = APIClient()
    pos.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    double = pos_check(pos, audience[0], saturday)
    assert double["earned_points"] == "100"
    rows = {row["rule"]: row["points"] for row in double["breakdown"]}
    assert rows == {"tier:base": "50", "weekend-x2": "50"}
    assert pos_check(pos, control[0], saturday)["earned_points"] == "50"
    assert pos_check(pos, audience[1], weekday)["earned_points"] == "50"
    assert pos_check(pos, active[0], saturday)["earned_points"] == "50"

    # 6. Big weekend checks spend the budget; then the campaign gives nothing more.
    given = [
        rule_points(commit(account, outlet, saturday, amount="400000.00").result, "weekend-x2")
        for account in audience[2:6]
    ]
    assert given == [D(20000), D(20000), D(9950), D(0)]
    figures = campaign_figures(campaign)
    assert (figures.spent, figures.budget_left) == (D(50000), D(0))
    # The marketer sees it in the campaign list: 50 000 spent, nothing left.
    listing = admin_client.get(reverse("admin:campaigns_campaign_changelist"))
    row = listing.context["cl"].result_list.get(pk=campaign.pk)
    assert listing.context["cl"].model_admin.points_spent(row) == D(50000)
    assert listing.context["cl"].model_admin.budget_left(row) == D(0)
    # A sleeping customer's next weekend check earns the base only.
    after = commit(audience[6], outlet, saturday + timedelta(days=1)).result
    assert (rule_points(after, "weekend-x2"), after.earned_points) == (0, D(50))
