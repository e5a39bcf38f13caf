"""Campaign lifecycle: states, the beat, what its rules look like to the engine."""

from datetime import timedelta
from decimal import Decimal

import pytest

from campaigns import services
from campaigns.models import (
    Campaign,
    CampaignMember,
    CampaignRule,
    CampaignStatus,
    Offer,
    OfferRule,
)
from campaigns.providers import rule_overrides
from core import errors
from loyalty.rules.models import EarnRule
from notifications.models import Message
from tests.factories import (
    AccountFactory,
    CampaignFactory,
    CustomerFactory,
    EarnRuleFactory,
    ProgramFactory,
    SegmentFactory,
)

pytestmark = pytest.mark.django_db

D = Decimal


def hours(n):
    return timedelta(hours=n)


@pytest.fixture
def program():
    return ProgramFactory(code="coffee")


@pytest.fixture
def campaign(program, now):
    campaign = CampaignFactory(
        program=program,
        code="weekend-x2",
        starts_at=now + hours(24),
        ends_at=now + hours(24 * 8),
        budget_points=D(50000),
    )
    rule = EarnRuleFactory(program=program, code="x2", kind="multiplier", factor=D(2))
    CampaignRule.objects.create(campaign=campaign, rule=rule)
    return campaign


def state(campaign):
    return Campaign.objects.get(pk=campaign.pk).status


def overrides(program):
    rules = list(EarnRule.objects.filter(program=program))
    return {
        EarnRule.objects.get(pk=pk).code: value
        for pk, value in rule_overrides(program, rules).items()
    }


def test_full_lifecycle(campaign, now):
    assert overrides(campaign.program) == {"x2": None}  # a draft's rules are off
    services.campaign_schedule(campaign=campaign, now=now)
    assert state(campaign) == CampaignStatus.SCHEDULED
    # Scheduling gave the rule the campaign's budget, so the ledger locks and counts it.
    assert EarnRule.objects.get(code="x2").budget_points == D(50000)
    assert overrides(campaign.program) == {"x2": None}

    tick = services.campaigns_tick(now=now + hours(1))
    assert tick.launched == [] and state(campaign) == CampaignStatus.SCHEDULED
    tick = services.campaigns_tick(now=now + hours(24))
    assert tick.launched == ["weekend-x2"] and state(campaign) == CampaignStatus.RUNNING
    running = overrides(campaign.program)["x2"]
    assert running["campaign"] == "weekend-x2"
    assert running["segments"] == ("campaign:weekend-x2",)
    assert (running["valid_from"], running["valid_until"]) == (
        campaign.starts_at,
        campaign.ends_at,
    )
    assert running["budget_left"] == D(50000)

    services.campaign_pause(campaign=campaign, now=now + hours(30))
    assert state(campaign) == CampaignStatus.PAUSED
    assert overrides(campaign.program) == {"x2": None}
    services.campaign_resume(campaign=campaign, now=now + hours(31))
    assert state(campaign) == CampaignStatus.RUNNING

    tick = services.campaigns_tick(now=now + hours(24 * 8))
    assert tick.finished == ["weekend-x2"] and state(campaign) == CampaignStatus.FINISHED
    assert overrides(campaign.program) == {"x2": None}
    with pytest.raises(services.CampaignStateError):
        services.campaign_resume(campaign=campaign, now=now + hours(24 * 9))


def test_transitions_out_of_order_are_refused(campaign, now):
    with pytest.raises(services.CampaignStateError):
        services.campaign_pause(campaign=campaign, now=now)
    with pytest.raises(services.CampaignStateError):
        services.campaign_finish(campaign=campaign, now=now)
    services.campaign_launch(campaign=campaign, now=now)
    with pytest.raises(services.CampaignStateError):
        services.campaign_launch(campaign=campaign, now=now)
    with pytest.raises(services.CampaignStateError):
        services.campaign_schedule(campaign=campaign, now=now)


def test_launch_now_moves_the_start(campaign, now):
    services.campaign_launch(campaign=campaign, now=now)
    campaign.refresh_from_db()
    assert (campaign.status, campaign.starts_at, campaign.launched_at) == (
        CampaignStatus.RUNNING,
        now,
        now,
    )


def test_a_campaign_needs_rules_of_its_programme(program, now):
    empty = CampaignFactory(program=program)
    with pytest.raises(errors.ValidationFailed) as exc:
        services.campaign_schedule(campaign=empty, now=now)
    assert "rules" in exc.value.fields
    foreign = CampaignFactory(program=program, code="foreign")
    CampaignRule.objects.create(campaign=foreign, rule=EarnRuleFactory(program=ProgramFactory()))
    with pytest.raises(errors.ValidationFailed) as exc:
        services.campaign_launch(campaign=foreign, now=now)
    assert "another programme" in str(exc.value.fields["rules"])


def test_a_rule_shared_with_an_offer_is_refused(campaign, now):
    offer = Offer.objects.create(program=campaign.program, code="o", title="O")
    OfferRule.objects.create(offer=offer, rule=EarnRule.objects.get(code="x2"))
    with pytest.raises(errors.ValidationFailed):
        services.campaign_schedule(campaign=campaign, now=now)


def test_an_ended_window_cannot_launch_and_is_finished_by_the_beat(campaign, now):
    services.campaign_schedule(campaign=campaign, now=now)
    late = now + hours(24 * 10)
    with pytest.raises(errors.ValidationFailed):
        services.campaign_launch(campaign=campaign, now=late)
    tick = services.campaigns_tick(now=late)
    assert tick.launched == [] and tick.finished == ["weekend-x2"]


def test_rule_with_own_segments_needs_both(campaign, now):
    rule = EarnRule.objects.get(code="x2")
    rule.segments = ["vip", "regular"]
    rule.save()
    services.campaign_launch(campaign=campaign, now=now)
    assert overrides(campaign.program)["x2"]["segments"] == (
        "campaign:weekend-x2&vip",
        "campaign:weekend-x2&regular",
    )


def test_rule_window_is_intersected_with_the_campaign(campaign, now):
    rule = EarnRule.objects.get(code="x2")
    rule.valid_until = now + hours(48)
    rule.save()
    services.campaign_launch(campaign=campaign, now=now)
    got = overrides(campaign.program)["x2"]
    assert (got["valid_from"], got["valid_until"]) == (now, now + hours(48))


def test_shared_budget_is_what_is_left_of_the_campaign(campaign, now):
    second = EarnRuleFactory(program=campaign.program, code="bonus", kind="threshold")
    CampaignRule.objects.create(campaign=campaign, rule=second)
    services.campaign_launch(campaign=campaign, now=now)
    EarnRule.objects.filter(code="x2").update(budget_used=D(30000))
    EarnRule.objects.filter(code="bonus").update(budget_used=D(15000))
    got = overrides(campaign.program)
    assert got["x2"]["budget_left"] == got["bonus"]["budget_left"] == D(5000)
    figures = services.campaign_figures(campaign)
    assert figures.budget_left == D(5000)
    # A rule the ledger does not count (budget removed by hand) stays off.
    EarnRule.objects.filter(code="bonus").update(budget_points=None)
    assert overrides(campaign.program)["bonus"] is None


def test_launch_message_goes_to_the_audience_once(program, now):
    segment = SegmentFactory(program=program, conditions={})
    members = [
        AccountFactory(program=program, customer=CustomerFactory(email=f"c{i}@example.com"))
        for i in range(4)
    ]
    campaign = CampaignFactory(
        program=program,
        segment=segment,
        starts_at=now,
        message_title="Выходные ×2",
        message_text="Двойные баллы на выходных",
    )
    CampaignRule.objects.create(campaign=campaign, rule=EarnRuleFactory(program=program))
    services.campaign_launch(campaign=campaign, now=now)
    first = services.campaigns_tick(now=now + hours(1))
    again = services.campaigns_tick(now=now + hours(2))
    assert first.messages > 0 and again.messages == 0
    assert (
        Message.objects.filter(event="campaign", customer__in=[m.customer for m in members])
        .values("customer")
        .distinct()
        .count()
        == 4
    )
    assert Campaign.objects.get(pk=campaign.pk).messages_sent_at == now + hours(1)


def test_tick_job_is_quiet_when_idle(now):
    from campaigns import jobs
    from core.models import JobRun

    jobs.tick_job(now=now)
    assert not JobRun.objects.filter(job="campaigns.tick").exists()


def test_launch_message_skips_the_control_group(program, now):
    segment = SegmentFactory(program=program, conditions={})
    members = [
        AccountFactory(program=program, customer=CustomerFactory(email=f"m{i}@example.com"))
        for i in range(10)
    ]
    campaign = CampaignFactory(
        program=program,
        segment=segment,
        starts_at=now,
        control_percent=D(30),
        message_text="Двойные баллы на выходных",
    )
    CampaignRule.objects.create(campaign=campaign, rule=EarnRuleFactory(program=program))
    services.campaign_launch(campaign=campaign, now=now)
    services.campaigns_tick(now=now + hours(1))
    control = set(
        CampaignMember.objects.filter(campaign=campaign, is_control=True).values_list(
            "account__customer_id", flat=True
        )
    )
    told = set(
        Message.objects.filter(event="campaign").values_list("customer_id", flat=True).distinct()
    )
    assert len(control) == 3
    assert told == {m.customer_id for m in members} - control
