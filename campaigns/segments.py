"""Segment conditions: their format, validation, evaluation to a queryset, and the refresh.

Conditions are JSON: a group ``{"all": [...]}`` (AND) or ``{"any": [...]}`` (OR) of conditions
and nested groups. A condition is ``{"field": F, "op": OP, "value": V}``, plus ``period_days``
for frequency and monetary (absent or null: lifetime)::

    {"all": [
        {"field": "recency_days", "op": "gte", "value": 90},
        {"any": [{"field": "tier", "op": "in", "value": ["gold"]},
                 {"field": "monetary", "op": "gte", "value": "50000", "period_days": 365}]}
    ]}

Fields: ``recency_days`` (days since the last purchase; never-purchased accounts never match),
``frequency`` (purchases, cancelled checks excluded), ``monetary`` (spend net of refunds),
``tier`` (codes), ``registration_days`` (days since enrolment in the programme),
``birthday_month`` (1–12; op ``current`` for the month now in the programme's time zone),
``enrolled_outlet`` (outlet codes), ``purchase_outlet`` (bought at one of these outlets, with
an optional ``period_days``; cancelled checks excluded), ``consent_sms`` / ``consent_email``
(true / false).

Evaluation builds one ``Account`` queryset; the refresh runs it as set-based SQL per chunk of
account ids (INSERT … SELECT the joiners, DELETE the leavers), one transaction per chunk.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from campaigns.models import Segment, SegmentMembership
from loyalty.ledger.models import NOT_PURCHASES, Account, Check
from loyalty.rules.models import Program

DAY = timedelta(days=1)
ZERO = Decimal("0")
CHUNK = 100_000
MATCH = "kopilka_segment_match"  # per-connection scratch table of one chunk's matches

NUMBER_OPS = ("gte", "lte", "gt", "lt", "eq", "between")
SET_OPS = ("in", "not_in")
FIELDS: dict[str, tuple[str, ...]] = {
    "recency_days": NUMBER_OPS,
    "frequency": NUMBER_OPS,
    "monetary": NUMBER_OPS,
    "registration_days": NUMBER_OPS,
    "tier": SET_OPS,
    "birthday_month": (*SET_OPS, "current"),
    "enrolled_outlet": SET_OPS,
    "purchase_outlet": SET_OPS,
    "consent_sms": ("is",),
    "consent_email": ("is",),
}
PERIOD_FIELDS = ("frequency", "monetary", "purchase_outlet")
MAX_DEPTH = 5


# --- validation -----------------------------------------------------------------------------------


def conditions_validate(conditions) -> None:
    """Raise ValidationError({path: [message]}) naming the first wrong place of each branch."""
    problems: dict[str, list[str]] = {}
    if conditions in (None, {}):
        return
    _check_group(conditions, "conditions", problems, depth=0)
    if problems:
        raise ValidationError(problems)


def _add(problems, path, message) -> None:
    problems.setdefault(path, []).append(message)


def _check_group(node, path, problems, *, depth) -> None:
    if not isinstance(node, dict) or len(node) != 1 or next(iter(node)) not in ("all", "any"):
        _add(problems, path, _('A group is {"all": [...]} or {"any": [...]}.'))
        return
    if depth >= MAX_DEPTH:
        _add(problems, path, _("Groups are nested too deep."))
        return
    key = next(iter(node))
    items = node[key]
    if not isinstance(items, list):
        _add(problems, f"{path}.{key}", _("Must be a list."))
        return
    for i, item in enumerate(items):
        item_path = f"{path}.{key}[{i}]"
        if isinstance(item, dict) and "field" in item:
            _check_condition(item, item_path, problems)
        else:
            _check_group(item, item_path, problems, depth=depth + 1)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_amount(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return False
    try:
        return Decimal(str(value)) >= 0
    except InvalidOperation:
        return False


def _check_condition(item: dict, path: str, problems) -> None:
    known = {"field", "op", "value", "period_days"}
    for extra in sorted(set(item) - known):
        _add(problems, f"{path}.{extra}", _("Unknown key."))
    field = item.get("field")
    if field not in FIELDS:
        _add(problems, f"{path}.field", _("Unknown field; one of: %s.") % ", ".join(FIELDS))
        return
    op = item.get("op")
    if op not in FIELDS[field]:
        _add(
            problems,
            f"{path}.op",
            _("For %(field)s use one of: %(ops)s.")
            % {
                "field": field,
                "ops": ", ".join(FIELDS[field]),
            },
        )
        return
    if "period_days" in item:
        period = item["period_days"]
        if field not in PERIOD_FIELDS:
            _add(
                problems,
                f"{path}.period_days",
                _("Only %(fields)s have a period.") % {"fields": ", ".join(PERIOD_FIELDS)},
            )
        elif period is not None and (not _is_int(period) or period == 0):
            _add(problems, f"{path}.period_days", _("A whole number of days above 0, or null."))
    value = item.get("value")
    value_path = f"{path}.value"
    if op == "current":
        if value is not None:
            _add(problems, value_path, _("The current month takes no value."))
        return
    if op == "is":
        if not isinstance(value, bool):
            _add(problems, value_path, _("true or false."))
        return
    if op in SET_OPS:
        if not isinstance(value, list) or not value:
            _add(problems, value_path, _("A non-empty list."))
            return
        if field == "birthday_month":
            if not all(_is_int(v) and 1 <= v <= 12 for v in value):
                _add(problems, value_path, _("Months are numbers 1 to 12."))
        elif not all(isinstance(v, str) and v for v in value):
            _add(problems, value_path, _("A list of codes."))
        return
    check = _is_amount if field == "monetary" else _is_int
    if op == "between":
        if not (isinstance(value, list) and len(value) == 2 and all(check(v) for v in value)):
            _add(problems, value_path, _("Two numbers [from, to], both included."))
        elif Decimal(str(value[0])) > Decimal(str(value[1])):
            _add(problems, value_path, _("The first number must not exceed the second."))
        return
    if not check(value):
        if field == "monetary":
            _add(problems, value_path, _('An amount, zero or more, e.g. "1500.00".'))
        else:
            _add(problems, value_path, _("A whole number, zero or more."))


# --- evaluation -----------------------------------------------------------------------------------


def _bounds(op: str, value) -> tuple:
    """(low, high) inclusive bounds of a number condition; None where open."""
    if op == "between":
        return value[0], value[1]
    return {
        "gte": (value, None),
        "gt": (value + 1, None) if isinstance(value, int) else (value, None),
        "lte": (None, value),
        "lt": (None, value - 1) if isinstance(value, int) else (None, value),
        "eq": (value, value),
    }[op]


def _days_ago_q(column: str, op: str, days, now: datetime) -> Q:
    """Whole days elapsed since ``column`` satisfy op/value (floor of the elapsed time)."""
    low, high = _bounds(op, days)
    q = Q(**{f"{column}__isnull": False})
    if low is not None:
        q &= Q(**{f"{column}__lte": now - low * DAY})
    if high is not None:
        q &= Q(**{f"{column}__gt": now - (high + 1) * DAY})
    return q


def _number_q(name: str, op: str, value) -> Q:
    if op == "gt" and not isinstance(value, int):
        return Q(**{f"{name}__gt": value})
    if op == "lt" and not isinstance(value, int):
        return Q(**{f"{name}__lt": value})
    low, high = _bounds(op, value)
    q = Q()
    if low is not None:
        q &= Q(**{f"{name}__gte": low})
    if high is not None:
        q &= Q(**{f"{name}__lte": high})
    return q


@dataclass
class _Builder:
    now: datetime
    tz: ZoneInfo
    annotations: dict

    def period_annotation(self, field: str, period_days: int | None) -> str:
        if period_days is None:
            return "lifetime_visits" if field == "frequency" else "lifetime_spend"
        name = f"seg_{field}_{period_days}"
        if name not in self.annotations:
            checks = (
                Check.objects.filter(
                    account=OuterRef("pk"), occurred_at__gt=self.now - period_days * DAY
                )
                .exclude(status__in=NOT_PURCHASES)
                .order_by()
                .values("account")
            )
            if field == "frequency":
                sub = checks.annotate(n=Count("id")).values("n")
                self.annotations[name] = Coalesce(
                    Subquery(sub, output_field=IntegerField()), Value(0)
                )
            else:
                money = DecimalField(max_digits=14, decimal_places=2)
                sub = checks.annotate(
                    s=Sum(ExpressionWrapper(F("payable") - F("refunded_amount"), money))
                ).values("s")
                self.annotations[name] = Coalesce(
                    Subquery(sub, output_field=money), Value(ZERO), output_field=money
                )
        return name

    def group(self, node) -> Q:
        key = next(iter(node))
        parts = [self.node(item) for item in node[key]]
        if not parts:
            return Q() if key == "all" else Q(pk__in=[])
        combined = parts[0]
        for part in parts[1:]:
            combined = (combined & part) if key == "all" else (combined | part)
        return combined

    def node(self, item) -> Q:
        if "field" in item:
            return self.condition(item)
        return self.group(item)

    def condition(self, item: dict) -> Q:
        field, op, value = item["field"], item["op"], item.get("value")
        if field == "recency_days":
            return _days_ago_q("last_purchase_at", op, value, self.now)
        if field == "registration_days":
            return _days_ago_q("enrolled_at", op, value, self.now)
        if field == "purchase_outlet":
            checks = Check.objects.filter(account=OuterRef("pk"), outlet__code__in=value).exclude(
                status__in=NOT_PURCHASES
            )
            if item.get("period_days") is not None:
                checks = checks.filter(occurred_at__gt=self.now - item["period_days"] * DAY)
            q = Q(Exists(checks))
            return q if op == "in" else ~q
        if field in PERIOD_FIELDS:
            name = self.period_annotation(field, item.get("period_days"))
            if field == "monetary":
                value = (
                    [Decimal(str(v)) for v in value]
                    if isinstance(value, list)
                    else Decimal(str(value))
                )
            return _number_q(name, op, value)
        if field == "tier":
            q = Q(tier__code__in=value)
            return q if op == "in" else ~q & Q(tier__isnull=False) | Q(tier__isnull=True)
        if field == "enrolled_outlet":
            q = Q(enrolled_outlet__code__in=value)
            return q if op == "in" else ~q | Q(enrolled_outlet__isnull=True)
        if field == "birthday_month":
            months = [self.now.astimezone(self.tz).month] if op == "current" else value
            q = Q(profile__birth_date__month__in=months)
            return q if op != "not_in" else Q(profile__birth_date__isnull=False) & ~q
        if field in ("consent_sms", "consent_email"):
            return Q(**{f"profile__{field}": value})  # consent given to this programme
        raise ValueError(field)  # unreachable after validation


def segment_accounts(conditions, *, program: Program, now: datetime) -> QuerySet[Account]:
    """The programme's accounts matching ``conditions`` at ``now`` (validated beforehand)."""
    builder = _Builder(now=now, tz=ZoneInfo(program.timezone), annotations={})
    q = builder.group(conditions) if conditions else Q()
    qs = Account.objects.filter(program=program)
    if builder.annotations:
        qs = qs.annotate(**builder.annotations)
    return qs.filter(q)


@dataclass(frozen=True)
class SegmentPreview:
    size: int
    sample: list[Account]


def segment_preview(
    conditions, *, program: Program, now: datetime, sample_size: int = 20
) -> SegmentPreview:
    """Live size and a sample of a (possibly unsaved) segment; validates the conditions."""
    conditions_validate(conditions)
    qs = segment_accounts(conditions, program=program, now=now)
    sample = list(
        qs.select_related("customer", "tier").order_by("-last_purchase_at", "-pk")[:sample_size]
    )
    return SegmentPreview(size=qs.count(), sample=sample)


def segments_for_program(program: Program) -> QuerySet[Segment]:
    """The segments that apply in a programme: its own and the built-in ones."""
    return Segment.objects.filter(Q(program=program) | Q(program__isnull=True)).order_by(
        "code", "pk"
    )


# --- refresh --------------------------------------------------------------------------------------


@dataclass
class RefreshResult:
    segments: int = 0
    joined: int = 0
    left: int = 0
    seconds: float = 0.0


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _id_ranges(program: Program, chunk: int) -> list[tuple[int, int]]:
    bounds = Account.objects.filter(program=program).order_by().values_list("pk", flat=True)
    low = bounds.order_by("pk").first()
    high = bounds.order_by("-pk").first()
    if low is None:
        return []
    return [(start, start + chunk) for start in range(low, high + 1, chunk)]


def segment_refresh(
    segment: Segment, *, program: Program, now: datetime, chunk: int = CHUNK
) -> RefreshResult:
    """Bring the segment's membership in ``program`` up to ``now``: set-based, chunked.

    Each chunk of account ids is one transaction: joiners are inserted with INSERT … SELECT,
    leavers deleted; members who stay keep their ``since``. Safe to re-run or resume.
    An inactive segment is emptied.
    """
    started = time.monotonic()
    result = RefreshResult(segments=1)
    members = _table(SegmentMembership)
    accounts = _table(Account)
    for low, high in _id_ranges(program, chunk):
        if segment.is_active:
            matching = (
                segment_accounts(segment.conditions, program=program, now=now)
                .filter(pk__gte=low, pk__lt=high)
                .order_by()
                .values("id")
            )
            sql, params = matching.query.sql_with_params()
        else:
            sql, params = f"SELECT id FROM {accounts} WHERE 1 = 0", []
        with transaction.atomic(), connection.cursor() as cursor:
            # The chunk's matches go to an indexed scratch table first: the conditions run
            # once, and neither statement below joins the membership table against a query
            # whose plan would depend on its (often stale) statistics.
            cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {MATCH} (id BIGINT PRIMARY KEY)")
            cursor.execute(f"DELETE FROM {MATCH}")
            cursor.execute(f"INSERT INTO {MATCH} (id) {sql}", params)
            cursor.execute(
                f"DELETE FROM {members} WHERE segment_id = %s"
                f" AND account_id >= %s AND account_id < %s"
                f" AND account_id IN (SELECT id FROM {accounts}"
                f" WHERE program_id = %s AND id >= %s AND id < %s)"
                f" AND NOT EXISTS (SELECT 1 FROM {MATCH} t WHERE t.id = {members}.account_id)",
                (segment.pk, low, high, program.pk, low, high),
            )
            result.left += max(cursor.rowcount, 0)
            cursor.execute(
                f"INSERT INTO {members} (segment_id, account_id, since)"
                f" SELECT %s, t.id, %s FROM {MATCH} t WHERE t.id IS NOT NULL"
                f" ON CONFLICT (segment_id, account_id) DO NOTHING",
                (segment.pk, connection.ops.adapt_datetimefield_value(now)),
            )
            result.joined += max(cursor.rowcount, 0)
            cursor.execute(f"DROP TABLE {MATCH}")
    Segment.objects.filter(pk=segment.pk).update(refreshed_at=now)
    result.seconds = time.monotonic() - started
    return result


def segments_refresh(
    *, now: datetime, program: Program | None = None, chunk: int = CHUNK
) -> RefreshResult:
    """Refresh every segment of every active programme (or of one)."""
    started = time.monotonic()
    total = RefreshResult()
    programs = [program] if program is not None else list(Program.objects.filter(is_active=True))
    for prog in programs:
        for segment in segments_for_program(prog):
            one = segment_refresh(segment, program=prog, now=now, chunk=chunk)
            total.segments += 1
            total.joined += one.joined
            total.left += one.left
    total.seconds = time.monotonic() - started
    return total
