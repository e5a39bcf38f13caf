"""Helpers for campaign and offer tests that go through the till (check_calculate/check_commit)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

from django.db.models import Sum

from campaigns.models import Campaign
from loyalty.ledger.models import RuleAward
from loyalty.ledger.services import checks
from loyalty.rules import engine

D = Decimal
# 2026-06-15 (the shared ``now``) is a Monday; these are in the same week, at noon in Moscow.
SATURDAY = datetime(2026, 6, 20, 9, 0, tzinfo=UTC)
SUNDAY = datetime(2026, 6, 21, 9, 0, tzinfo=UTC)
WEDNESDAY = datetime(2026, 6, 17, 9, 0, tzinfo=UTC)

_receipts = itertools.count(1)


def line(amount="1000.00", *, sku="LATTE", category="coffee") -> engine.LineInput:
    return engine.LineInput(
        sku=sku,
        category=category,
        name=sku.title(),
        quantity=D("1"),
        price=D(amount),
        amount=D(amount),
        is_promo=False,
    )


def commit(account, outlet, at, *, amount="1000.00", lines=None, key=None):
    """Commit one check for ``account`` at ``at`` (the till's clock); returns CommittedCheck."""
    n = next(_receipts)
    return checks.check_commit(
        program=account.program,
        outlet=outlet,
        customer=account.customer,
        lines=lines or [line(amount)],
        redeem=None,
        receipt_number=f"T-{n}",
        source="pos-test",
        idempotency_key=key or f"till-{n}",
        now=at,
    )


def calculate(account, outlet, at, *, amount="1000.00", lines=None):
    return checks.check_calculate(
        program=account.program,
        outlet=outlet,
        customer=account.customer,
        lines=lines or [line(amount)],
        redeem=None,
        now=at,
    )


def rule_points(result, code: str) -> Decimal:
    """Points the rule ``code`` gave in an engine result (0 when it did not apply)."""
    return sum((row.points for row in result.breakdown if row.rule == code), D(0))


def campaign_awarded(campaign: Campaign) -> Decimal:
    """Points the campaign's rules gave, as the ledger recorded them."""
    total = RuleAward.objects.filter(
        rule__campaign_link__campaign=campaign, cancelled=False
    ).aggregate(s=Sum("points"))["s"]
    return total or D(0)
