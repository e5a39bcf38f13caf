"""The programme file read into a plan: plain values by model field, every problem collected.

Nothing here touches the database; ``load.plan_write`` applies the plan.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from loyalty.rules.definition import (
    CATEGORY_KEYS,
    OUTLET_KEYS,
    PRODUCT_SET_KEYS,
    PROGRAM_ACCRUAL,
    PROGRAM_OCCURRED_AT,
    PROGRAM_POINTS,
    PROGRAM_QUALIFICATION,
    REDEMPTION_POLICY_KEYS,
    TIER_KEYS,
)
from loyalty.rules.models import RedemptionPolicy
from loyalty.rules.program_io.document import REWARD_KEYS, RULE_KEYS, RULE_M2M, scalar_fields
from loyalty.rules.program_io.reader import Reader


def plan_read(reader: Reader, top: dict) -> dict:
    """The plan of the file's top object ``top``; problems go to ``reader``."""
    plan: dict[str, Any] = {"program": {}}
    prog = plan["program"]
    prog["code"] = reader.text(top.get("code"), "code")
    prog["name"] = reader.text(top.get("name"), "name")
    for key in ("currency", "region", "timezone"):
        if key in top:
            prog[key] = reader.text(top[key], key)
    if "active" in top:
        prog["is_active"] = reader.boolean(top["active"], "active")
    if "gross_margin" in top:
        margin = reader.decimal(top["gross_margin"], "gross_margin", null=True)
        if margin is not None and not Decimal("0") <= margin <= Decimal("1"):
            reader.add("gross_margin", 'Must be a fraction from 0 to 1, like "0.35".')
        prog["gross_margin"] = margin

    section = PROGRAM_POINTS.file_key
    points = reader.obj(top.get(section, {}), section, set(PROGRAM_POINTS.file_keys.values()))
    for field, key in PROGRAM_POINTS.file_keys.items():
        if key not in points:
            continue
        path = f"{section}.{key}"
        if field == "point_value":
            prog[field] = reader.decimal(points[key], path)
        elif field == "lifetime_days":
            prog[field] = reader.integer(points[key], path, null=True, minimum=1)
        elif field in ("hold_days", "precision"):
            prog[field] = reader.integer(points[key], path)
        elif field == "reservation_minutes":
            minutes = reader.integer(points[key], path, minimum=1)
            if minutes is not None and minutes > 24 * 60:
                reader.add(path, "Must be 1440 (a day) or less.")
                minutes = None
            if minutes is not None:
                prog[field] = minutes
        elif field == "rounding":
            prog[field] = reader.text(points[key], path)
        else:
            prog[field] = reader.boolean(points[key], path)

    section = PROGRAM_QUALIFICATION.file_key
    qualification = reader.obj(
        top.get(section, {}), section, set(PROGRAM_QUALIFICATION.file_keys.values())
    )
    for field, key in PROGRAM_QUALIFICATION.file_keys.items():
        if key not in qualification:
            continue
        path = f"{section}.{key}"
        if field == "tier_metric":
            prog[field] = reader.text(qualification[key], path)
        elif field == "tier_period_days":
            prog[field] = reader.integer(qualification[key], path, null=True, minimum=1)
        else:
            prog[field] = reader.integer(qualification[key], path)

    section = PROGRAM_OCCURRED_AT.file_key
    window = reader.obj(top.get(section, {}), section, set(PROGRAM_OCCURRED_AT.file_keys.values()))
    for field, key in PROGRAM_OCCURRED_AT.file_keys.items():
        if key in window:
            prog[field] = reader.integer(window[key], f"{section}.{key}")

    # Categories first: product sets name them, and a category names its parent.
    categories = reader.list(top.get("categories"), "categories")
    category_codes = reader.unique_codes(categories, "categories")
    plan["categories"] = []
    for i, item in enumerate(categories):
        path = f"categories[{i}]"
        item = reader.obj(item, path, set(CATEGORY_KEYS.values()), required=("code", "name"))
        parent = item.get("parent")
        if parent is not None and parent not in category_codes:
            reader.add(f"{path}.parent", f"No category with code {parent!r} in this file.")
        plan["categories"].append(
            {
                "code": reader.text(item.get("code"), f"{path}.code"),
                "name": reader.text(item.get("name"), f"{path}.name"),
                "parent": parent if isinstance(parent, str) else None,
            }
        )

    sets = reader.list(top.get("product_sets"), "product_sets")
    set_codes = reader.unique_codes(sets, "product_sets")
    plan["product_sets"] = []
    for i, item in enumerate(sets):
        path = f"product_sets[{i}]"
        item = reader.obj(item, path, set(PRODUCT_SET_KEYS.values()), required=("code",))
        plan["product_sets"].append(
            {
                "code": reader.text(item.get("code"), f"{path}.code"),
                "name": reader.text(item.get("name", ""), f"{path}.name", blank=True),
                "categories": reader.codes(item.get("categories"), f"{path}.categories", None, ""),
                "skus": reader.codes(item.get("skus"), f"{path}.skus", None, ""),
                "exclude_skus": reader.codes(
                    item.get("exclude_skus"), f"{path}.exclude_skus", None, ""
                ),
            }
        )

    section = PROGRAM_ACCRUAL.file_key
    accrual = reader.obj(top.get(section, {}), section, set(PROGRAM_ACCRUAL.file_keys.values()))
    plan["accrual_exclude"] = reader.codes(
        accrual.get("exclude"), "accrual.exclude", set_codes, "product set"
    )
    if "promo_items" in accrual:
        prog["accrual_promo_items"] = reader.boolean(accrual["promo_items"], "accrual.promo_items")

    plan["redemption"] = None
    if top.get("redemption") is not None:
        red = reader.obj(top["redemption"], "redemption", set(REDEMPTION_POLICY_KEYS.values()))
        policy: dict[str, Any] = {}
        for field in scalar_fields(RedemptionPolicy, REDEMPTION_POLICY_KEYS):
            key = REDEMPTION_POLICY_KEYS[field]
            if key not in red:
                continue
            path = f"redemption.{key}"
            if field in ("allow_promo_items", "earn_on_redeemed"):
                policy[field] = reader.boolean(red[key], path)
            else:
                policy[field] = reader.decimal(red[key], path, null=field == "max_points_per_check")
        policy["exclude"] = reader.codes(
            red.get("exclude"), "redemption.exclude", set_codes, "product set"
        )
        plan["redemption"] = policy

    tiers = reader.list(top.get("tiers"), "tiers")
    tier_codes = reader.unique_codes(tiers, "tiers")
    plan["tiers"] = []
    for i, item in enumerate(tiers):
        path = f"tiers[{i}]"
        item = reader.obj(
            item,
            path,
            set(TIER_KEYS.values()),
            required=("code", "name", "threshold", "earn_percent"),
        )
        plan["tiers"].append(
            {
                "code": reader.text(item.get("code"), f"{path}.code"),
                "name": reader.text(item.get("name"), f"{path}.name"),
                "threshold": reader.decimal(item.get("threshold"), f"{path}.threshold"),
                "earn_percent": reader.decimal(item.get("earn_percent"), f"{path}.earn_percent"),
                "max_share": reader.decimal(item.get("max_share"), f"{path}.max_share", null=True),
                "perks": reader.text(item.get("perks", ""), f"{path}.perks", blank=True),
            }
        )

    outlets = reader.list(top.get("outlets"), "outlets")
    outlet_codes = reader.unique_codes(outlets, "outlets")
    plan["outlets"] = []
    for i, item in enumerate(outlets):
        path = f"outlets[{i}]"
        item = reader.obj(item, path, set(OUTLET_KEYS.values()), required=("code", "name"))
        plan["outlets"].append(
            {
                "code": reader.text(item.get("code"), f"{path}.code"),
                "name": reader.text(item.get("name"), f"{path}.name"),
                "channel": reader.text(item.get("channel", "offline"), f"{path}.channel"),
                "is_active": reader.boolean(item.get("active", True), f"{path}.active"),
            }
        )

    rules = reader.list(top.get("earn_rules"), "earn_rules")
    reader.unique_codes(rules, "earn_rules")
    known = {"outlets": outlet_codes, "tiers": tier_codes, "product_sets": set_codes}
    plan["earn_rules"] = [
        _rule_read(reader, item, f"earn_rules[{i}]", known) for i, item in enumerate(rules)
    ]
    rewards = reader.list(top.get("rewards"), "rewards")
    reader.unique_codes(rewards, "rewards")
    plan["rewards"] = [
        _reward_read(reader, item, f"rewards[{i}]", known) for i, item in enumerate(rewards)
    ]
    return plan


def _reward_read(reader: Reader, item, path: str, known: dict[str, set[str]]) -> dict:
    item = reader.obj(item, path, REWARD_KEYS, required=("code", "name", "kind", "points_cost"))
    fields: dict[str, Any] = {
        "code": reader.text(item.get("code"), f"{path}.code"),
        "name": reader.text(item.get("name"), f"{path}.name"),
        "description": reader.text(item.get("description", ""), f"{path}.description", blank=True),
        "kind": reader.text(item.get("kind"), f"{path}.kind"),
        "is_active": reader.boolean(item.get("active", True), f"{path}.active"),
        "points_cost": reader.decimal(item.get("points_cost"), f"{path}.points_cost"),
        "coupon_days": reader.integer(
            item.get("coupon_days", 30), f"{path}.coupon_days", minimum=1
        ),
        "stock": reader.integer(item.get("stock"), f"{path}.stock", null=True),
        "limit_per_customer": reader.integer(
            item.get("limit_per_customer"), f"{path}.limit_per_customer", null=True, minimum=1
        ),
        "valid_from": reader.instant(item.get("valid_from"), f"{path}.valid_from"),
        "valid_until": reader.instant(item.get("valid_until"), f"{path}.valid_until"),
    }
    for key in ("amount", "percent", "max_amount"):
        fields[key] = reader.decimal(item.get(key), f"{path}.{key}", null=True)
    m2m = {
        "include": reader.codes(
            item.get("include"), f"{path}.include", known["product_sets"], "product set"
        ),
        "tiers": reader.codes(item.get("tiers"), f"{path}.tiers", known["tiers"], "tier"),
    }
    if fields["kind"] == "free_product" and not m2m["include"] and "include" not in reader.problems:
        reader.add(f"{path}.include", "A free product needs the product sets it covers.")
    return {"fields": fields, "m2m": m2m}


_PART_NAMES = {"outlets": "outlet", "tiers": "tier", "product_sets": "product set"}


def _rule_read(reader: Reader, item, path: str, known: dict[str, set[str]]) -> dict:
    item = reader.obj(item, path, RULE_KEYS, required=("code", "kind"))
    rule: dict[str, Any] = {"fields": {}, "m2m": {}}
    fields = rule["fields"]
    fields["code"] = reader.text(item.get("code"), f"{path}.code")
    fields["kind"] = reader.text(item.get("kind"), f"{path}.kind")
    fields["name"] = reader.text(item.get("name", ""), f"{path}.name", blank=True)
    fields["description"] = reader.text(
        item.get("description", ""), f"{path}.description", blank=True
    )
    fields["is_active"] = reader.boolean(item.get("active", True), f"{path}.active")
    for key in ("factor", "points", "min_amount", "min_order_amount", "budget_points"):
        fields[key] = reader.decimal(item.get(key), f"{path}.{key}", null=True)
    for key in ("every", "lifetime_days", "limit_per_customer"):
        fields[key] = reader.integer(item.get(key), f"{path}.{key}", null=True)
    fields["priority"] = reader.integer(item.get("priority", 0), f"{path}.priority", minimum=None)
    fields["exclusive"] = reader.boolean(item.get("exclusive", False), f"{path}.exclusive")
    fields["event"] = reader.text(item.get("event", ""), f"{path}.event", blank=True)
    fields["valid_from"] = reader.instant(item.get("valid_from"), f"{path}.valid_from")
    fields["valid_until"] = reader.instant(item.get("valid_until"), f"{path}.valid_until")
    # Lists the model validates itself (day numbers, hour windows, channels, segments).
    for key in ("days_of_week", "hours", "channels", "segments"):
        fields[key] = reader.list(item.get(key), f"{path}.{key}")
    for key, kind in RULE_M2M.items():
        rule["m2m"][key] = reader.codes(
            item.get(key), f"{path}.{key}", known[kind], _PART_NAMES[kind]
        )
    return rule
