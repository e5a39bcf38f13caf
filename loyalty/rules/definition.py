"""The fields a marketer defines for a programme and its parts, declared once.

The constructor (``forms.py``, ``admin.py``) shows these fields in this order, and the programme
file (``program_io``, docs/programme-format.md) reads and writes them under the keys given here.
Each mapping goes from the model field to its key in the file. The rule's own lists live on
``EarnRule`` (``PARAMS``, ``CONDITIONS``, ``LIMITS``).
"""

from __future__ import annotations

from typing import NamedTuple

from django.utils.translation import gettext_lazy as _


class Section(NamedTuple):
    """Programme fields shown together in the admin and held by one object of the file."""

    title: str | None  # the admin fieldset's title
    file_key: str | None  # the file's object holding these fields; None: the top level
    file_keys: dict[str, str]  # model field → its key in that object

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.file_keys)


def _keys(*same: str, **renamed: str) -> dict[str, str]:
    return {**{name: name for name in same}, **renamed}


PROGRAM_MAIN = Section(
    None, None, _keys("code", "name", "currency", "region", "timezone", is_active="active")
)
PROGRAM_POINTS = Section(
    _("Points"),
    "points",
    _keys(
        "precision",
        "rounding",
        "point_value",
        "lifetime_days",
        "hold_days",
        "allow_negative_after_refund",
        "reservation_minutes",
    ),
)
PROGRAM_ACCRUAL = Section(
    _("Accrual"),
    "accrual",
    _keys(accrual_exclude="exclude", accrual_promo_items="promo_items"),
)
PROGRAM_QUALIFICATION = Section(
    _("Tier qualification"),
    "tier_qualification",
    _keys(tier_metric="metric", tier_period_days="period_days", tier_grace_days="grace_days"),
)
# How far a check's or event's ``occurred_at`` may be from our clock (the API rejects the rest).
PROGRAM_OCCURRED_AT = Section(
    _("Check times"),
    "occurred_at",
    _keys(occurred_at_past_days="past_days", occurred_at_future_minutes="future_minutes"),
)
# Top-level keys of the file too, shown apart in the admin.
PROGRAM_REPORTS = Section(_("Reports"), None, _keys("gross_margin"))
PROGRAM_SECTIONS = (
    PROGRAM_MAIN,
    PROGRAM_POINTS,
    PROGRAM_ACCRUAL,
    PROGRAM_QUALIFICATION,
    PROGRAM_OCCURRED_AT,
    PROGRAM_REPORTS,
)
PROGRAM_FIELDS = tuple(field for section in PROGRAM_SECTIONS for field in section.fields)

# The parts of a programme; the file holds the redemption policy under "redemption", and each
# tier, outlet, product set and category as one object of its list. A tier's rank is its
# position in the file's list and its own column in the admin.
REDEMPTION_POLICY_KEYS = _keys(
    "max_share",
    "min_order_amount",
    "min_balance",
    "max_points_per_check",
    "exclude",
    "allow_promo_items",
    "earn_on_redeemed",
)
TIER_KEYS = _keys("code", "name", "threshold", "earn_percent", "max_share", "perks")
OUTLET_KEYS = _keys("code", "name", "channel", is_active="active")
PRODUCT_SET_KEYS = _keys("code", "name", "categories", "skus", "exclude_skus")
CATEGORY_KEYS = _keys("code", "name", "parent")
