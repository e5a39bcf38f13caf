"""Daily figures computed from the live ledger: the one code path behind every report number.

``ledger_days(program, first, last)`` returns, per programme-local day, exactly what the
nightly job stores in ``reports.models``; readers use it for today and for any day not stored.
``member_rows_sql`` is the same per-member rows as SQL, so distinct counts can run over stored
and live rows together (see ``reports.selectors.kpis``).

Definitions (docs/reports.md): a check counts on the day of its ``occurred_at`` unless it is
cancelled; ledger movements count on the day of their operation's ``occurred_at``; a refund
counts on the day it was made, unless its check was later cancelled (a cancelled check is void
with everything it had); a member joined at the earlier of the account's opening and its first
check of any status.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

from django.db.models import Count, DateField, F, Min, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Cast, Coalesce, Least, TruncDate, TruncMonth

from loyalty.ledger.models import (
    NOT_PURCHASES,
    Account,
    Check,
    CheckLine,
    CheckStatus,
    Entry,
    EntryKind,
    Refund,
    RuleAward,
)
from reports.periods import MONEY, day_start, zone

ZERO = Decimal("0")

# Entry kinds → the REPORTS.md movement they are (sign: + credit, − debit, reported positive).
MOVEMENTS = {
    EntryKind.EARN: "issued",
    EntryKind.REDEEM: "redeemed",
    EntryKind.EXPIRE: "expired",
    EntryKind.CLAWBACK: "clawed_back",
    EntryKind.DEBT: "clawed_back",  # clawback beyond the balance, as debt
    EntryKind.RESTORE: "restored",
    EntryKind.ADJUST: "adjusted",
}
POSITIVE = {"issued", "restored", "adjusted"}
POINT_FIELDS = ("issued", "redeemed", "expired", "clawed_back", "restored", "adjusted", "net")


@dataclass
class ProgramFigures:
    new_members: int = 0
    active_members: int = 0
    issued: Decimal = ZERO
    redeemed: Decimal = ZERO
    expired: Decimal = ZERO
    clawed_back: Decimal = ZERO
    restored: Decimal = ZERO
    adjusted: Decimal = ZERO
    net: Decimal = ZERO


@dataclass
class OutletFigures:
    member_checks: int = 0
    anonymous_checks: int = 0
    member_sales: Decimal = ZERO
    anonymous_sales: Decimal = ZERO
    refunded: Decimal = ZERO


@dataclass
class LedgerDays:
    """Figures of the days ``first``..``last``; days without activity are absent or zero."""

    first: date
    last: date
    program: dict[date, ProgramFigures] = field(default_factory=dict)
    outlets: dict[tuple[date, int], OutletFigures] = field(default_factory=dict)
    campaigns: dict[tuple[date, int], Decimal] = field(default_factory=dict)
    # With a mark: the point figures count only the entries up to that id.
    entry_mark: int | None = None


def _bounds(program, first: date, last: date):
    return day_start(program, first), day_start(program, last + timedelta(days=1))


def _day(expression: str, program):
    return TruncDate(expression, tzinfo=zone(program))


def counted_checks(program, first: date, last: date):
    start, end = _bounds(program, first, last)
    return Check.objects.filter(
        program=program, occurred_at__gte=start, occurred_at__lt=end
    ).exclude(status__in=NOT_PURCHASES)


def join_instant(account: str = "account_id", *, check_mark: int | None = None):
    """The joining instant of the account that ``account`` refers to ("pk" on an ``Account``
    queryset): the earlier of its opening and its first check (of the checks up to
    ``check_mark`` when given).

    Both are probes by the account's key (its row; its first check, the first entry of the
    ``(account, occurred_at)`` index) rather than a join: a day's few thousand checks would
    otherwise hash-join against every account of the programme.
    """
    if account == "pk":
        enrolled = F("enrolled_at")
    else:
        enrolled = Subquery(
            Account.objects.filter(pk=OuterRef(account)).order_by().values("enrolled_at")
        )
    checks = Check.objects.filter(account=OuterRef(account))
    if check_mark is not None:
        checks = checks.filter(pk__lte=check_mark)
    first_check = Subquery(checks.order_by("occurred_at").values("occurred_at")[:1])
    return Least(enrolled, Coalesce(first_check, enrolled))


def member_rows(program, first: date, last: date, *, cohort: bool = True):
    """Per (day, account, outlet): counted checks and their subtotal, with the cohort month
    (or, with ``cohort=False``, a null cohort for the caller to fill)."""
    if cohort:
        month = TruncMonth(join_instant(), tzinfo=zone(program), output_field=DateField())
    else:
        month = Cast(Value(None), DateField())
    return (
        counted_checks(program, first, last)
        .filter(account__isnull=False)
        .annotate(day=_day("occurred_at", program))
        .values("day", "account_id", "outlet_id")
        .annotate(cohort=month, checks=Count("id"), sales=Sum("subtotal"))
        .order_by()
    )


MEMBER_COLUMNS = ("day", "account_id", "outlet_id", "cohort", "checks", "sales")


def member_rows_sql(program, first: date, last: date, *, cohort: bool = True) -> tuple[str, tuple]:
    """``member_rows`` as SQL with the columns of ``MEMBER_COLUMNS`` in that order."""
    sql, params = member_rows(program, first, last, cohort=cohort).query.sql_with_params()
    columns = ", ".join(MEMBER_COLUMNS)
    return f"SELECT {columns} FROM ({sql}) live_rows", tuple(params)


def _new_members(program, first: date, last: date) -> dict[date, int]:
    """Members whose joining instant falls on each day."""
    start, end = _bounds(program, first, last)
    tz = zone(program)
    joined: dict[int, object] = {}
    # Opened within the days: joined then, unless an earlier (offline) check came first.
    opened = (
        Account.objects.filter(program=program, enrolled_at__gte=start, enrolled_at__lt=end)
        .annotate(first_check=Min("checks__occurred_at"))
        .values_list("pk", "enrolled_at", "first_check")
    )
    for pk, enrolled, first_check in opened:
        joined[pk] = min(enrolled, first_check) if first_check else enrolled
    # Opened later, but bought within the days first (a till that uploaded offline checks).
    early = (
        Check.objects.filter(
            program=program,
            occurred_at__gte=start,
            occurred_at__lt=end,
            account__enrolled_at__gte=end,
        )
        .values("account_id")
        .annotate(first=Min("account__checks__occurred_at"))
        .values_list("account_id", "first")
    )
    for pk, first_check in early:
        joined[pk] = first_check
    counts: dict[date, int] = defaultdict(int)
    for at in joined.values():
        if start <= at < end:
            counts[at.astimezone(tz).date()] += 1
    return counts


def refund_value(refund: Refund, lines: dict[int, CheckLine], before: dict[int, Decimal]):
    """The goods value (share of line amounts, before the points discount) of one refund.

    Cumulative shares, like the ledger's own refunds: partial refunds of a line add up to its
    amount exactly. ``before`` is the quantity of each line returned by earlier refunds; it is
    advanced by this refund.
    """
    value = ZERO
    for item in refund.lines:
        line = lines.get(int(item["index"]))
        if line is None:
            continue
        done = before.get(line.index, ZERO)
        after = done + Decimal(item["quantity"])
        whole, qty = line.amount, line.quantity
        value += _share(whole, after, qty) - _share(whole, done, qty)
        before[line.index] = after
    return value


def _share(total: Decimal, done: Decimal, quantity: Decimal) -> Decimal:
    if done >= quantity:
        return total
    return (total * done / quantity).quantize(MONEY, rounding=ROUND_DOWN)


def _refunds(program, first: date, last: date) -> dict[tuple[date, int], Decimal]:
    start, end = _bounds(program, first, last)
    made = list(
        Refund.objects.filter(
            operation__program=program,
            operation__occurred_at__gte=start,
            operation__occurred_at__lt=end,
        )
        .exclude(check_obj__status=CheckStatus.CANCELLED)
        .annotate(day=_day("operation__occurred_at", program), outlet_id=F("check_obj__outlet_id"))
        .only("pk", "check_obj_id", "lines")
        .order_by("pk")
    )
    if not made:
        return {}
    check_ids = {r.check_obj_id for r in made}
    lines: dict[int, dict[int, CheckLine]] = defaultdict(dict)
    for line in CheckLine.objects.filter(check_obj_id__in=check_ids).only(
        "check_obj_id", "index", "quantity", "amount"
    ):
        lines[line.check_obj_id][line.index] = line
    wanted = {r.pk for r in made}
    history = Refund.objects.filter(check_obj_id__in=check_ids, pk__lte=max(wanted)).order_by("pk")
    before: dict[int, dict[int, Decimal]] = defaultdict(dict)
    values: dict[int, Decimal] = {}
    for refund in history.only("pk", "check_obj_id", "lines"):
        value = refund_value(refund, lines[refund.check_obj_id], before[refund.check_obj_id])
        if refund.pk in wanted:
            values[refund.pk] = value
    result: dict[tuple[date, int], Decimal] = defaultdict(lambda: ZERO)
    for refund in made:
        result[(refund.day, refund.outlet_id)] += values[refund.pk]
    return dict(result)


def ledger_days(program, first: date, last: date, *, entry_mark: int | None = None) -> LedgerDays:
    """Every daily figure of ``first``..``last`` from the ledger, in a fixed number of queries.

    ``entry_mark``: count only the entries up to this id in the point figures, so that a
    stored day knows exactly which entries its ``net`` holds (``ProgramDay.entry_mark``).
    """
    start, end = _bounds(program, first, last)
    out = LedgerDays(first=first, last=last, entry_mark=entry_mark)

    def program_day(day: date) -> ProgramFigures:
        return out.program.setdefault(day, ProgramFigures())

    movements = Entry.objects.filter(
        operation__program=program,
        operation__occurred_at__gte=start,
        operation__occurred_at__lt=end,
    )
    if entry_mark is not None:
        movements = movements.filter(pk__lte=entry_mark)
    movements = (
        movements.annotate(day=_day("operation__occurred_at", program))
        .values("day", "kind")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    for row in movements:
        figures = program_day(row["day"])
        figures.net += row["total"]
        name = MOVEMENTS.get(row["kind"])
        if name is not None:
            amount = row["total"] if name in POSITIVE else -row["total"]
            setattr(figures, name, getattr(figures, name) + amount)

    checks = (
        counted_checks(program, first, last)
        .annotate(day=_day("occurred_at", program))
        .values("day", "outlet_id")
        .annotate(
            member_checks=Count("id", filter=Q(account__isnull=False)),
            anonymous_checks=Count("id", filter=Q(account__isnull=True)),
            member_sales=Sum("subtotal", filter=Q(account__isnull=False)),
            anonymous_sales=Sum("subtotal", filter=Q(account__isnull=True)),
        )
        .order_by()
    )
    for row in checks:
        out.outlets[(row["day"], row["outlet_id"])] = OutletFigures(
            member_checks=row["member_checks"],
            anonymous_checks=row["anonymous_checks"],
            member_sales=row["member_sales"] or ZERO,
            anonymous_sales=row["anonymous_sales"] or ZERO,
        )
    active = (
        counted_checks(program, first, last)
        .filter(account__isnull=False)
        .annotate(day=_day("occurred_at", program))
        .values("day")
        .annotate(n=Count("account_id", distinct=True))
        .order_by()
    )
    for row in active:
        program_day(row["day"]).active_members = row["n"]
    for key, value in _refunds(program, first, last).items():
        out.outlets.setdefault(key, OutletFigures()).refunded += value
    for day, n in _new_members(program, first, last).items():
        program_day(day).new_members = n

    awards = (
        RuleAward.objects.filter(
            operation__program=program,
            operation__occurred_at__gte=start,
            operation__occurred_at__lt=end,
            cancelled=False,
            rule__campaign_link__isnull=False,
        )
        .annotate(
            day=_day("operation__occurred_at", program),
            campaign_id=F("rule__campaign_link__campaign_id"),
        )
        .values("day", "campaign_id")
        .annotate(points=Sum("points"))
        .order_by()
    )
    for row in awards:
        out.campaigns[(row["day"], row["campaign_id"])] = row["points"]
    return out
