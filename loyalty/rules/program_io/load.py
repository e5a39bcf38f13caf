"""``program_load``: the file read into a plan, then written in one transaction.

Rows are matched by code; unchanged rows are not saved, so re-loading a file adds no
audit-history noise. What the file no longer holds is removed as the package docstring says.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import ProtectedError

from loyalty.rules.definition import (
    CATEGORY_KEYS,
    OUTLET_KEYS,
    PRODUCT_SET_KEYS,
    PROGRAM_FIELDS,
    REDEMPTION_POLICY_KEYS,
    TIER_KEYS,
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
    PROGRAM_KEYS,
    PROGRAM_PATHS,
    REWARD_FILE_KEYS,
    RULE_FILE_KEYS,
    external_rule_ids,
    scalar_fields,
)
from loyalty.rules.program_io.plan import plan_read
from loyalty.rules.program_io.reader import Reader
from loyalty.rules.versioning import program_config_changed


def program_load(*, data: Any) -> Program:
    """Create or update the programme ``data["code"]`` from the definition format.

    One transaction: either everything in the file is applied or nothing is.
    Raises ValidationFailed whose ``fields`` map JSON paths to messages.
    """
    reader = Reader()
    top = reader.obj(data, "", PROGRAM_KEYS, required=("code", "name"))
    reader.raise_problems()
    plan = plan_read(reader, top)
    reader.raise_problems()
    with transaction.atomic():
        program = plan_write(reader, plan)
        reader.raise_problems()  # model validation problems roll the transaction back
    return program


def plan_write(reader: Reader, plan: dict) -> Program:
    """Apply ``plan`` (from ``plan_read``); model validation problems go to ``reader``, and
    the caller rolls back if there are any."""
    fields = plan["program"]
    program = Program.objects.select_for_update().filter(code=fields["code"]).first()
    if program is None:
        program = Program(code=fields["code"])
    defaults = Program(code=fields["code"])  # absent keys mean the model's defaults
    changed = _assign(
        program,
        {
            field: fields.get(field, getattr(defaults, field))
            for field in scalar_fields(Program, PROGRAM_FIELDS)
            if field != "code"
        },
    )
    if not reader.full_clean(program, "", PROGRAM_PATHS):
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
    _write_rewards(reader, program, plan["rewards"], sets=sets, tiers=tiers)
    # Tier ranks and retired outlets are written with .update(), which sends no signal.
    program_config_changed(program.pk)
    return program


def _assign(obj, values: dict) -> bool:
    """Set the fields; True if the row is new or any value differs (unchanged rows are not
    saved, so re-loading a file adds no audit-history noise)."""
    changed = obj.pk is None
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def _write_categories(reader, program, items) -> None:
    existing = {c.code: c for c in Category.objects.filter(program=program)}
    saved = {}
    for i, item in enumerate(items):
        category = existing.get(item["code"]) or Category(program=program, code=item["code"])
        changed = _assign(category, {"name": item["name"]})
        if reader.full_clean(category, f"categories[{i}]", CATEGORY_KEYS):
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
            if reader.full_clean(category, f"categories[{i}]", CATEGORY_KEYS):
                category.save(update_fields=["parent"])
    Category.objects.filter(program=program).exclude(code__in=list(saved)).delete()


def _write_product_sets(reader, program, items) -> dict[str, ProductSet]:
    existing = {s.code: s for s in ProductSet.objects.filter(program=program)}
    saved = {}
    for i, item in enumerate(items):
        product_set = existing.get(item["code"]) or ProductSet(program=program, code=item["code"])
        changed = _assign(product_set, {k: item[k] for k in PRODUCT_SET_KEYS if k != "code"})
        if reader.full_clean(product_set, f"product_sets[{i}]", PRODUCT_SET_KEYS):
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
        policy,
        {
            field: policy_data.get(field, getattr(defaults, field))
            for field in scalar_fields(RedemptionPolicy, REDEMPTION_POLICY_KEYS)
        },
    )
    if reader.full_clean(policy, "redemption", REDEMPTION_POLICY_KEYS, exclude=["program"]):
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
    for rank, item in enumerate(items):
        tier = existing.get(item["code"]) or Tier(program=program, code=item["code"])
        changed = _assign(tier, {"rank": rank, **{k: item[k] for k in TIER_KEYS if k != "code"}})
        if reader.full_clean(tier, f"tiers[{rank}]", TIER_KEYS):
            if changed:
                tier.save()
            saved[item["code"]] = tier
    return saved


def _write_outlets(reader, program, items) -> dict[str, Outlet]:
    existing = {o.code: o for o in Outlet.objects.filter(program=program)}
    saved = {}
    for i, item in enumerate(items):
        outlet = existing.get(item["code"]) or Outlet(program=program, code=item["code"])
        changed = _assign(outlet, {k: item[k] for k in OUTLET_KEYS if k != "code"})
        if reader.full_clean(outlet, f"outlets[{i}]", OUTLET_KEYS):
            if changed:
                outlet.save()
            saved[item["code"]] = outlet
    Outlet.objects.filter(program=program).exclude(code__in=list(saved)).update(is_active=False)
    return saved


def _write_rules(reader, program, items, *, sets, tiers, outlets) -> None:
    external = external_rule_ids(program)
    existing = {r.code: r for r in EarnRule.objects.filter(program=program)}
    targets = {"outlets": outlets, "tiers": tiers, "include": sets, "exclude": sets}
    saved = set()
    for i, item in enumerate(items):
        path = f"earn_rules[{i}]"
        code = item["fields"]["code"]
        rule = existing.get(code) or EarnRule(program=program)
        if rule.pk in external:
            reader.add(f"{path}.code", f"The code {code!r} belongs to a campaign or offer rule.")
            continue
        changed = _assign(rule, item["fields"])
        if reader.full_clean(rule, path, RULE_FILE_KEYS):
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


def _write_rewards(reader, program, items, *, sets, tiers) -> None:
    """The catalogue: rewards matched by code; one missing from the file is deleted, or
    deactivated if coupons were issued for it (they keep pointing at it)."""
    existing = {r.code: r for r in Reward.objects.filter(program=program)}
    targets = {"include": sets, "tiers": tiers}
    saved = set()
    for i, item in enumerate(items):
        path = f"rewards[{i}]"
        code = item["fields"]["code"]
        reward = existing.get(code) or Reward(program=program)
        changed = _assign(reward, item["fields"])
        if reader.full_clean(reward, path, REWARD_FILE_KEYS, exclude=["program"]):
            if changed:
                reward.save()
            for key, codes in item["m2m"].items():
                getattr(reward, key).set([targets[key][c] for c in codes])
            saved.add(code)
    for code, reward in existing.items():
        if code in saved:
            continue
        try:
            with transaction.atomic():
                reward.delete()
        except ProtectedError:  # coupons were issued: keep it for them
            if reward.is_active:
                reward.is_active = False
                reward.save(update_fields=["is_active"])
