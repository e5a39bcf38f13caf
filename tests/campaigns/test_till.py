"""Campaigns and offers at the till: what check_calculate and check_commit really award."""

from datetime import timedelta

import pytest

from campaigns import services
from campaigns.models import CampaignMember, CampaignRule, OfferRule, Segment
from campaigns.segments import segment_refresh
from loyalty.rules.models import EarnRule
from tests.campaigns.till import (
    SATURDAY,
    SUNDAY,
    WEDNESDAY,
    D,
    calculate,
    campaign_awarded,
    commit,
    line,
    rule_points,
)
from tests.factories import (
    AccountFactory,
    CampaignFactory,
    EarnRuleFactory,
    OfferFactory,
    OutletFactory,
    ProgramFactory,
    RedemptionPolicyFactory,
    SegmentFactory,
    TierFactory,
)
from tests.ledger.helpers import assert_consistent

pytestmark = pytest.mark.django_db


@pytest.fixture
def program():
    program = ProgramFactory(code="coffee", timezone="Europe/Moscow")
    TierFactory(program=program, code="base", rank=0, earn_percent=D(5))
    RedemptionPolicyFactory(program=program)
    return program


@pytest.fixture
def outlet(program):
    return OutletFactory(program=program, code="msk-1")


def sleeping_accounts(program, now, n):
    return [
        AccountFactory(program=program, last_purchase_at=now - timedelta(days=120))
        for _ in range(n)
    ]


BUDGET, CONTROL = D(50000), D(10)


def weekend_campaign(program, now, *, budget=BUDGET, control=CONTROL, **kw):
    campaign = CampaignFactory(
        program=program,
        code="weekend-x2",
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=30),
        segment=Segment.objects.get(program=None, code="sleeping"),
        control_percent=control,
        budget_points=budget,
        **kw,
    )
    rule = EarnRuleFactory(
        program=program, code="weekend-x2", kind="multiplier", factor=D(2), days_of_week=[6, 7]
    )
    CampaignRule.objects.create(campaign=campaign, rule=rule)
    return campaign


@pytest.fixture
def launched(program, now):
    sleepers = sleeping_accounts(program, now, 20)
    active = AccountFactory(program=program, last_purchase_at=now - timedelta(days=5))
    campaign = weekend_campaign(program, now)
    services.campaign_launch(campaign=campaign, now=now)
    members = CampaignMember.objects.filter(campaign=campaign)
    control = [a for a in sleepers if members.get(account=a).is_control]
    audience = [a for a in sleepers if not members.get(account=a).is_control]
    return campaign, audience, control, active


def test_weekend_check_of_a_sleeping_member_earns_double(launched, outlet):
    campaign, audience, _control, _active = launched
    result = commit(audience[0], outlet, SATURDAY).result
    assert rule_points(result, "tier:base") == D(50)
    assert rule_points(result, "weekend-x2") == D(50)
    assert result.earned_points == D(100)
    assert campaign_awarded(campaign) == D(50)
    assert services.campaign_figures(campaign).spent == D(50)
    assert services.campaign_figures(campaign).budget_left == D(49950)
    assert_consistent(SATURDAY, audience[0])


def test_control_group_weekday_and_outsiders_earn_the_base_only(launched, outlet):
    campaign, audience, control, active = launched
    assert len(control) == 2 and len(audience) == 18  # 10 % of the 20 sleeping members
    for account, at in ((control[0], SUNDAY), (audience[1], WEDNESDAY), (active, SATURDAY)):
        result = commit(account, outlet, at).result
        assert rule_points(result, "weekend-x2") == 0, account
        assert result.earned_points == D(50)
    assert campaign_awarded(campaign) == 0


def test_calculate_and_commit_agree(launched, outlet):
    _campaign, audience, _control, _active = launched
    quote = calculate(audience[2], outlet, SATURDAY).result
    committed = commit(audience[2], outlet, SATURDAY).result
    assert quote.earned_points == committed.earned_points == D(100)


def test_paused_and_finished_campaigns_award_nothing(launched, outlet, now):
    campaign, audience, _control, _active = launched
    services.campaign_pause(campaign=campaign, now=now)
    assert rule_points(commit(audience[0], outlet, SATURDAY).result, "weekend-x2") == 0
    services.campaign_resume(campaign=campaign, now=now)
    assert rule_points(commit(audience[0], outlet, SATURDAY).result, "weekend-x2") == D(50)
    services.campaign_finish(campaign=campaign, now=now)
    assert rule_points(commit(audience[0], outlet, SUNDAY).result, "weekend-x2") == 0


def test_outside_the_campaign_window_nothing(program, outlet, now):
    sleepers = sleeping_accounts(program, now, 3)
    campaign = weekend_campaign(program, now, control=D(0))
    campaign.ends_at = SATURDAY  # ends before Saturday noon in Moscow
    campaign.save()
    services.campaign_launch(campaign=campaign, now=now)
    assert rule_points(commit(sleepers[0], outlet, SATURDAY).result, "weekend-x2") == 0


def test_budget_is_a_hard_stop(program, outlet, now):
    sleepers = sleeping_accounts(program, now, 6)
    campaign = weekend_campaign(program, now, budget=D(120), control=D(0))
    services.campaign_launch(campaign=campaign, now=now)
    given = [rule_points(commit(a, outlet, SATURDAY).result, "weekend-x2") for a in sleepers]
    assert sum(given) == campaign_awarded(campaign) <= D(120)
    assert given[:2] == [D(50), D(50)]
    assert given[-1] == 0  # spent: the rule no longer applies
    assert services.campaign_figures(campaign).budget_left == D(120) - sum(given)
    assert EarnRule.objects.get(code="weekend-x2").budget_used == sum(given)
    assert_consistent(SATURDAY, *sleepers)


def test_two_rules_of_one_campaign_share_its_budget_within_one_check(program, outlet, now):
    sleepers = sleeping_accounts(program, now, 3)
    campaign = weekend_campaign(program, now, budget=D(120), control=D(0))
    bonus = EarnRuleFactory(
        program=program, code="weekend-bonus", kind="threshold", min_amount=D(500), points=D(100)
    )
    CampaignRule.objects.create(campaign=campaign, rule=bonus)
    services.campaign_launch(campaign=campaign, now=now)
    result = commit(sleepers[0], outlet, SATURDAY).result
    both = rule_points(result, "weekend-x2") + rule_points(result, "weekend-bonus")
    assert 0 < both <= D(120)
    for account in sleepers[1:]:
        commit(account, outlet, SATURDAY)
    assert campaign_awarded(campaign) <= D(120)


def test_cancelled_check_gives_the_budget_back(program, outlet, now):
    from loyalty.ledger.services import check_cancel

    sleepers = sleeping_accounts(program, now, 2)
    campaign = weekend_campaign(program, now, budget=D(60), control=D(0))
    services.campaign_launch(campaign=campaign, now=now)
    first = commit(sleepers[0], outlet, SATURDAY)
    assert services.campaign_figures(campaign).budget_left == D(10)
    check_cancel(check=first.check, source="pos-test", idempotency_key="undo", now=SATURDAY)
    assert services.campaign_figures(campaign).budget_left == D(60)
    assert rule_points(commit(sleepers[1], outlet, SUNDAY).result, "weekend-x2") == D(50)


# --- segments in ordinary rules -------------------------------------------------------------------


def test_a_rule_limited_to_a_segment_applies_to_its_members_only(program, outlet, now):
    vip = SegmentFactory(
        program=program,
        code="big-spenders",
        conditions={"all": [{"field": "monetary", "op": "gte", "value": "10000"}]},
    )
    EarnRuleFactory(
        program=program,
        code="vip-bonus",
        kind="fixed_per_item",
        points=D(30),
        segments=["big-spenders"],
    )
    big = AccountFactory(program=program, lifetime_spend=D(20000))
    small = AccountFactory(program=program, lifetime_spend=D(100))
    # Before the refresh nobody is a member yet; membership is the nightly table's.
    assert rule_points(calculate(big, outlet, now).result, "vip-bonus") == 0
    segment_refresh(vip, program=program, now=now)
    assert rule_points(commit(big, outlet, now).result, "vip-bonus") == D(30)
    assert rule_points(commit(small, outlet, now).result, "vip-bonus") == 0


# --- personal offers at the till ------------------------------------------------------------------


@pytest.fixture
def coffee_offer(program):
    rule = EarnRuleFactory(program=program, code="coffee-x3", kind="multiplier", factor=D(3))
    offer = OfferFactory(program=program, code="coffee-x3", requires_activation=True)
    OfferRule.objects.create(offer=offer, rule=rule)
    return offer


def test_offer_applies_at_the_till_only_after_activation(program, outlet, coffee_offer, now):
    chosen = AccountFactory(program=program)
    other = AccountFactory(program=program)
    coffee_offer.customers.add(chosen.customer, other.customer)
    assert rule_points(calculate(chosen, outlet, now).result, "coffee-x3") == 0
    assert rule_points(commit(chosen, outlet, now).result, "coffee-x3") == 0
    services.offer_activate(customer=chosen.customer, offer=coffee_offer, now=now)
    assert rule_points(calculate(chosen, outlet, now).result, "coffee-x3") == D(100)
    result = commit(chosen, outlet, now).result
    assert rule_points(result, "coffee-x3") == D(100)
    assert result.earned_points == D(150)
    # Targeted but not activated: nothing.
    assert rule_points(commit(other, outlet, now).result, "coffee-x3") == 0


def test_offer_outside_its_audience_or_window_never_applies(program, outlet, coffee_offer, now):
    coffee_offer.requires_activation = False
    coffee_offer.valid_until = now + timedelta(days=7)
    coffee_offer.save()
    chosen = AccountFactory(program=program)
    outsider = AccountFactory(program=program)
    coffee_offer.customers.add(chosen.customer)
    assert rule_points(commit(chosen, outlet, now).result, "coffee-x3") == D(100)
    assert rule_points(commit(outsider, outlet, now).result, "coffee-x3") == 0
    later = now + timedelta(days=8)
    assert rule_points(commit(chosen, outlet, later).result, "coffee-x3") == 0


def test_offer_for_a_segment(program, outlet, now):
    segment = SegmentFactory(
        program=program,
        code="coffee-lovers",
        conditions={"all": [{"field": "frequency", "op": "gte", "value": 5}]},
    )
    rule = EarnRuleFactory(program=program, code="latte-bonus", kind="fixed_per_item", points=D(7))
    offer = OfferFactory(
        program=program, code="latte-bonus", segment=segment, requires_activation=False
    )
    OfferRule.objects.create(offer=offer, rule=rule)
    fan = AccountFactory(program=program, lifetime_visits=9)
    newbie = AccountFactory(program=program, lifetime_visits=1)
    segment_refresh(segment, program=program, now=now)
    assert rule_points(commit(fan, outlet, now, lines=[line("200.00")]).result, "latte-bonus") == 7
    assert rule_points(commit(newbie, outlet, now).result, "latte-bonus") == 0
