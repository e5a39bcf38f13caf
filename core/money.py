"""Money and points: the one place that knows their quanta, rounding modes and column shapes.

Money has two decimal places. Points have the programme's precision (0 or 2 places) and are
rounded the programme's way (``down`` by default); limits and refund shares always round down.
``core`` imports nothing of ours, so these take the precision and rounding as values, or any
object with ``precision`` and ``rounding`` attributes (a programme, its engine snapshot).
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal
from typing import Protocol

from django.db import models

MONEY_PLACES = 2
MONEY_QUANTUM = Decimal("0.01")
# Both columns are DecimalField(14, 2): a programme counting in hundredths fits the same column.
DIGITS = 14
POINTS_PLACES = 2

# The programme's ``rounding`` choice → the decimal module's rounding mode.
ROUNDING_MODES = {"down": ROUND_DOWN, "half_up": ROUND_HALF_UP, "up": ROUND_UP}


class PointsScale(Protocol):
    """Anything that says how a programme counts points (``Program``, ``ProgramSpec``)."""

    precision: int
    rounding: str


def points_quantum(precision: int) -> Decimal:
    """The smallest amount of points: 1 for whole points, 0.01 with two decimals."""
    return Decimal(1).scaleb(-precision)


def rounding_mode(rounding: str | None) -> str:
    """The decimal rounding mode for a programme's ``rounding`` name (down when unknown)."""
    return ROUNDING_MODES.get(rounding, ROUND_DOWN)


def quantize_points(value, *, precision: int, rounding: str | None = ROUND_DOWN) -> Decimal:
    """``value`` at ``precision`` places. ``rounding`` is a decimal rounding mode (down by
    default); ``None`` means the decimal context's (half-even), for values already exact."""
    return Decimal(value).quantize(points_quantum(precision), rounding=rounding)


def round_points(value, scale: PointsScale) -> Decimal:
    """Points rounded the programme's way (its precision and its rounding)."""
    return quantize_points(value, precision=scale.precision, rounding=rounding_mode(scale.rounding))


def floor_points(value, scale: PointsScale) -> Decimal:
    """Points rounded down to the programme's precision (limits, refund shares)."""
    return quantize_points(value, precision=scale.precision, rounding=ROUND_DOWN)


def points_exact(value, *, precision: int) -> bool:
    """True if ``value`` has no more decimals than the precision allows."""
    return value == quantize_points(value, precision=precision)


def quantize_money(value, *, rounding: str | None = None) -> Decimal:
    """``value`` in kopecks. ``rounding`` defaults to the decimal context's (half-even)."""
    return Decimal(value).quantize(MONEY_QUANTUM, rounding=rounding)


def floor_money(value) -> Decimal:
    """Money rounded down to kopecks (a discount or a refund never exceeds what was paid)."""
    return quantize_money(value, rounding=ROUND_DOWN)


def money_field(*args, **kwargs) -> models.DecimalField:
    """A money column: ``DecimalField(max_digits=14, decimal_places=2, …)``."""
    return models.DecimalField(*args, max_digits=DIGITS, decimal_places=MONEY_PLACES, **kwargs)


def points_field(*args, **kwargs) -> models.DecimalField:
    """A points column: ``DecimalField(max_digits=14, decimal_places=2, …)`` for any precision."""
    return models.DecimalField(*args, max_digits=DIGITS, decimal_places=POINTS_PLACES, **kwargs)
