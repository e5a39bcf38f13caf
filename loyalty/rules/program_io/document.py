"""The programme file's keys, the model fields they hold, and the rules the file covers.

The field lists themselves are declared once in ``loyalty.rules.definition`` (programme,
policy, tiers, outlets, product sets, categories) and on ``EarnRule`` (the rule's); this
module only derives what reading, writing and dumping the file share.
"""

from __future__ import annotations

from loyalty.rules.definition import PROGRAM_SECTIONS
from loyalty.rules.models import EarnRule, Program

# The programme's lists of parts, after its own sections.
PROGRAM_PARTS = (
    "redemption",
    "categories",
    "product_sets",
    "tiers",
    "earn_rules",
    "outlets",
    "rewards",
)
PROGRAM_KEYS = {
    *(
        key
        for section in PROGRAM_SECTIONS
        for key in ((section.file_key,) if section.file_key else section.file_keys.values())
    ),
    *PROGRAM_PARTS,
}
# Model field → JSON path of each programme field ("tier_metric" → "tier_qualification.metric").
PROGRAM_PATHS = {
    field: f"{section.file_key}.{key}" if section.file_key else key
    for section in PROGRAM_SECTIONS
    for field, key in section.file_keys.items()
}

# Rule keys in the order they are written; the model field has the same name except "active".
RULE_PARAMS = EarnRule.PARAMS
RULE_CONDITIONS = (*EarnRule.CONDITIONS, *EarnRule.LIMITS)
RULE_KEYS = {"code", "name", "description", "kind", "active", *RULE_PARAMS, *RULE_CONDITIONS}
RULE_FILE_KEYS = {
    **{f: f for f in (*RULE_PARAMS, *RULE_CONDITIONS, "code", "name", "description", "kind")},
    "is_active": "active",
}
# The rule's pickers: the file names them by code; the value is the kind of part they name.
RULE_M2M = {
    "outlets": "outlets",
    "tiers": "tiers",
    "include": "product_sets",
    "exclude": "product_sets",
}


# The rewards catalogue (optional key "rewards"); the model field has the key's name except
# "active". The kind's parameters are written only for kinds that use them.
REWARD_PARAMS = ("amount", "percent", "max_amount")
REWARD_KEYS = {
    "code",
    "name",
    "description",
    "kind",
    "active",
    "points_cost",
    *REWARD_PARAMS,
    "include",
    "coupon_days",
    "stock",
    "limit_per_customer",
    "tiers",
    "valid_from",
    "valid_until",
}
REWARD_FILE_KEYS = {
    **{k: k for k in REWARD_KEYS if k not in ("active", "include", "tiers")},
    "is_active": "active",
}


def scalar_fields(model, fields) -> tuple[str, ...]:
    """``fields`` without the many-to-many ones (those are set after the row is saved)."""
    return tuple(f for f in fields if not model._meta.get_field(f).many_to_many)


def external_rule_ids(program: Program) -> set[int]:
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
