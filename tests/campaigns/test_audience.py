"""The audience draw: the control group is excluded, exact in size and stable."""

from datetime import timedelta
from decimal import Decimal

import pytest

from campaigns import services
from campaigns.audience import campaign_audience_assign, campaign_audience_size
from campaigns.models import CampaignMember, CampaignRule
from campaigns.providers import customer_state
from campaigns.segments import segment_refresh
from tests.factories import (
    AccountFactory,
    CampaignFactory,
    EarnRuleFactory,
    ProgramFactory,
    SegmentFactory,
)

pytestmark = pytest.mark.django_db

SLEEPING = {"all": [{"field": "recency_days", "op": "gte", "value": 90}]}


@pytest.fixture
def setup(now):
    program = ProgramFactory()
    segment = SegmentFactory(program=program, code="sleepers", conditions=SLEEPING)
    AccountFactory.create_batch(1000, program=program, last_purchase_at=now - timedelta(days=100))
    AccountFactory.create_batch(50, program=program, last_purchase_at=now - timedelta(days=5))
    campaign = CampaignFactory(
        program=program, code="wake-up", segment=segment, control_percent=Decimal("10")
    )
    CampaignRule.objects.create(campaign=campaign, rule=EarnRuleFactory(program=program))
    return program, segment, campaign


def control_ids(campaign):
    return set(
        CampaignMember.objects.filter(campaign=campaign, is_control=True).values_list(
            "account_id", flat=True
        )
    )


def test_control_group_is_exact_and_stable(setup, now):
    program, segment, campaign = setup
    services.campaign_launch(campaign=campaign, now=now)
    size = campaign_audience_size(campaign)
    assert (size.audience, size.control, size.target) == (900, 100, 1000)
    first = control_ids(campaign)

    # Nightly refreshes redraw nobody, in chunks or not.
    for day in (1, 2):
        later = now + timedelta(days=day)
        segment_refresh(segment, program=program, now=later, chunk=128)
        campaign_audience_assign(campaign, now=later, chunk=128)
    assert control_ids(campaign) == first

    # Newcomers are drawn so the whole stays at 10 %.
    AccountFactory.create_batch(100, program=program, last_purchase_at=now - timedelta(days=100))
    segment_refresh(segment, program=program, now=now, chunk=128)
    drawn = campaign_audience_assign(campaign, now=now, chunk=128)
    assert drawn.assigned == 100
    assert control_ids(campaign) > first
    assert len(control_ids(campaign)) == 110


def test_small_audiences_round_to_the_nearest(now):
    program = ProgramFactory()
    segment = SegmentFactory(program=program, conditions={})
    campaign = CampaignFactory(program=program, segment=segment, control_percent=Decimal("10"))
    CampaignRule.objects.create(campaign=campaign, rule=EarnRuleFactory(program=program))
    AccountFactory.create_batch(4, program=program)
    services.campaign_launch(campaign=campaign, now=now)
    assert len(control_ids(campaign)) == 0  # 0.4 rounds down
    AccountFactory.create_batch(2, program=program)
    segment_refresh(segment, program=program, now=now)
    campaign_audience_assign(campaign, now=now)
    assert len(control_ids(campaign)) == 1  # 0.6 rounds up


def test_provider_gives_the_audience_code_to_the_audience_only(setup, now):
    program, segment, campaign = setup
    services.campaign_launch(campaign=campaign, now=now)
    control = CampaignMember.objects.filter(campaign=campaign, is_control=True).first().account
    member = CampaignMember.objects.filter(campaign=campaign, is_control=False).first().account
    awake = program.accounts.filter(last_purchase_at__gt=now - timedelta(days=10)).first()
    assert "campaign:wake-up" in customer_state(member, now)["segments"]
    assert "campaign:wake-up&sleepers" in customer_state(member, now)["segments"]
    assert "campaign:wake-up" not in customer_state(control, now)["segments"]
    assert customer_state(control, now)["segments"] == {"sleepers"}
    assert customer_state(awake, now)["segments"] == set()

    # Leaving the target segment leaves the audience; the draw itself stays.
    member.last_purchase_at = now
    member.save()
    segment_refresh(segment, program=program, now=now)
    assert customer_state(member, now)["segments"] == set()
    assert CampaignMember.objects.filter(campaign=campaign, account=member).exists()

    services.campaign_pause(campaign=campaign, now=now)
    other = CampaignMember.objects.filter(campaign=campaign, is_control=False).last().account
    assert customer_state(other, now)["segments"] == {"sleepers"}


def test_campaign_without_a_segment_targets_every_member(now):
    program = ProgramFactory()
    campaign = CampaignFactory(program=program, code="all", control_percent=Decimal("0"))
    CampaignRule.objects.create(campaign=campaign, rule=EarnRuleFactory(program=program))
    accounts = AccountFactory.create_batch(3, program=program)
    services.campaign_launch(campaign=campaign, now=now)
    assert all("campaign:all" in customer_state(a, now)["segments"] for a in accounts)


def test_provider_uses_two_queries(setup, now, django_assert_num_queries):
    _program, _segment, campaign = setup
    services.campaign_launch(campaign=campaign, now=now)
    account = CampaignMember.objects.filter(campaign=campaign).first().account
    with django_assert_num_queries(2):
        customer_state(account, now)
