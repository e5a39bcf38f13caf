"""Plain-data template contexts built from ledger objects (no model instance reaches a template)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from core.money import quantize_points
from loyalty.ledger.selectors import account_balance


def points(program, value: Decimal) -> Decimal:
    """Points as the programme shows them: 45, not 45.00, in a whole-points programme."""
    return quantize_points(value, precision=program.precision, rounding=None)


def tier_data(tier) -> dict:
    if tier is None:
        return {}
    return {
        "name": tier.name,
        "code": tier.code,
        "earn_percent": Decimal(tier.earn_percent).normalize(),
        "perks": tier.perks,
    }


def balance_data(account, *, now: datetime) -> dict:
    balance = account_balance(account, now=now)
    return {
        "balance": points(account.program, balance.available),
        "pending_balance": points(account.program, balance.pending),
    }
