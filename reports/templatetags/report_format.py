"""Formatting report numbers in templates: money, points, rates as percentages, changes."""

from decimal import Decimal

from django import template
from django.utils import formats
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def figure(value, kind="number"):
    """A KPI value for display; "—" where it is undefined (a zero denominator)."""
    if value is None or value == "":
        return "—"
    if kind == "rate":
        return formats.number_format(Decimal(value) * 100, decimal_pos=1, use_l10n=True) + " %"
    if kind == "money":
        return formats.number_format(Decimal(value), 2, use_l10n=True, force_grouping=True)
    if kind in ("count", "points"):
        return formats.number_format(value, use_l10n=True, force_grouping=True)
    return formats.number_format(value, 2, use_l10n=True, force_grouping=True)


@register.filter
def change(value):
    """+12.5 % (relative) or +3.0 pp (a rate's difference); "—" without a base."""
    if not value:
        return "—"
    number = formats.number_format(abs(value["points"]), decimal_pos=1, use_l10n=True)
    sign = "+" if value["points"] > 0 else ("−" if value["points"] < 0 else "±")
    unit = _("pp") if value["kind"] == "pp" else "%"
    return f"{sign}{number} {unit}"


@register.filter
def trend(value):
    if not value or value["points"] == 0:
        return "flat"
    return "up" if value["points"] > 0 else "down"
