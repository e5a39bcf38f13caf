"""Tiers: the qualification metric, the upgrade after a check, the nightly re-evaluation.

One definition of the metric (``qualification_values``; ``account_qualification_value`` is
it for one account) and one of the target tier (``tier_for_value``), used by both the upgrade
on commit and the nightly job, so they can never disagree about where an account belongs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Sum

from loyalty.ledger import signals
from loyalty.ledger.models import Account, Check, CheckStatus, TierChange
from loyalty.ledger.services.accounts import account_lock
from loyalty.rules.models import Program, Tier, TierMetric

ZERO = Decimal("0")

_LIFETIME_FIELDS = {
    TierMetric.SPEND: "lifetime_spend",
    TierMetric.VISITS: "lifetime_visits",
    TierMetric.POINTS: "lifetime_earned",
}
_ROW_FIELDS = (
    "id",
    "tier_id",
    "tier_since",
    "lifetime_spend",
    "lifetime_visits",
    "lifetime_earned",
)


@dataclass(frozen=True)
class TierReevaluation:
    accounts: int
    upgraded: int
    downgraded: int


def qualification_values(
    program: Program, accounts: Iterable[dict], *, now: datetime
) -> dict[int, Decimal]:
    """The programme's tier metric for many accounts at once (at most one query).

    Lifetime counters, or over a rolling ``tier_period_days`` window the checks not cancelled:
    spend net of refunds, visits, or points earned. ``accounts`` are dicts with ``id`` and the
    lifetime counters.
    """
    accounts = list(accounts)
    metric, days = program.tier_metric, program.tier_period_days
    if days is None:
        field = _LIFETIME_FIELDS[metric]
        return {a["id"]: Decimal(a[field]) for a in accounts}
    since = now - timedelta(days=days)
    rows = (
        Check.objects.filter(account_id__in=[a["id"] for a in accounts], occurred_at__gt=since)
        .exclude(status=CheckStatus.CANCELLED)
        .values("account_id")
        .annotate(
            visits=Count("id"),
            paid=Sum("payable"),
            back=Sum("refunded_amount"),
            earned=Sum("earned_points"),
        )
        .order_by()
    )
    values = {a["id"]: ZERO for a in accounts}
    for row in rows:
        if metric == TierMetric.VISITS:
            values[row["account_id"]] = Decimal(row["visits"])
        elif metric == TierMetric.SPEND:
            values[row["account_id"]] = (row["paid"] or ZERO) - (row["back"] or ZERO)
        else:
            values[row["account_id"]] = row["earned"] or ZERO
    return values


def _row(account: Account) -> dict:
    return {name: getattr(account, name) for name in _ROW_FIELDS}


def account_qualification_value(account: Account, *, now: datetime) -> Decimal:
    """The programme's tier metric for this account: lifetime, or over the rolling period."""
    return qualification_values(account.program, [_row(account)], now=now)[account.pk]


def tier_for_value(tiers: Iterable[Tier], value: Decimal) -> Tier | None:
    """The highest-ranked tier whose threshold the value reaches."""
    return max(
        (t for t in tiers if t.threshold <= value),
        key=lambda t: (t.rank, t.threshold),
        default=None,
    )


def _tier_set(account: Account, tier: Tier, *, upgrade: bool, now: datetime) -> None:
    """Write the new tier (since ``now``), its history row, and announce it; the caller holds
    the account lock. The only place an account's tier changes."""
    old_tier = account.tier
    Account.objects.filter(pk=account.pk).update(tier=tier, tier_since=now)
    TierChange.objects.create(
        account=account,
        program_id=account.program_id,
        old_tier=old_tier,
        new_tier=tier,
        upgrade=upgrade,
        changed_at=now,
    )
    account.tier, account.tier_since = tier, now
    signals.tier_changed.send(
        sender=Account, account=account, old_tier=old_tier, new_tier=tier, upgrade=upgrade, now=now
    )


def account_tier_upgrade(
    account: Account, *, now: datetime, tiers: Sequence[Tier] | None = None
) -> Tier | None:
    """Move the account up to the highest tier it qualifies for; never down (that is nightly).

    The caller holds the account lock. ``tiers``, if given, are the programme's tiers already
    read. Returns the new tier, or None if it did not change.
    """
    value = account_qualification_value(account, now=now)
    if tiers is None:
        tiers = Tier.objects.filter(program_id=account.program_id, threshold__lte=value)
    best = tier_for_value(tiers, value)
    current = account.tier
    if best is None or (current is not None and best.rank <= current.rank):
        return None
    _tier_set(account, best, upgrade=True, now=now)
    return best


def _decide(program: Program, tiers: list[Tier], row: dict, value: Decimal, now: datetime):
    """(new tier, upgrade?) or None. Downgrades wait for the grace period after tier_since."""
    target = tier_for_value(tiers, value)
    if target is None or target.pk == row["tier_id"]:
        return None
    rank = {t.pk: t.rank for t in tiers}
    current = rank.get(row["tier_id"])
    if current is None or target.rank > current:
        return target, True
    grace_ends = (row["tier_since"] or now) + timedelta(days=program.tier_grace_days)
    if row["tier_since"] is not None and now < grace_ends:
        return None
    return target, False


def tiers_reevaluate(
    *, now: datetime, program_id: int | None = None, chunk_size: int = 2000
) -> TierReevaluation:
    """Move every account to the tier its qualification value earns, honouring the grace rule.

    Accounts are read in chunks without locks; only an account whose tier must change is
    locked, re-read and re-decided under its lock, updated (tier, tier_since = now) and
    announced with ``tier_changed`` inside that transaction, so its notification is written
    atomically with it. Upgrades normally happen on commit; this catches threshold changes.
    Idempotent: a second run at the same ``now`` finds every account where it belongs.
    """
    programs = Program.objects.filter(is_active=True).order_by("pk")
    if program_id is not None:
        programs = programs.filter(pk=program_id)
    checked = upgraded = downgraded = 0
    for program in programs:
        tiers = list(program.tiers.order_by("rank", "threshold", "pk"))
        if not tiers:
            continue
        last = 0
        while True:
            rows = list(
                Account.objects.filter(program=program, pk__gt=last)
                .order_by("pk")
                .values(*_ROW_FIELDS)[:chunk_size]
            )
            if not rows:
                break
            last = rows[-1]["id"]
            checked += len(rows)
            values = qualification_values(program, rows, now=now)
            for row in rows:
                if _decide(program, tiers, row, values[row["id"]], now) is None:
                    continue
                changed = _apply_tier(program, tiers, row["id"], now=now)
                if changed is True:
                    upgraded += 1
                elif changed is False:
                    downgraded += 1
    return TierReevaluation(accounts=checked, upgraded=upgraded, downgraded=downgraded)


@transaction.atomic
def _apply_tier(program: Program, tiers: list[Tier], account_id: int, *, now: datetime):
    """Under the account lock: decide again and change the tier. True/False: up/down."""
    account = account_lock(account_id, related=("program", "tier", "customer"))
    row = _row(account)
    value = qualification_values(program, [row], now=now)[account.pk]
    decision = _decide(program, tiers, row, value, now)
    if decision is None:
        return None
    new_tier, upgrade = decision
    _tier_set(account, new_tier, upgrade=upgrade, now=now)
    return upgrade
