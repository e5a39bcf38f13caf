"""The ledger's scheduled jobs: expiry, tier re-evaluation, nightly reconcile.

Each ``*_job`` function is what the Celery task calls: it records its run through
``core.runs.job_run`` for its period (a second run for the same period does nothing) and
delegates to a service that is itself idempotent. Everything takes ``now``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Sum

from core.alerts import alert_raise
from core.runs import RunHandle, job_run
from loyalty.ledger import signals
from loyalty.ledger.expiry import points_expire
from loyalty.ledger.models import Account, Check, CheckStatus, Lot
from loyalty.rules.models import Program, Tier, TierMetric

ZERO = Decimal("0")


def hour_key(now: datetime) -> str:
    return now.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%HZ")


def day_key(now: datetime) -> str:
    """The calendar day of ``now`` in the site's zone (the one beat's crontabs use)."""
    return now.astimezone(ZoneInfo(settings.TIME_ZONE)).date().isoformat()


# --- expiry ---------------------------------------------------------------------------------------


def expiry_job(*, now: datetime) -> RunHandle:
    """Hourly: expire what has expired; one run per hour."""
    with job_run("ledger.points_expire", hour_key(now), now=now) as run:
        if not run.skipped:
            result = points_expire(now=now)
            run.rows = result.lots
            run.details = {
                "accounts": result.accounts,
                "lots": result.lots,
                "points": result.points,
            }
    return run


# --- tier re-evaluation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TierReevaluation:
    accounts: int
    upgraded: int
    downgraded: int


def qualification_values(
    program: Program, accounts: Iterable[dict], *, now: datetime
) -> dict[int, Decimal]:
    """The programme's tier metric for many accounts at once (one query per chunk).

    The same definition as ``checks.account_qualification_value`` for one account: lifetime
    counters, or over a rolling ``tier_period_days`` window the checks not cancelled, spend net
    of refunds, visits, or points earned. ``accounts`` are dicts with ``id`` and the lifetime
    counters.
    """
    accounts = list(accounts)
    metric, days = program.tier_metric, program.tier_period_days
    if days is None:
        field = {
            TierMetric.SPEND: "lifetime_spend",
            TierMetric.VISITS: "lifetime_visits",
            TierMetric.POINTS: "lifetime_earned",
        }[metric]
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


def _target_tier(tiers: list[Tier], value: Decimal) -> Tier | None:
    """The highest-ranked tier whose threshold the value reaches (as on commit)."""
    qualified = [t for t in tiers if t.threshold <= value]
    return max(qualified, key=lambda t: (t.rank, t.threshold)) if qualified else None


def _decide(program: Program, tiers: list[Tier], row: dict, value: Decimal, now: datetime):
    """(new tier, upgrade?) or None. Downgrades wait for the grace period after tier_since."""
    target = _target_tier(tiers, value)
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


_ROW_FIELDS = (
    "id",
    "tier_id",
    "tier_since",
    "lifetime_spend",
    "lifetime_visits",
    "lifetime_earned",
)


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
    account = (
        # Lock the account row only: the tier is a nullable join and PostgreSQL refuses to
        # lock the nullable side of an outer join.
        Account.objects.select_for_update(of=("self",))
        .select_related("program", "tier", "customer")
        .get(pk=account_id)
    )
    row = {name: getattr(account, name) for name in _ROW_FIELDS}
    value = qualification_values(program, [row], now=now)[account.pk]
    decision = _decide(program, tiers, row, value, now)
    if decision is None:
        return None
    new_tier, upgrade = decision
    old_tier = account.tier
    Account.objects.filter(pk=account.pk).update(tier=new_tier, tier_since=now)
    account.tier, account.tier_since = new_tier, now
    signals.tier_changed.send(
        sender=Account,
        account=account,
        old_tier=old_tier,
        new_tier=new_tier,
        upgrade=upgrade,
        now=now,
    )
    return upgrade


def tiers_job(*, now: datetime) -> RunHandle:
    """Nightly: tier re-evaluation; one run per day."""
    with job_run("ledger.tiers_reevaluate", day_key(now), now=now) as run:
        if not run.skipped:
            result = tiers_reevaluate(now=now)
            run.rows = result.upgraded + result.downgraded
            run.details = {
                "accounts": result.accounts,
                "upgraded": result.upgraded,
                "downgraded": result.downgraded,
            }
    return run


# --- reconcile ------------------------------------------------------------------------------------


def reconcile_job(*, now: datetime) -> RunHandle:
    """Nightly: check every ledger invariant; any discrepancy is an alert to staff.

    The run itself succeeds (it did its work); what it found goes to an Alert row in the
    admin and to ADMINS by mail, and into the run's details.
    """
    from loyalty.ledger.services import ledger_reconcile

    with job_run("ledger.reconcile", day_key(now), now=now) as run:
        if not run.skipped:
            found = ledger_reconcile(now=now)
            run.rows = len(found)
            run.details = {"discrepancies": len(found)}
            if found:
                alert_raise(
                    source="ledger.reconcile",
                    title=f"Ledger reconcile found {len(found)} discrepancies",
                    lines=[str(d) for d in found],
                    now=now,
                    data={"accounts": sorted({d.account_id for d in found})[:1000]},
                )
    return run


# --- reads for batch jobs of other apps (reminders) ---------------------------------------------


@dataclass(frozen=True)
class ExpiringPoints:
    account_id: int
    customer_id: int
    items: tuple[tuple[datetime, Decimal], ...]  # (expires_at, points), soonest first

    @property
    def total(self) -> Decimal:
        return sum((points for _, points in self.items), ZERO)


def expiring_points(
    *,
    program_id: int,
    windows: Iterable[tuple[datetime, datetime]],
    after_account_id: int = 0,
    limit: int = 1000,
) -> list[ExpiringPoints]:
    """Accounts of a programme with points expiring inside any of ``windows`` [start, end).

    Per account the lots (remaining > 0) grouped by expiry instant; keyset-paged by account id
    (pass the last ``account_id`` as ``after_account_id``).
    """
    in_window = Q()
    for start, end in windows:
        in_window |= Q(expires_at__gte=start, expires_at__lt=end)
    lots = Lot.objects.filter(
        in_window,
        account__program_id=program_id,
        remaining__gt=0,
        account_id__gt=after_account_id,
    )
    account_ids = list(
        lots.order_by("account_id").values_list("account_id", flat=True).distinct()[:limit]
    )
    if not account_ids:
        return []
    per_account: dict[int, dict[datetime, Decimal]] = defaultdict(dict)
    for account_id, expires_at, total in (
        lots.filter(account_id__in=account_ids)
        .values("account_id", "expires_at")
        .annotate(total=Sum("remaining"))
        .order_by("account_id", "expires_at")
        .values_list("account_id", "expires_at", "total")
    ):
        per_account[account_id][expires_at] = total
    customers = dict(
        Account.objects.filter(pk__in=account_ids).values_list("pk", "customer_id").order_by()
    )
    return [
        ExpiringPoints(
            account_id=account_id,
            customer_id=customers[account_id],
            items=tuple(sorted(per_account[account_id].items())),
        )
        for account_id in account_ids
    ]
