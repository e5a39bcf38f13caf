"""A campaign budget under concurrent checks: real threads and row locks on PostgreSQL."""

import threading
from datetime import timedelta

import pytest
from django.db import connections

from campaigns import services
from campaigns.models import Campaign, CampaignRule
from loyalty.rules.models import EarnRule
from tests.campaigns.till import SATURDAY, D, campaign_awarded, commit
from tests.factories import (
    AccountFactory,
    CampaignFactory,
    EarnRuleFactory,
    OutletFactory,
    ProgramFactory,
    RedemptionPolicyFactory,
    SegmentFactory,
    TierFactory,
)
from tests.ledger.helpers import assert_consistent

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8


def _setup(now, *, budget, extra_rule=False):
    program = ProgramFactory(code="coffee", timezone="Europe/Moscow")
    TierFactory(program=program, code="base", rank=0, earn_percent=D(5))
    RedemptionPolicyFactory(program=program)
    outlet = OutletFactory(program=program, code="msk-1")
    accounts = [
        AccountFactory(program=program, last_purchase_at=now - timedelta(days=120))
        for _ in range(THREADS)
    ]
    campaign = CampaignFactory(
        program=program,
        code="weekend-x2",
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=30),
        # Transaction tests flush the database, built-in segments included: a programme's own.
        segment=SegmentFactory(
            program=program,
            code="sleepers",
            conditions={"all": [{"field": "recency_days", "op": "gte", "value": 90}]},
        ),
        budget_points=budget,
    )
    rule = EarnRuleFactory(
        program=program, code="weekend-x2", kind="multiplier", factor=D(2), days_of_week=[6, 7]
    )
    CampaignRule.objects.create(campaign=campaign, rule=rule)
    if extra_rule:
        bonus = EarnRuleFactory(
            program=program, code="weekend-bonus", kind="threshold", min_amount=D(500), points=D(40)
        )
        CampaignRule.objects.create(campaign=campaign, rule=bonus)
    services.campaign_launch(campaign=campaign, now=now)
    return campaign, outlet, accounts


def _commit_all(accounts, outlet):
    """Every account commits a weekend check at the same moment, each in its own thread."""
    barrier = threading.Barrier(len(accounts))
    results = [None] * len(accounts)

    def run(i):
        try:
            barrier.wait()
            results[i] = commit(accounts[i], outlet, SATURDAY, key=f"conc-{i}")
        except Exception as exc:  # the test inspects what each thread got
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(accounts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == [], errors
    return results


def test_concurrent_checks_never_overspend_the_budget(on_postgres, now):
    # 8 checks of 50 extra points each against a budget of 230: exactly 4 fit whole.
    campaign, outlet, accounts = _setup(now, budget=D(230))
    results = _commit_all(accounts, outlet)
    awarded = campaign_awarded(campaign)
    assert D(180) < awarded <= D(230)
    assert EarnRule.objects.get(code="weekend-x2").budget_used == awarded
    assert services.campaign_figures(Campaign.objects.get(pk=campaign.pk)).budget_left == (
        D(230) - awarded
    )
    # Every check went through; only the campaign's share ran out.
    assert all(r.result.earned_points >= D(50) for r in results)
    assert_consistent(SATURDAY, *accounts)


def test_concurrent_checks_with_two_campaign_rules_never_overspend(on_postgres, now):
    # Each check could take 50 (×2) + 40 (threshold) = 90 from a budget of 250.
    campaign, outlet, accounts = _setup(now, budget=D(250), extra_rule=True)
    _commit_all(accounts, outlet)
    awarded = campaign_awarded(campaign)
    assert 0 < awarded <= D(250)
    used = sum(
        EarnRule.objects.filter(campaign_link__campaign=campaign).values_list(
            "budget_used", flat=True
        ),
        D(0),
    )
    assert used == awarded
    assert_consistent(SATURDAY, *accounts)
