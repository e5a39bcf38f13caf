"""Import and export of a whole programme in the programme format (docs/programme-format.md).

``program_load`` reads the format strictly: every unknown key and every invalid value is
reported with its JSON path (``tiers[1].threshold``), all problems at once, and nothing is
written unless everything is valid. The same model validation the admin runs (``full_clean``,
each rule kind's ``clean_<kind>``) runs here, so a file cannot hold what the admin refuses.

The file is the programme's full definition: on update, tiers, product sets and categories
missing from it are deleted (a tier that customers hold cannot be), rules missing from it are
deleted, or deactivated if points were already awarded by them, and outlets missing from it are
deactivated (checks and terminals' API keys point at them). Rules that belong to a campaign or a
personal offer are owned by those and are neither exported nor touched.

``program_dump`` writes the same format back: the keys docs/programme-format.md shows are always
present,
the optional ones only when they differ from their defaults, and decimals as strings, so
``program_load(data=program_dump(program=p))`` leaves ``p`` as it was.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError

from core import errors
from loyalty.rules.models import (
    Category,
    EarnRule,
    Outlet,
    ProductSet,
    Program,
    RedemptionPolicy,
    Tier,
)

Problems = dict[str, list[str]]

PROGRAM_KEYS = {
    "code",
    "name",
    "currency",
    "region",
    "timezone",
    "active",
    "gross_margin",
    "points",
    "accrual",
    "redemption",
    "categories",
    "product_sets",
    "tier_qualification",
    "tiers",
    "earn_rules",
    "outlets",
}
POINTS_KEYS = {
    "precision": "precision",
    "rounding": "rounding",
    "point_value": "point_value",
    "lifetime_days": "lifetime_days",
    "hold_days": "hold_days",
    "allow_negative_after_refund": "allow_negative_after_refund",
}
QUALIFICATION_KEYS = {
    "metric": "tier_metric",
    "period_days": "tier_period_days",
    "grace_days": "tier_grace_days",
}
REDEMPTION_FIELDS = (
    "max_share",
    "min_order_amount",
    "min_balance",
    "max_points_per_check",
    "allow_promo_items",
    "earn_on_redeemed",
)
# Rule keys in the order they are written; the model field has the same name except "active".
RULE_PARAMS = EarnRule.PARAMS
RULE_CONDITIONS = (*EarnRule.CONDITIONS, *EarnRule.LIMITS)
RULE_KEYS = {"code", "name", "description", "kind", "active", *RULE_PARAMS, *RULE_CONDITIONS}
RULE_M2M = {
    "outlets": "outlets",
    "tiers": "tiers",
    "include": "product_sets",
    "exclude": "product_sets",
}
# Decimals written with at least two places (shares and money per point), as
# docs/programme-format.md shows.
TWO_PLACES = {"max_share", "point_value", "gross_margin"}


# --- reading -------------------------------------------------------------------------------------


class _Reader:
    """Type checks with JSON paths; every problem is collected, none raised."""

    def __init__(self) -> None:
        self.problems: Problems = {}

    def add(self, path: str, message: str) -> None:
        self.problems.setdefault(path, []).append(message)

    def obj(self, value, path: str, allowed: set[str], required: tuple[str, ...] = ()) -> dict:
        if not isinstance(value, dict):
            self.add(path or "$", "Must be an object.")
            return {}
        for key in sorted(set(value) - set(allowed)):
            self.add(_join(path, key), "Unknown key.")
        for key in required:
            if key not in value:
                self.add(_join(path, key), "This key is required.")
        return value

    def list(self, value, path: str) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(path, "Must be a list.")
            return []
        return value

    def text(self, value, path: str, *, blank: bool = False) -> str:
        if value is None and blank:
            return ""
        if not isinstance(value, str) or (not blank and not value.strip()):
            self.add(path, "Must be a non-empty string." if not blank else "Must be a string.")
            return ""
        return value

    def integer(self, value, path: str, *, null: bool = False, minimum: int | None = 0):
        if value is None and null:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            self.add(path, "Must be a whole number" + (" or null." if null else "."))
            return None
        if minimum is not None and value < minimum:
            self.add(path, f"Must be {minimum} or more.")
            return None
        return value

    def boolean(self, value, path: str) -> bool:
        if not isinstance(value, bool):
            self.add(path, "Must be true or false.")
            return False
        return value

    def decimal(self, value, path: str, *, null: bool = False) -> Decimal | None:
        if value is None and null:
            return None
        # Floats are refused: 0.1 in JSON is not 0.1 once parsed; the format uses strings.
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.add(path, 'Must be a decimal string like "0.30"' + (" or null." if null else "."))
            return None
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            self.add(path, f"{value!r} is not a decimal number.")
            return None
        return number

    def instant(self, value, path: str) -> datetime | None:
        if value is None:
            return None
        try:
            at = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            at = None
        if at is None:
            self.add(path, 'Must be an ISO 8601 date-time like "2026-03-01T00:00:00+03:00".')
        elif at.tzinfo is None:
            self.add(path, "Must include a time-zone offset (like +03:00 or Z).")
            return None
        return at

    def codes(self, value, path: str, known: set[str] | None, what: str) -> list[str]:
        result = []
        for i, code in enumerate(self.list(value, path)):
            item = f"{path}[{i}]"
            if not isinstance(code, str) or not code:
                self.add(item, "Must be a non-empty string.")
            elif known is not None and code not in known:
                self.add(item, f"No {what} with code {code!r} in this file.")
            elif code in result:
                self.add(item, f"{code!r} is listed twice.")
            else:
                result.append(code)
        return result


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _unique_codes(reader: _Reader, items: list, path: str) -> set[str]:
    codes: set[str] = set()
    for i, item in enumerate(items):
        code = item.get("code") if isinstance(item, dict) else None
        if isinstance(code, str) and code:
            if code in codes:
                reader.add(f"{path}[{i}].code", f"The code {code!r} is used twice.")
            codes.add(code)
    return codes


def _model_problems(reader: _Reader, exc: ValidationError, path: str, keys: dict[str, str]):
    """Map a model's ValidationError to JSON paths (``keys``: model field → JSON key)."""
    for field, messages in exc.message_dict.items():
        if field == "__all__" or field not in keys:
            target = path or "$"
        else:
            target = _join(path, keys[field])
        for message in messages:
            reader.add(target, str(message))


def _full_clean(reader: _Reader, obj, path: str, keys: dict[str, str], exclude=()) -> bool:
    try:
        obj.full_clean(exclude=list(exclude))
    except ValidationError as exc:
        _model_problems(reader, exc, path, keys)
        return False
    return True


def _assign(obj, values: dict) -> bool:
    """Set the fields; True if the row is new or any value differs (unchanged rows are not
    saved, so re-loading a file adds no audit-history noise)."""
    changed = obj.pk is None
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def _fail_if(reader: _Reader) -> None:
    if reader.problems:
        raise errors.ValidationFailed(
            "The programme definition is invalid.", fields=dict(sorted(reader.problems.items()))
        )


# --- load ----------------------------------------------------------------------------------------


def program_load(*, data: Any) -> Program:
    """Create or update the programme ``data["code"]`` from the definition format.

    One transaction: either everything in the file is applied or nothing is.
    Raises ValidationFailed whose ``fields`` map JSON paths to messages.
    """
    reader = _Reader()
    top = reader.obj(data, "", PROGRAM_KEYS, required=("code", "name"))
    _fail_if(reader)
    plan = _read(reader, top)
    _fail_if(reader)
    with transaction.atomic():
        program = _write(reader, plan)
        _fail_if(reader)  # model validation problems roll the transaction back
    return program


def _read(reader: _Reader, top: dict) -> dict:
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

    points = reader.obj(top.get("points", {}), "points", set(POINTS_KEYS))
    for key, field in POINTS_KEYS.items():
        if key not in points:
            continue
        path = f"points.{key}"
        if key == "point_value":
            prog[field] = reader.decimal(points[key], path)
        elif key in ("lifetime_days",):
            prog[field] = reader.integer(points[key], path, null=True, minimum=1)
        elif key in ("hold_days", "precision"):
            prog[field] = reader.integer(points[key], path)
        elif key == "rounding":
            prog[field] = reader.text(points[key], path)
        else:
            prog[field] = reader.boolean(points[key], path)

    qualification = reader.obj(
        top.get("tier_qualification", {}), "tier_qualification", set(QUALIFICATION_KEYS)
    )
    for key, field in QUALIFICATION_KEYS.items():
        if key not in qualification:
            continue
        path = f"tier_qualification.{key}"
        if key == "metric":
            prog[field] = reader.text(qualification[key], path)
        elif key == "period_days":
            prog[field] = reader.integer(qualification[key], path, null=True, minimum=1)
        else:
            prog[field] = reader.integer(qualification[key], path)

    # Categories first: product sets name them, and a category names its parent.
    categories = reader.list(top.get("categories"), "categories")
    category_codes = _unique_codes(reader, categories, "categories")
    plan["categories"] = []
    for i, item in enumerate(categories):
        path = f"categories[{i}]"
        item = reader.obj(item, path, {"code", "name", "parent"}, required=("code", "name"))
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
    set_codes = _unique_codes(reader, sets, "product_sets")
    plan["product_sets"] = []
    for i, item in enumerate(sets):
        path = f"product_sets[{i}]"
        item = reader.obj(
            item,
            path,
            {"code", "name", "categories", "skus", "exclude_skus"},
            required=("code",),
        )
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

    accrual = reader.obj(top.get("accrual", {}), "accrual", {"exclude", "promo_items"})
    plan["accrual_exclude"] = reader.codes(
        accrual.get("exclude"), "accrual.exclude", set_codes, "product set"
    )
    if "promo_items" in accrual:
        prog["accrual_promo_items"] = reader.boolean(accrual["promo_items"], "accrual.promo_items")

    plan["redemption"] = None
    if top.get("redemption") is not None:
        red = reader.obj(top["redemption"], "redemption", {*REDEMPTION_FIELDS, "exclude"})
        policy: dict[str, Any] = {}
        for key in REDEMPTION_FIELDS:
            if key not in red:
                continue
            path = f"redemption.{key}"
            if key in ("allow_promo_items", "earn_on_redeemed"):
                policy[key] = reader.boolean(red[key], path)
            else:
                policy[key] = reader.decimal(red[key], path, null=key == "max_points_per_check")
        policy["exclude"] = reader.codes(
            red.get("exclude"), "redemption.exclude", set_codes, "product set"
        )
        plan["redemption"] = policy

    tiers = reader.list(top.get("tiers"), "tiers")
    tier_codes = _unique_codes(reader, tiers, "tiers")
    plan["tiers"] = []
    for i, item in enumerate(tiers):
        path = f"tiers[{i}]"
        item = reader.obj(
            item,
            path,
            {"code", "name", "threshold", "earn_percent", "max_share", "perks"},
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
    outlet_codes = _unique_codes(reader, outlets, "outlets")
    plan["outlets"] = []
    for i, item in enumerate(outlets):
        path = f"outlets[{i}]"
        item = reader.obj(
            item, path, {"code", "name", "channel", "active"}, required=("code", "name")
        )
        plan["outlets"].append(
            {
                "code": reader.text(item.get("code"), f"{path}.code"),
                "name": reader.text(item.get("name"), f"{path}.name"),
                "channel": reader.text(item.get("channel", "offline"), f"{path}.channel"),
                "is_active": reader.boolean(item.get("active", True), f"{path}.active"),
            }
        )

    rules = reader.list(top.get("earn_rules"), "earn_rules")
    _unique_codes(reader, rules, "earn_rules")
    known = {"outlets": outlet_codes, "tiers": tier_codes, "product_sets": set_codes}
    names = {"outlets": "outlet", "tiers": "tier", "product_sets": "product set"}
    plan["earn_rules"] = []
    for i, item in enumerate(rules):
        path = f"earn_rules[{i}]"
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
        fields["priority"] = reader.integer(
            item.get("priority", 0), f"{path}.priority", minimum=None
        )
        fields["exclusive"] = reader.boolean(item.get("exclusive", False), f"{path}.exclusive")
        fields["event"] = reader.text(item.get("event", ""), f"{path}.event", blank=True)
        fields["valid_from"] = reader.instant(item.get("valid_from"), f"{path}.valid_from")
        fields["valid_until"] = reader.instant(item.get("valid_until"), f"{path}.valid_until")
        # Lists the model validates itself (day numbers, hour windows, channels, segments).
        for key in ("days_of_week", "hours", "channels", "segments"):
            fields[key] = reader.list(item.get(key), f"{path}.{key}")
        for key, kind in RULE_M2M.items():
            rule["m2m"][key] = reader.codes(
                item.get(key), f"{path}.{key}", known[kind], names[kind]
            )
        plan["earn_rules"].append(rule)
    return plan


def _external_rule_ids(program: Program) -> set[int]:
    """Rules owned by a campaign or a personal offer (reverse links added by other apps)."""
    relations = {f.name for f in EarnRule._meta.get_fields() if f.auto_created}
    ids: set[int] = set()
    for link in ("campaign_link", "offer_link"):
        if link in relations:
            ids.update(
                EarnRule.objects.filter(program=program, **{f"{link}__isnull": False}).values_list(
                    "pk", flat=True
                )
            )
    return ids


def _write(reader: _Reader, plan: dict) -> Program:
    fields = plan["program"]
    program = Program.objects.select_for_update().filter(code=fields["code"]).first()
    if program is None:
        program = Program(code=fields["code"])
    defaults = Program(code=fields["code"])  # absent keys mean the model's defaults
    changed = _assign(
        program,
        {
            field: fields.get(field, getattr(defaults, field))
            for field in (
                "name",
                "currency",
                "region",
                "timezone",
                "is_active",
                "precision",
                "rounding",
                "point_value",
                "lifetime_days",
                "hold_days",
                "allow_negative_after_refund",
                "accrual_promo_items",
                "tier_metric",
                "tier_period_days",
                "tier_grace_days",
                "gross_margin",
            )
        },
    )
    program_keys = {
        **{v: f"points.{k}" for k, v in POINTS_KEYS.items()},
        **{v: f"tier_qualification.{k}" for k, v in QUALIFICATION_KEYS.items()},
        "accrual_promo_items": "accrual.promo_items",
        "is_active": "active",
        **{f: f for f in ("code", "name", "currency", "region", "timezone", "gross_margin")},
    }
    if not _full_clean(reader, program, "", program_keys):
        return program
    if changed:
        program.save()

    _write_categories(reader, program, plan["categories"])
    sets = _write_product_sets(reader, program, plan["product_sets"])
    if reader.problems:
        return program
    program.accrual_exclude.set([sets[code] for code in plan["accrual_exclude"]])
    _write_policy(reader, program, plan["redemption"], sets)
    tiers = _write_tiers(reader, program, plan["tiers"])
    outlets = _write_outlets(reader, program, plan["outlets"])
    if reader.problems:
        return program
    _write_rules(reader, program, plan["earn_rules"], sets=sets, tiers=tiers, outlets=outlets)
    return program


def _write_categories(reader, program, items) -> None:
    existing = {c.code: c for c in Category.objects.filter(program=program)}
    saved = {}
    keys = {"parent": "parent", "code": "code", "name": "name"}
    for i, item in enumerate(items):
        category = existing.get(item["code"]) or Category(program=program, code=item["code"])
        changed = _assign(category, {"name": item["name"]})
        if _full_clean(reader, category, f"categories[{i}]", keys):
            if changed:
                category.save()
            saved[item["code"]] = category
    if reader.problems:
        return
    for i, item in enumerate(items):
        category = saved[item["code"]]
        parent = saved[item["parent"]] if item["parent"] else None
        if category.parent_id != (parent.pk if parent else None):
            category.parent = parent
            if _full_clean(reader, category, f"categories[{i}]", keys):
                category.save(update_fields=["parent"])
    Category.objects.filter(program=program).exclude(code__in=list(saved)).delete()


def _write_product_sets(reader, program, items) -> dict[str, ProductSet]:
    existing = {s.code: s for s in ProductSet.objects.filter(program=program)}
    saved = {}
    keys = {f: f for f in ("code", "name", "categories", "skus", "exclude_skus")}
    for i, item in enumerate(items):
        product_set = existing.get(item["code"]) or ProductSet(program=program, code=item["code"])
        changed = _assign(product_set, {k: item[k] for k in keys if k != "code"})
        if _full_clean(reader, product_set, f"product_sets[{i}]", keys):
            if changed:
                product_set.save()
            saved[item["code"]] = product_set
    ProductSet.objects.filter(program=program).exclude(code__in=list(saved)).delete()
    return saved


def _write_policy(reader, program, policy_data, sets) -> None:
    policy = RedemptionPolicy.objects.filter(program=program).first()
    if policy_data is None:
        if policy is not None:
            policy.delete()
        return
    defaults = RedemptionPolicy()
    policy = policy or RedemptionPolicy(program=program)
    changed = _assign(
        policy, {key: policy_data.get(key, getattr(defaults, key)) for key in REDEMPTION_FIELDS}
    )
    keys = {f: f for f in REDEMPTION_FIELDS}
    if _full_clean(reader, policy, "redemption", keys, exclude=["program"]):
        if changed:
            policy.save()
        policy.exclude.set([sets[code] for code in policy_data["exclude"]])


def _write_tiers(reader, program, items) -> dict[str, Tier]:
    existing = {t.code: t for t in Tier.objects.filter(program=program)}
    gone = [t for code, t in existing.items() if code not in {i["code"] for i in items}]
    for tier in gone:
        try:
            with transaction.atomic():
                tier.delete()
        except ProtectedError:
            reader.add(
                "tiers", f"The tier {tier.code!r} is held by customers; it cannot be removed."
            )
    # Ranks are unique per programme: park the kept tiers out of the way before re-ranking.
    wanted = {item["code"]: rank for rank, item in enumerate(items)}
    kept = [t for t in existing.values() if t not in gone]
    if any(wanted.get(t.code) != t.rank for t in kept):
        for offset, tier in enumerate(kept):
            tier.rank = 10000 + offset
            Tier.objects.filter(pk=tier.pk).update(rank=tier.rank)
    saved = {}
    keys = {f: f for f in ("code", "name", "threshold", "earn_percent", "max_share", "perks")}
    for rank, item in enumerate(items):
        tier = existing.get(item["code"]) or Tier(program=program, code=item["code"])
        changed = _assign(
            tier,
            {"rank": rank, **{k: item[k] for k in ("name", "threshold", "earn_percent")}},
        )
        changed = _assign(tier, {"max_share": item["max_share"], "perks": item["perks"]}) or changed
        if _full_clean(reader, tier, f"tiers[{rank}]", keys):
            if changed:
                tier.save()
            saved[item["code"]] = tier
    return saved


def _write_outlets(reader, program, items) -> dict[str, Outlet]:
    existing = {o.code: o for o in Outlet.objects.filter(program=program)}
    saved = {}
    keys = {"code": "code", "name": "name", "channel": "channel", "is_active": "active"}
    for i, item in enumerate(items):
        outlet = existing.get(item["code"]) or Outlet(program=program, code=item["code"])
        changed = _assign(outlet, {k: item[k] for k in ("name", "channel", "is_active")})
        if _full_clean(reader, outlet, f"outlets[{i}]", keys):
            if changed:
                outlet.save()
            saved[item["code"]] = outlet
    Outlet.objects.filter(program=program).exclude(code__in=list(saved)).update(is_active=False)
    return saved


def _write_rules(reader, program, items, *, sets, tiers, outlets) -> None:
    external = _external_rule_ids(program)
    existing = {r.code: r for r in EarnRule.objects.filter(program=program)}
    targets = {"outlets": outlets, "tiers": tiers, "include": sets, "exclude": sets}
    keys = {f: f for f in (*RULE_PARAMS, *RULE_CONDITIONS, "code", "name", "description", "kind")}
    keys["is_active"] = "active"
    saved = set()
    for i, item in enumerate(items):
        path = f"earn_rules[{i}]"
        code = item["fields"]["code"]
        rule = existing.get(code) or EarnRule(program=program)
        if rule.pk in external:
            reader.add(f"{path}.code", f"The code {code!r} belongs to a campaign or offer rule.")
            continue
        changed = _assign(rule, item["fields"])
        if _full_clean(reader, rule, path, keys):
            if changed:
                rule.save()
            for key, codes in item["m2m"].items():
                getattr(rule, key).set([targets[key][c] for c in codes])
            saved.add(code)
    for code, rule in existing.items():
        if code in saved or rule.pk in external:
            continue
        try:
            with transaction.atomic():
                rule.delete()
        except ProtectedError:  # points were awarded by it: keep it for the history
            if rule.is_active:
                rule.is_active = False
                rule.save(update_fields=["is_active", "updated_at"])


# --- dump ----------------------------------------------------------------------------------------


def _dec(value: Decimal | None, key: str = "") -> str | None:
    if value is None:
        return None
    number = value.normalize()
    if key in TWO_PLACES and number.as_tuple().exponent > -2:
        number = number.quantize(Decimal("0.01"))
    if number == 0:
        number = number.copy_abs()
    text = format(number, "f")
    return text


def _codes(manager) -> list[str]:
    return sorted(obj.code for obj in manager.all())


def program_dump(*, program: Program) -> dict:
    """The programme as the definition format (a JSON-ready dict). Reads only."""
    data: dict[str, Any] = {
        "code": program.code,
        "name": program.name,
        "currency": program.currency,
        "region": program.region,
        "timezone": program.timezone,
    }
    if not program.is_active:
        data["active"] = False
    if program.gross_margin is not None:
        data["gross_margin"] = _dec(program.gross_margin, "gross_margin")
    data["points"] = {
        "precision": program.precision,
        "rounding": program.rounding,
        "point_value": _dec(program.point_value, "point_value"),
        "lifetime_days": program.lifetime_days,
        "hold_days": program.hold_days,
        "allow_negative_after_refund": program.allow_negative_after_refund,
    }
    data["accrual"] = {
        "exclude": _codes(program.accrual_exclude),
        "promo_items": program.accrual_promo_items,
    }
    policy = RedemptionPolicy.objects.filter(program=program).first()
    data["redemption"] = None
    if policy is not None:
        data["redemption"] = {
            "max_share": _dec(policy.max_share, "max_share"),
            "min_order_amount": _dec(policy.min_order_amount),
            "min_balance": _dec(policy.min_balance),
            "max_points_per_check": _dec(policy.max_points_per_check),
            "exclude": _codes(policy.exclude),
            "allow_promo_items": policy.allow_promo_items,
            "earn_on_redeemed": policy.earn_on_redeemed,
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
    qualification: dict[str, Any] = {
        "metric": program.tier_metric,
        "period_days": program.tier_period_days,
    }
    if program.tier_grace_days:
        qualification["grace_days"] = program.tier_grace_days
    data["tier_qualification"] = qualification
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
    external = _external_rule_ids(program)
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
    return data


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
