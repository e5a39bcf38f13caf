"""The programme's live configuration in plain language, for the rules page."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from loyalty.rules.models import EarnRule, Program, RedemptionPolicy, Tier, TierMetric

from .formatting import money, number_localize, percent, points


@dataclass(frozen=True)
class RuleText:
    title: str
    text: str
    conditions: list[str]
    description: str = ""


def _sets(product_sets) -> str:
    return ", ".join(ps.name or ps.code for ps in product_sets)


def _weekday_names(days) -> str:
    names = {
        1: _("Monday"),
        2: _("Tuesday"),
        3: _("Wednesday"),
        4: _("Thursday"),
        5: _("Friday"),
        6: _("Saturday"),
        7: _("Sunday"),
    }
    return ", ".join(str(names[d]) for d in sorted(days) if d in names)


def rule_text(rule: EarnRule, program: Program) -> RuleText:
    include = list(rule.include.all())
    products = _sets(include) if include else _("any product")
    kind = rule.kind
    if kind == "multiplier":
        text = _("%(factor)s× the usual points on %(products)s.") % {
            "factor": number_localize(rule.factor or 0),
            "products": products,
        }
    elif kind == "fixed_per_item":
        text = _("%(points)s extra points for each item of %(products)s.") % {
            "points": points(rule.points),
            "products": products,
        }
    elif kind == "threshold":
        text = _("%(points)s extra points for a purchase of %(amount)s or more.") % {
            "points": points(rule.points),
            "amount": money(rule.min_amount, program.currency),
        }
    elif kind == "nth_purchase":
        text = _("%(points)s extra points on every %(every)s-th purchase.") % {
            "points": points(rule.points),
            "every": rule.every,
        }
    elif kind == "first_purchase":
        text = _("%(points)s extra points for your first purchase.") % {
            "points": points(rule.points)
        }
    elif kind == "event":
        text = _("%(points)s points for: %(event)s.") % {
            "points": points(rule.points),
            "event": rule.name or rule.event,
        }
    else:
        text = rule.get_kind_display()
    conditions = []
    if rule.days_of_week:
        conditions.append(_("on %(days)s") % {"days": _weekday_names(rule.days_of_week)})
    if rule.hours:
        conditions.append(_("from %(hours)s") % {"hours": ", ".join(rule.hours)})
    tiers = list(rule.tiers.all())
    if tiers:
        conditions.append(_("for status %(tiers)s") % {"tiers": ", ".join(t.name for t in tiers)})
    outlets = list(rule.outlets.all())
    if outlets:
        conditions.append(_("in %(outlets)s") % {"outlets": ", ".join(o.name for o in outlets)})
    exclude = list(rule.exclude.all())
    if exclude:
        conditions.append(_("except %(products)s") % {"products": _sets(exclude)})
    if rule.min_order_amount:
        conditions.append(
            _("for purchases from %(amount)s")
            % {"amount": money(rule.min_order_amount, program.currency)}
        )
    if rule.limit_per_customer:
        conditions.append(
            ngettext("once per customer", "up to %(n)d times per customer", rule.limit_per_customer)
            % {"n": rule.limit_per_customer}
        )
    if rule.valid_from:
        conditions.append(
            _("from %(date)s") % {"date": formats.date_format(rule.valid_from, "DATE_FORMAT")}
        )
    if rule.valid_until:
        conditions.append(
            _("until %(date)s") % {"date": formats.date_format(rule.valid_until, "DATE_FORMAT")}
        )
    return RuleText(
        title=rule.name or rule.get_kind_display(),
        text=text,
        conditions=conditions,
        description=rule.description,
    )


def tier_text(tier: Tier, program: Program) -> str:
    if program.tier_metric == TierMetric.SPEND:
        reach = _("from %(amount)s spent") % {"amount": money(tier.threshold, program.currency)}
    elif program.tier_metric == TierMetric.VISITS:
        reach = _("from %(n)s purchases") % {"n": points(tier.threshold)}
    else:
        reach = _("from %(n)s points earned") % {"n": points(tier.threshold)}
    text = _("%(reach)s: %(percent)s of each purchase back in points") % {
        "reach": reach,
        "percent": percent(tier.earn_percent),
    }
    if tier.max_share is not None:
        text += "; " + _("up to %(share)s of a purchase payable with points") % {
            "share": percent(tier.max_share * 100)
        }
    return text


def redemption_texts(program: Program, policy: RedemptionPolicy | None) -> list[str]:
    if policy is None:
        return [_("Points cannot be spent in this programme yet.")]
    texts = [
        _("1 point = %(value)s off your purchase.")
        % {"value": money(program.point_value, program.currency)},
        _("Points can pay up to %(share)s of a purchase.")
        % {"share": percent(policy.max_share * 100)},
    ]
    if policy.max_points_per_check:
        texts.append(
            _("At most %(n)s points per purchase.") % {"n": points(policy.max_points_per_check)}
        )
    if policy.min_order_amount:
        texts.append(
            _("Points can be spent on purchases from %(amount)s.")
            % {"amount": money(policy.min_order_amount, program.currency)}
        )
    if policy.min_balance:
        texts.append(
            _("You can spend points once you have at least %(n)s.")
            % {"n": points(policy.min_balance)}
        )
    excluded = list(policy.exclude.all())
    if excluded:
        texts.append(_("Points cannot pay for: %(products)s.") % {"products": _sets(excluded)})
    if not policy.allow_promo_items:
        texts.append(_("Points cannot pay for items already on promotion."))
    return texts


def points_life_texts(program: Program) -> list[str]:
    texts = []
    if program.hold_days:
        texts.append(
            ngettext(
                "Points become available %(n)d day after the purchase.",
                "Points become available %(n)d days after the purchase.",
                program.hold_days,
            )
            % {"n": program.hold_days}
        )
    else:
        texts.append(_("Points are available right after the purchase."))
    if program.lifetime_days:
        texts.append(
            ngettext(
                "Points expire %(n)d day after they were earned.",
                "Points expire %(n)d days after they were earned.",
                program.lifetime_days,
            )
            % {"n": program.lifetime_days}
        )
    else:
        texts.append(_("Points never expire."))
    if program.tier_period_days:
        texts.append(
            ngettext(
                "Your status is counted over the last %(n)d day.",
                "Your status is counted over the last %(n)d days.",
                program.tier_period_days,
            )
            % {"n": program.tier_period_days}
        )
    return texts
