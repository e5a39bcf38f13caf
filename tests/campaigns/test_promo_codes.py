"""Promo codes: set up in the campaign admin, counted on commit, never over their total limit
when checks of different customers race for the last uses (PostgreSQL, real threads)."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, CampaignRule, CampaignStatus, PromoCodeUse
from core import errors
from loyalty.ledger.models import Check, RuleAward
from loyalty.ledger.services import account_open, check_commit, ledger_reconcile
from loyalty.rules.engine import LineInput
from tests.factories import (
    CampaignFactory,
    CustomerFactory,
    EarnRuleFactory,
    OutletFactory,
    ProgramFactory,
    TierFactory,
)


def latte() -> LineInput:
    return LineInput(
        sku="LATTE",
        category="coffee",
        name="Latte",
        quantity=Decimal(1),
        price=Decimal("200.00"),
        amount=Decimal("200.00"),
    )


@pytest.fixture
def shop(db):
    program = ProgramFactory(code="coffee")
    TierFactory(program=program, code="base", name="Base", rank=0, earn_percent=Decimal(5))
    outlet = OutletFactory(program=program, code="msk-1")
    campaign = CampaignFactory(
        program=program,
        code="summer",
        status=CampaignStatus.RUNNING,
        starts_at=timezone.now() - timedelta(days=1),
        promo_code="SUMMER",
        promo_limit_total=3,
    )
    rule = EarnRuleFactory(
        program=program, code="summer-bonus", kind="fixed_per_item", points=Decimal(50)
    )
    CampaignRule.objects.create(campaign=campaign, rule=rule, requires_code=True)
    return program, outlet, campaign


def test_the_campaign_form_keeps_the_promo_code_upper_case(admin_client, shop):
    program, _outlet, _campaign = shop
    now = timezone.localtime()
    response = admin_client.post(
        reverse("admin:campaigns_campaign_add"),
        {
            "program": program.pk,
            "code": "autumn",
            "name": "Autumn",
            "description": "",
            "starts_at_0": now.strftime("%Y-%m-%d"),
            "starts_at_1": now.strftime("%H:%M:%S"),
            "control_percent": "0",
            "promo_code": "  autumn25 ",
            "promo_limit_total": "100",
            "promo_limit_per_customer": "1",
            "links-TOTAL_FORMS": "0",
            "links-INITIAL_FORMS": "0",
            "links-MIN_NUM_FORMS": "0",
            "links-MAX_NUM_FORMS": "1000",
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    saved = Campaign.objects.get(code="autumn")
    assert (saved.promo_code, saved.promo_limit_total) == ("AUTUMN25", 100)


def test_racing_checks_never_use_a_promo_code_beyond_its_total(on_postgres, transactional_db, shop):
    program, outlet, campaign = shop
    customers = []
    for i in range(6):
        customer = CustomerFactory(phone=f"+7999111{i:04d}")
        account_open(program=program, customer=customer, now=timezone.now(), outlet=outlet)
        customers.append(customer)
    barrier = threading.Barrier(len(customers))
    outcomes = [None] * len(customers)

    def worker(i, customer):
        try:
            barrier.wait()
            check_commit(
                program=program,
                outlet=outlet,
                customer=customer,
                lines=[latte()],
                redeem=None,
                receipt_number=f"P-{i}",
                source="test",
                idempotency_key=f"p-{i}",
                now=timezone.now(),
                coupons=["summer"],
            )
            outcomes[i] = "ok"
        except errors.CouponInvalid:
            outcomes[i] = "refused"
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(customers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok"] * 3 + ["refused"] * 3, outcomes
    campaign.refresh_from_db()
    assert campaign.promo_uses == 3
    assert PromoCodeUse.objects.filter(campaign=campaign).count() == 3
    assert Check.objects.count() == 3
    assert RuleAward.objects.filter(rule_code="summer-bonus").count() == 3
    assert ledger_reconcile(now=timezone.now()) == []
