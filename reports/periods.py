"""Report periods: calendar days in the programme's time zone, and the numbers' rounding."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.db import connection

from core import errors

MONEY = Decimal("0.01")
RATE = Decimal("0.0001")
PRESETS = ("7", "30", "90", "month", "year", "custom")


@dataclass(frozen=True)
class Period:
    """``first``..``last``, both inclusive."""

    first: date
    last: date

    def __post_init__(self):
        if self.first > self.last:
            raise errors.ValidationFailed(
                fields={"from": [f"{self.first} is after to ({self.last})."]}
            )

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> Period:
        """The same number of days just before ``first`` (REPORTS.md)."""
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1))

    def each_day(self) -> Iterator[date]:
        for n in range(self.days):
            yield self.first + timedelta(days=n)

    def covers(self, other: Period) -> bool:
        return self.first <= other.first and other.last <= self.last

    def clip(self, first: date | None = None, last: date | None = None) -> Period | None:
        lo = max(self.first, first) if first else self.first
        hi = min(self.last, last) if last else self.last
        return Period(lo, hi) if lo <= hi else None


def zone(program) -> ZoneInfo:
    return ZoneInfo(program.timezone)


def local_today(program, now: datetime) -> date:
    return now.astimezone(zone(program)).date()


def day_start(program, day: date) -> datetime:
    """The instant the programme's ``day`` begins (aware, in the programme's zone)."""
    return datetime.combine(day, time.min, tzinfo=zone(program))


def local_day(program, at: datetime) -> date:
    return at.astimezone(zone(program)).date()


def month_start(day: date) -> date:
    return day.replace(day=1)


def sql_day(day: date):
    """A date as the database takes it in raw SQL."""
    return connection.ops.adapt_datefield_value(day)


def week_start(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def preset_period(preset: str, *, today: date) -> Period:
    """The dashboard's presets, ending today: last 7/30/90 days, this month, a year."""
    if preset in ("7", "30", "90"):
        return Period(today - timedelta(days=int(preset) - 1), today)
    if preset == "month":
        return Period(month_start(today), today)
    if preset == "year":
        return Period(today - timedelta(days=364), today)
    raise errors.ValidationFailed(fields={"preset": [f"Unknown preset {preset!r}."]})


def parse_day(value, field: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise errors.ValidationFailed(
            fields={field: [f"{value!r} is not a date in the form YYYY-MM-DD."]}
        ) from None


def money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(MONEY, rounding=ROUND_HALF_UP)


def ratio(numerator, denominator, quantum: Decimal = RATE) -> Decimal | None:
    """numerator / denominator rounded half-up, or None when the denominator is zero."""
    if denominator is None or numerator is None or denominator == 0:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(quantum, rounding=ROUND_HALF_UP)


def points(program, value: Decimal) -> Decimal:
    """Points with the programme's precision (sums of exact points need no rounding)."""
    return Decimal(value).quantize(Decimal(1).scaleb(-program.precision), rounding=ROUND_HALF_UP)


def as_decimal(value) -> Decimal:
    """A raw SQL sum as a Decimal (SQLite returns floats for NUMERIC sums)."""
    if value is None:
        return Decimal("0")
    if isinstance(value, float):
        return Decimal(repr(value)).quantize(MONEY, rounding=ROUND_HALF_UP)
    return Decimal(value)


def as_date(value) -> date:
    """A raw SQL date (SQLite returns text)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
