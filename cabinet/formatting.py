"""Locale-aware numbers, money and rule explanations for the cabinet's templates.

Registered as the ``cabinet`` template library (settings.TEMPLATES ``libraries``).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template
from django.utils import formats
from django.utils.translation import get_language, ngettext, pgettext
from django.utils.translation import gettext as _

register = template.Library()

CURRENCY_SIGNS = {"RUB": "₽", "USD": "$", "EUR": "€", "KZT": "₸", "BYN": "Br"}


def _decimal(value) -> Decimal | None:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def number_localize(value, *, places: int | None = None) -> str:
    """1234.5 → "1 234,5" (ru) / "1,234.5" (en); ``places`` fixes the decimals."""
    number = _decimal(value)
    if number is None:
        return str(value)
    if places is None:
        exponent = number.normalize().as_tuple().exponent
        places = max(-exponent, 0) if isinstance(exponent, int) else 0
    return formats.number_format(number, decimal_pos=places, use_l10n=True, force_grouping=True)


@register.filter
def points(value) -> str:
    """Points without needless decimals: 20 → "20", 12.5 → "12,5" (ru)."""
    number = _decimal(value)
    if number is None:
        return ""
    return number_localize(number)


@register.filter
def points_unit(value) -> str:
    """The word "points" agreeing with the number before it (1 балл, 2 балла, 5 баллов)."""
    amount = _decimal(value)
    if amount is None:
        return ngettext("point", "points", 2)
    if amount != amount.to_integral_value():
        # A fraction takes its own form in Russian (2,5 балла), unlike any whole number.
        return pgettext("after a fractional number", "points")
    return ngettext("point", "points", int(abs(amount)))


@register.filter
def money(value, currency: str = "RUB") -> str:
    """400 → "400,00 ₽" (ru) / "₽400.00" (en)."""
    number = _decimal(value)
    if number is None:
        return ""
    sign = CURRENCY_SIGNS.get(currency, currency)
    text = number_localize(number, places=2)
    if (get_language() or "").startswith("en"):
        return f"{sign}{text}"
    return f"{text}\u00a0{sign}"


@register.filter
def percent(value) -> str:
    number = _decimal(value)
    if number is None:
        return ""
    return f"{number_localize(number)}\u00a0%"


def reason_render(row: dict) -> str:
    """A breakdown row in the current language: "5 % of 400.00 = 20".

    The engine stores a gettext msgid with %(name)s placeholders and its parameters, so the
    explanation is translated when it is read, with numbers in the reader's locale.
    """
    template_text = row.get("reason_template") or ""
    params = row.get("reason_params") or {}
    if template_text:
        localized = {}
        for name, value in params.items():
            places = 2 if name in {"amount", "min_amount", "max_amount", "discount"} else None
            if _decimal(value) is not None:
                localized[name] = number_localize(value, places=places)
            elif value == "all products":  # the engine's wording for a rule without a set
                localized[name] = _("all products")
            else:
                localized[name] = value
        try:
            reason = _(template_text) % localized
        except (KeyError, TypeError, ValueError):
            reason = row.get("reason") or template_text
    else:
        reason = row.get("reason") or ""
    if row.get("kind") == "coupon":  # step 0: money off, no points
        return reason
    return _("%(reason)s = %(points)s") % {"reason": reason, "points": points(row.get("points"))}


@register.filter
def explain(row: dict) -> str:
    return reason_render(row)
