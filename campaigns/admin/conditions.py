"""The segment conditions builder: lists with labels in the admin's language, and a live count.

The JSON of ``Segment.conditions`` stays the storage and the import/export format: the builder
(Alpine.js, ``campaigns/static/campaigns/segment_builder.js``) reads it from, and writes it to,
the form's ``conditions`` textarea, which can still be shown and edited as JSON. The server
validates whatever arrives with ``conditions_validate`` (errors name the place in the JSON).
The count comes from ``segment_accounts``, the evaluator the nightly refresh runs.
"""

from __future__ import annotations

import json

from django import forms
from django.utils import timezone
from django.utils.dates import MONTHS
from django.utils.translation import gettext_lazy as _

from campaigns.segments import FIELDS, NUMBER_OPS, PERIOD_FIELDS, SET_OPS
from loyalty.rules.models import Outlet, Tier

FIELD_LABELS = {
    "recency_days": _("days since the last purchase"),
    "frequency": _("number of purchases"),
    "monetary": _("amount spent"),
    "registration_days": _("days since joining"),
    "tier": _("tier"),
    "birthday_month": _("birthday month"),
    "enrolled_outlet": _("joined at the outlet"),
    "purchase_outlet": _("bought at the outlet"),
    "consent_sms": _("agreed to SMS"),
    "consent_email": _("agreed to emails"),
}
OP_LABELS = {
    "gte": _("at least"),
    "lte": _("at most"),
    "gt": _("more than"),
    "lt": _("less than"),
    "eq": _("exactly"),
    "between": _("from … to"),
    "in": _("one of"),
    "not_in": _("none of"),
    "current": _("the current month"),
    "is": _("is"),
}
TEXTS = {
    "all": _("all of these (AND)"),
    "any": _("any of these (OR)"),
    "add_condition": _("Add a condition"),
    "add_group": _("Add a group"),
    "remove": _("Remove"),
    "yes": _("yes"),
    "no": _("no"),
    "period": _("over the last … days (empty: all time)"),
    "json": _("Show or hide the JSON"),
    "members": _("Members now in %(program)s: %(count)s"),
    "counting": _("Counting…"),
    "invalid": _("Not valid yet: %(errors)s"),
    "deep": _("These conditions are nested deeper than the builder shows: edit them as JSON."),
    "empty": _("No conditions: every member of the programme."),
    "field": _("field"),
    "operator": _("operator"),
    "value": _("value"),
}


def _kind(field: str) -> str:
    ops = FIELDS[field]
    if ops == ("is",):
        return "bool"
    if set(ops) <= {*SET_OPS, "current"}:
        return "set"
    return "number"


def catalogue() -> dict:
    """What the builder offers, with labels in the active language (read per request)."""
    tiers: dict[str, str] = {}
    for code, name in Tier.objects.order_by("rank", "code").values_list("code", "name"):
        tiers.setdefault(code, f"{name} ({code})")
    outlets: dict[str, str] = {}
    for code, name in Outlet.objects.order_by("code").values_list("code", "name"):
        outlets.setdefault(code, f"{name} ({code})")
    outlet_choices = [{"code": c, "label": label} for c, label in outlets.items()]
    return {
        "fields": [
            {
                "code": field,
                "label": str(FIELD_LABELS[field]),
                "ops": list(ops),
                "kind": _kind(field),
                "period": field in PERIOD_FIELDS,
                "decimal": field == "monetary",
            }
            for field, ops in FIELDS.items()
        ],
        "ops": {code: str(label) for code, label in OP_LABELS.items()},
        "number_ops": list(NUMBER_OPS),
        "choices": {
            "tier": [{"code": c, "label": label} for c, label in tiers.items()],
            "enrolled_outlet": outlet_choices,
            "purchase_outlet": outlet_choices,
            "birthday_month": [{"code": n, "label": str(MONTHS[n])} for n in range(1, 13)],
        },
        "texts": {key: str(text) for key, text in TEXTS.items()},
        "now": timezone.now().isoformat(),
    }


class ConditionsBuilderWidget(forms.Textarea):
    """The JSON textarea, with the builder drawn over it (the textarea is what is posted)."""

    template_name = "admin/campaigns/segment/conditions_widget.html"

    def __init__(self, attrs=None):
        super().__init__(
            attrs={"rows": 12, "cols": 90, "class": "vLargeTextField", **(attrs or {})}
        )

    class Media:
        js = ("campaigns/segment_builder.js",)
        css = {"all": ("campaigns/segment_builder.css",)}

    def format_value(self, value):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return value
        return json.dumps(value or {}, ensure_ascii=False, indent=2)

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["catalogue"] = catalogue()
        context["catalogue_id"] = f"sb-catalogue-{context['widget']['attrs'].get('id') or name}"
        return context
