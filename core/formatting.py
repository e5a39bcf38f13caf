"""Points and money as people read them, in the active language.

``points_text(818, 0)`` → "818"; ``points_text(818, 2)`` → "818,00" (ru) / "818.00" (en): a
programme's points are always shown with its precision, so «818,00» never stands next to
«2356». ``points_phrase`` adds the word in the form the number needs (1 балл, 2 балла,
5 баллов, 2,5 балла). Template filters: ``core.templatetags.kopilka`` (``{% load kopilka %}``).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.utils import formats
from django.utils.translation import get_language, ngettext, pgettext

CURRENCY_SIGNS = {"RUB": "₽", "USD": "$", "EUR": "€", "KZT": "₸", "BYN": "Br"}


def as_decimal(value) -> Decimal | None:
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def number_text(value, places: int | None = None) -> str:
    """Grouped digits in the active language; ``places`` None: as many as the value has."""
    number = as_decimal(value)
    if number is None:
        return "" if value is None else str(value)
    if places is None:
        exponent = number.normalize().as_tuple().exponent
        places = max(-exponent, 0) if isinstance(exponent, int) else 0
    return formats.number_format(number, decimal_pos=places, use_l10n=True, force_grouping=True)


def points_text(value, precision: int | None = 0) -> str:
    """Points with the programme's precision (0 or 2 decimals)."""
    return number_text(value, places=precision)


def points_unit(value) -> str:
    """The word "points" agreeing with the number before it."""
    amount = as_decimal(value)
    if amount is None:
        return ngettext("point", "points", 5)
    if amount != amount.to_integral_value():
        return pgettext("after a fractional number", "points")
    return ngettext("point", "points", int(abs(amount)))


def points_phrase(value, precision: int | None = 0) -> str:
    """ "50 баллов", "1 балл"; with decimals shown, "2,50 балла" (a fraction's form)."""
    amount = as_decimal(value)
    shown = points_text(value, precision)
    if amount is not None and precision:
        unit = pgettext("after a fractional number", "points")
    else:
        unit = points_unit(amount)
    return f"{shown}\u00a0{unit}"


def money_text(value, currency: str = "RUB") -> str:
    """1000 → "1 000 ₽" (ru) / "₽1,000" (en); kopecks only when there are some."""
    number = as_decimal(value)
    if number is None:
        return ""
    places = 0 if number == number.to_integral_value() else 2
    sign = CURRENCY_SIGNS.get(currency, currency)
    text = number_text(number, places=places)
    if (get_language() or "").startswith("en"):
        return f"{sign}{text}"
    return f"{text}\u00a0{sign}"


def percent_text(value) -> str:
    number = as_decimal(value)
    if number is None:
        return ""
    return f"{number_text(number)}\u00a0%"
