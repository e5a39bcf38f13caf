"""``program_dump``: a programme written back in the programme format. Reads only.

The keys docs/programme-format.md shows are always present, the optional ones only when they
differ from their defaults; decimals are strings.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from loyalty.rules.definition import (
    PROGRAM_ACCRUAL,
    PROGRAM_MAIN,
    PROGRAM_OCCURRED_AT,
    PROGRAM_POINTS,
    PROGRAM_QUALIFICATION,
    REDEMPTION_POLICY_KEYS,
    Section,
)
from loyalty.rules.models import (
    Category,
    EarnRule,
    Outlet,
    ProductSet,
    Program,
    RedemptionPolicy,
    Reward,
    Tier,
)
from loyalty.rules.program_io.document import (
    REWARD_PARAMS,
    RULE_CONDITIONS,
    RULE_M2M,
    RULE_PARAMS,
    external_rule_ids,
)

# Decimals written with at least two places (shares and money per point), as
# docs/programme-format.md shows.
TWO_PLACES = {"max_share", "point_value", "gross_margin"}


def program_dump(*, program: Program) -> dict:
    """The programme as the definition format (a JSON-ready dict). Reads only."""
    data: dict[str, Any] = {
        key: getattr(program, field)
        for field, key in PROGRAM_MAIN.file_keys.items()
        if field != "is_active"
    }
    if not program.is_active:
        data["active"] = False
    if program.gross_margin is not None:
        data["gross_margin"] = _value(program.gross_margin, "gross_margin")
    data[PROGRAM_POINTS.file_key] = _section(program, PROGRAM_POINTS)
    data[PROGRAM_ACCRUAL.file_key] = _section(program, PROGRAM_ACCRUAL)
    policy = RedemptionPolicy.objects.filter(program=program).first()
    data["redemption"] = None
    if policy is not None:
        data["redemption"] = {
            key: _value(getattr(policy, field), key)
            for field, key in REDEMPTION_POLICY_KEYS.items()
        }
    categories = list(
        Category.objects.filter(program=program).select_related("parent").order_by("code")
    )
    if categories:
        data["categories"] = [
            {"code": c.code, "name": c.name, **({"parent": c.parent.code} if c.parent else {})}
            for c in categories
        ]
    data["product_sets"] = []
    for product_set in ProductSet.objects.filter(program=program).order_by("code"):
        item: dict[str, Any] = {"code": product_set.code}
        if product_set.name:
            item["name"] = product_set.name
        item["categories"] = list(product_set.categories)
        item["skus"] = list(product_set.skus)
        if product_set.exclude_skus:
            item["exclude_skus"] = list(product_set.exclude_skus)
        data["product_sets"].append(item)
    qualification = _section(program, PROGRAM_QUALIFICATION)
    if not program.tier_grace_days:
        del qualification["grace_days"]
    data[PROGRAM_QUALIFICATION.file_key] = qualification
    window = _section(program, PROGRAM_OCCURRED_AT)
    defaults = {
        key: Program._meta.get_field(field).default
        for field, key in PROGRAM_OCCURRED_AT.file_keys.items()
    }
    if window != defaults:
        data[PROGRAM_OCCURRED_AT.file_key] = window
    data["tiers"] = []
    for tier in Tier.objects.filter(program=program).order_by("rank", "threshold", "id"):
        item = {
            "code": tier.code,
            "name": tier.name,
            "threshold": _dec(tier.threshold),
            "earn_percent": _dec(tier.earn_percent),
        }
        if tier.max_share is not None:
            item["max_share"] = _dec(tier.max_share, "max_share")
        if tier.perks:
            item["perks"] = tier.perks
        data["tiers"].append(item)
    external = external_rule_ids(program)
    rules = (
        EarnRule.objects.filter(program=program)
        .exclude(pk__in=external)
        .prefetch_related("outlets", "tiers", "include", "exclude")
        .order_by("-priority", "code")
    )
    data["earn_rules"] = [_dump_rule(rule) for rule in rules]
    data["outlets"] = [
        {
            "code": o.code,
            "name": o.name,
            "channel": o.channel,
            **({} if o.is_active else {"active": False}),
        }
        for o in Outlet.objects.filter(program=program).order_by("code")
    ]
    rewards = list(
        Reward.objects.filter(program=program).prefetch_related("include", "tiers").order_by("code")
    )
    if rewards:
        data["rewards"] = [_dump_reward(reward) for reward in rewards]
    return data


def _dump_reward(reward: Reward) -> dict:
    item: dict[str, Any] = {"code": reward.code, "name": reward.name}
    if reward.description:
        item["description"] = reward.description
    item["kind"] = reward.kind
    if not reward.is_active:
        item["active"] = False
    item["points_cost"] = _dec(reward.points_cost)
    for key in REWARD_PARAMS:
        if key in Reward.KIND_PARAMS.get(reward.kind, ()) and getattr(reward, key) is not None:
            item[key] = _dec(getattr(reward, key))
    item["include"] = _codes(reward.include)
    item["coupon_days"] = reward.coupon_days
    item["stock"] = reward.stock
    item["limit_per_customer"] = reward.limit_per_customer
    item["tiers"] = _codes(reward.tiers)
    for key in ("valid_from", "valid_until"):
        value = getattr(reward, key)
        item[key] = value.isoformat() if value is not None else None
    return item


def _dec(value: Decimal | None, key: str = "") -> str | None:
    if value is None:
        return None
    number = value.normalize()
    if key in TWO_PLACES and number.as_tuple().exponent > -2:
        number = number.quantize(Decimal("0.01"))
    if number == 0:
        number = number.copy_abs()
    return format(number, "f")


def _codes(manager) -> list[str]:
    return sorted(obj.code for obj in manager.all())


def _value(value, key: str):
    """A model value as the file writes it: decimals as strings, pickers as sorted codes."""
    if isinstance(value, Decimal):
        return _dec(value, key)
    if hasattr(value, "all"):  # a many-to-many manager
        return _codes(value)
    return value


def _section(program: Program, section: Section) -> dict[str, Any]:
    return {key: _value(getattr(program, field), key) for field, key in section.file_keys.items()}


def _dump_rule(rule: EarnRule) -> dict:
    item: dict[str, Any] = {"code": rule.code}
    if rule.name:
        item["name"] = rule.name
    if rule.description:
        item["description"] = rule.description
    item["kind"] = rule.kind
    if not rule.is_active:
        item["active"] = False
    for key in RULE_PARAMS:
        value = getattr(rule, key)
        if value in (None, ""):
            continue
        item[key] = _dec(value) if isinstance(value, Decimal) else value
    for key in RULE_CONDITIONS:
        value = getattr(rule, key)
        if key in RULE_M2M:
            value = _codes(value)
        if value in (None, "", [], False) or (key == "priority" and value == 0):
            continue
        if isinstance(value, Decimal):
            value = _dec(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        item[key] = value
    return item
