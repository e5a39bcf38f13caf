"""What the customer card shows: accounts with balances and tiers, recent checks, the ledger.

Every read is bounded: a fixed number of queries per account (a customer has one account per
programme) and none per check or ledger row; the ledger is paged.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.paginator import Page, Paginator
from django.db.models import Min, Sum
from django.utils.translation import gettext as _

from customers.models import Customer
from loyalty.ledger.models import Account, Check, Lot, Operation
from loyalty.ledger.selectors import account_balance
from loyalty.ledger.services.tiers import account_qualification_value
from loyalty.rules.models import Tier

ZERO = Decimal("0")
EXPIRING_DAYS = 30
RECENT_CHECKS = 10
LEDGER_PAGE = 25


@dataclass
class AccountCard:
    account: Account
    available: Decimal
    pending: Decimal
    expiring: Decimal
    expiring_first: datetime | None
    value: Decimal  # the programme's tier metric now (spend, visits or points)
    next_tier: Tier | None
    to_next: Decimal | None
    progress: int  # percent of the way from the current tier's threshold to the next one
    tiers: list[Tier] = field(default_factory=list)


@dataclass
class CheckRow:
    check: Check
    reasons: list[str]


@dataclass
class Card:
    accounts: list[AccountCard]
    checks: list[CheckRow]
    ledger: Page
    ledger_account: Account | None


def reason_text(row: dict) -> str:
    """One stored breakdown row in the reader's language ("5 % of 400.00 = 20")."""
    template, params = row.get("reason_template") or "", row.get("reason_params") or {}
    reason = row.get("reason") or ""
    if template:
        with contextlib.suppress(KeyError, TypeError, ValueError):
            reason = _(template) % params
    return f"{reason} = {row.get('points', '')}" if reason else str(row.get("points", ""))


def _progress(value: Decimal, current: Tier | None, nxt: Tier | None) -> int:
    if nxt is None:
        return 100
    low = current.threshold if current is not None else ZERO
    span = nxt.threshold - low
    if span <= 0:
        return 0
    return max(0, min(100, int((value - low) * 100 / span)))


def customer_card(
    customer: Customer, *, now: datetime, ledger_page: int | str = 1, account_id=None
) -> Card:
    accounts = list(
        Account.objects.filter(customer=customer)
        .select_related("program", "tier", "enrolled_outlet")
        .order_by("program__code", "pk")
    )
    ids = [a.pk for a in accounts]
    tiers_by_program: dict[int, list[Tier]] = defaultdict(list)
    for tier in Tier.objects.filter(program_id__in={a.program_id for a in accounts}).order_by(
        "rank", "threshold", "pk"
    ):
        tiers_by_program[tier.program_id].append(tier)
    expiring = {
        row["account_id"]: row
        for row in Lot.objects.filter(
            account_id__in=ids,
            remaining__gt=0,
            expires_at__gt=now,
            expires_at__lte=now + timedelta(days=EXPIRING_DAYS),
        )
        .values("account_id")
        .annotate(total=Sum("remaining"), first=Min("expires_at"))
        .order_by()
    }
    cards = []
    for account in accounts:
        balance = account_balance(account, now=now)
        value = account_qualification_value(account, now=now)
        tiers = tiers_by_program[account.program_id]
        rank = account.tier.rank if account.tier else -1
        higher = [t for t in tiers if t.rank > rank]
        nxt = min(higher, key=lambda t: (t.rank, t.threshold), default=None)
        soon = expiring.get(account.pk) or {}
        cards.append(
            AccountCard(
                account=account,
                available=balance.available,
                pending=balance.pending,
                expiring=soon.get("total") or ZERO,
                expiring_first=soon.get("first"),
                value=value,
                next_tier=nxt,
                to_next=max(nxt.threshold - value, ZERO) if nxt else None,
                progress=_progress(value, account.tier, nxt),
                tiers=tiers,
            )
        )
    checks = [
        CheckRow(check=check, reasons=[reason_text(r) for r in (check.breakdown or [])])
        for check in Check.objects.filter(account_id__in=ids)
        .select_related("outlet", "program")
        .order_by("-occurred_at", "-pk")[:RECENT_CHECKS]
    ]
    ledger_account = next((a for a in accounts if str(a.pk) == str(account_id)), None)
    operations = (
        Operation.objects.filter(account_id__in=[ledger_account.pk] if ledger_account else ids)
        .select_related("program", "created_by")
        .order_by("-occurred_at", "-pk")
    )
    ledger = Paginator(operations, LEDGER_PAGE).get_page(ledger_page)
    return Card(accounts=cards, checks=checks, ledger=ledger, ledger_account=ledger_account)
