"""``{% load kopilka %}``: points with the programme's precision and words that agree.

``{{ value|points:program.precision }}``, ``{{ value|points_unit }}``,
``{{ value|points_phrase:program.precision }}``, ``{{ value|money:"RUB" }}``.
"""

from django import template

from core import formatting

register = template.Library()


@register.filter
def points(value, precision=0):
    if value in (None, ""):
        return "—"
    return formatting.points_text(value, _precision(precision))


@register.filter
def points_unit(value):
    return formatting.points_unit(value)


@register.filter
def points_phrase(value, precision=0):
    return formatting.points_phrase(value, _precision(precision))


@register.filter
def money(value, currency="RUB"):
    return formatting.money_text(value, currency or "RUB")


def _precision(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
