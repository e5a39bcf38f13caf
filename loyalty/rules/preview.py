"""What a tier or an earn rule gives, in one sentence for the constructor.

"5 % от 1 000 ₽ = 50 баллов" for a tier's base accrual; for a rule, the same on a sample
check of 1 000 (in the programme's currency) or the bonus it pays. The arithmetic is the
engine's: points = amount × percent ÷ point value, rounded once with the programme's rounding.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext

from core.formatting import money_text, number_text, percent_text, points_phrase
from core.money import quantize_points, rounding_mode
from loyalty.rules.models import EarnRule, Program, RuleKind, Tier

SAMPLE_AMOUNT = Decimal("1000")
HUNDRED = Decimal("100")


def base_points(program: Program, percent: Decimal, amount: Decimal = SAMPLE_AMOUNT) -> Decimal:
    raw = amount * (percent or 0) / HUNDRED / (program.point_value or Decimal("1"))
    return quantize_points(
        raw, precision=program.precision, rounding=rounding_mode(program.rounding)
    )


def tier_preview(tier: Tier, program: Program | None = None) -> str:
    program = program or tier.program
    if tier.earn_percent is None:
        return ""
    points = base_points(program, tier.earn_percent)
    return gettext("%(percent)s of %(amount)s = %(points)s") % {
        "percent": percent_text(tier.earn_percent),
        "amount": money_text(SAMPLE_AMOUNT, program.currency),
        "points": points_phrase(points, program.precision),
    }


def _entry_tier(program: Program, tiers=None) -> Tier | None:
    tiers = list(tiers if tiers is not None else program.tiers.all())
    return min(tiers, key=lambda t: (t.rank, t.threshold), default=None)


def rule_preview(rule: EarnRule, program: Program | None = None, tiers=None) -> str:
    """One sentence; "" for a rule whose parameters are not filled in yet."""
    program = program or rule.program
    precision = program.precision
    kind = rule.kind
    if kind == RuleKind.MULTIPLIER and rule.factor:
        entry = _entry_tier(program, tiers)
        if entry is None or not entry.earn_percent:
            return gettext("×%(factor)s the base accrual") % {"factor": number_text(rule.factor)}
        base = base_points(program, entry.earn_percent)
        total = base_points(program, entry.earn_percent * rule.factor)
        return gettext(
            "×%(factor)s on the tier “%(tier)s”: %(percent)s of %(amount)s = %(base)s, "
            "with the rule %(total)s"
        ) % {
            "factor": number_text(rule.factor),
            "tier": entry.name,
            "percent": percent_text(entry.earn_percent),
            "amount": money_text(SAMPLE_AMOUNT, program.currency),
            "base": points_phrase(base, precision),
            "total": points_phrase(total, precision),
        }
    if rule.points is None:
        return ""
    points = points_phrase(rule.points, precision)
    if kind == RuleKind.FIXED_PER_ITEM:
        return gettext("%(points)s for each item; 3 items = %(total)s") % {
            "points": points,
            "total": points_phrase(rule.points * 3, precision),
        }
    if kind == RuleKind.THRESHOLD and rule.min_amount:
        return gettext("A check of %(amount)s or more: +%(points)s") % {
            "amount": money_text(rule.min_amount, program.currency),
            "points": points,
        }
    if kind == RuleKind.NTH_PURCHASE and rule.every:
        n = rule.every
        return gettext("Purchases no. %(n1)d, %(n2)d, %(n3)d…: +%(points)s for each") % {
            "n1": n,
            "n2": 2 * n,
            "n3": 3 * n,
            "points": points,
        }
    if kind == RuleKind.FIRST_PURCHASE:
        return gettext("The first purchase: +%(points)s") % {"points": points}
    if kind == RuleKind.EVENT and rule.event:
        return gettext("The event “%(event)s”: +%(points)s") % {
            "event": rule.event,
            "points": points,
        }
    return ""
