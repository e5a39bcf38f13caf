"""Action events (review, subscription, registration) through event rules, inside campaigns."""

from datetime import timedelta

import pytest

from campaigns import services
from campaigns.models import CampaignRule
from loyalty.ledger.services import event_award
from tests.campaigns.till import D, campaign_awarded
from tests.factories import (
    AccountFactory,
    CampaignFactory,
    EarnRuleFactory,
    ProgramFactory,
    SegmentFactory,
)
from tests.ledger.helpers import assert_consistent

pytestmark = pytest.mark.django_db


@pytest.fixture
def program():
    return ProgramFactory(code="coffee", timezone="Europe/Moscow")


def review(account, external_id, now):
    return event_award(
        program=account.program,
        outlet=None,
        customer=account.customer,
        event="review",
        external_id=external_id,
        now=now,
    )


def test_campaign_event_rule_rewards_its_audience_once_per_event_within_budget(program, now):
    sleepers = SegmentFactory(
        program=program,
        code="sleepers",
        conditions={"all": [{"field": "recency_days", "op": "gte", "value": 90}]},
    )
    inside = [
        AccountFactory(program=program, last_purchase_at=now - timedelta(days=100))
        for _ in range(3)
    ]
    outside = AccountFactory(program=program, last_purchase_at=now - timedelta(days=2))
    campaign = CampaignFactory(
        program=program,
        code="review-back",
        segment=sleepers,
        starts_at=now,
        ends_at=now + timedelta(days=7),
        budget_points=D(250),
    )
    rule = EarnRuleFactory(
        program=program, code="review-back", kind="event", event="review", points=D(100)
    )
    CampaignRule.objects.create(campaign=campaign, rule=rule)
    # Before the launch the campaign's rule is off.
    assert review(inside[0], "rev-0", now).awarded_points == 0
    services.campaign_launch(campaign=campaign, now=now)

    first = review(inside[0], "rev-1", now)
    assert first.awarded_points == D(100)
    assert review(inside[0], "rev-1", now).replayed  # the same review never pays twice
    assert review(outside, "rev-2", now).awarded_points == 0
    assert review(inside[1], "rev-3", now).awarded_points == D(100)
    # 50 left of the budget, then nothing.
    assert review(inside[2], "rev-4", now).awarded_points == D(50)
    assert review(inside[2], "rev-5", now).awarded_points == 0
    assert campaign_awarded(campaign) == D(250)
    assert_consistent(now, *inside)


def test_ordinary_event_rule_with_a_limit_per_customer(program, now):
    EarnRuleFactory(
        program=program,
        code="subscribed",
        kind="event",
        event="subscription",
        points=D(30),
        limit_per_customer=1,
    )
    account = AccountFactory(program=program)

    def subscribe(external_id):
        return event_award(
            program=program,
            outlet=None,
            customer=account.customer,
            event="subscription",
            external_id=external_id,
            now=now,
        )

    assert subscribe("sub-1").awarded_points == D(30)
    second = subscribe("sub-2")
    assert second.awarded_points == 0 and second.reason
