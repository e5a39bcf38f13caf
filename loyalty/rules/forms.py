"""Admin forms of the constructor: friendly widgets for list fields, per-kind rule fields.

Validation stays in the models (``EarnRule.clean`` and its ``clean_<kind>``); these forms only
turn widgets into values, hide what the chosen kind does not use (and blank it server-side, so
a value left in a hidden field never blocks saving), and keep pickers inside one programme.
"""

from __future__ import annotations

import json

from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty.rules.definition import (
    CATEGORY_KEYS,
    PRODUCT_SET_KEYS,
    PROGRAM_FIELDS,
    REDEMPTION_POLICY_KEYS,
)
from loyalty.rules.models import (
    Category,
    Channel,
    EarnRule,
    Outlet,
    ProductSet,
    Program,
    RedemptionPolicy,
    Reward,
    RewardKind,
    RuleKind,
    Tier,
)

DAYS = [
    (1, _("Monday")),
    (2, _("Tuesday")),
    (3, _("Wednesday")),
    (4, _("Thursday")),
    (5, _("Friday")),
    (6, _("Saturday")),
    (7, _("Sunday")),
]


class CommaListField(forms.CharField):
    """A JSON list of strings typed as "a, b, c"."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.TextInput(attrs={"size": 60}))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return value
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return value

    def to_python(self, value):
        text = super().to_python(value) or ""
        return [part.strip() for part in text.split(",") if part.strip()]


class ProgrammeScopedForm(forms.ModelForm):
    """Pickers of outlets, tiers and product sets show only the form's programme."""

    program: Program | None = None
    scoped = {
        "outlets": Outlet,
        "tiers": Tier,
        "include": ProductSet,
        "exclude": ProductSet,
        "accrual_exclude": ProductSet,
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        program = self.form_program()
        for name, model in self.scoped.items():
            if name in self.fields:
                qs = model.objects.select_related("program").order_by("program__code", "code")
                if program is not None and program.pk:
                    qs = qs.filter(program=program)
                elif isinstance(self.instance, Program):
                    qs = qs.none()  # a new programme has no product sets yet
                else:
                    self.fields[name].label_from_instance = lambda o: f"{o.program.code}: {o}"
                self.fields[name].queryset = qs

    def form_program(self) -> Program | None:
        if self.program is not None:
            return self.program
        if isinstance(self.instance, Program):
            return self.instance if self.instance.pk else None
        if getattr(self.instance, "program_id", None):
            return self.instance.program
        return None

    def clean(self):
        data = super().clean()
        program = data.get("program") or self.form_program()
        if program is None:
            return data
        for name in self.scoped:
            for obj in data.get(name) or ():
                if obj.program_id != program.pk:
                    self.add_error(
                        name,
                        _("“%(obj)s” belongs to another programme.") % {"obj": obj},
                    )
                    break
        return data


def for_program(form_class, program: Program | None):
    """The form class bound to a programme (inlines know it from their parent)."""
    return type(form_class.__name__, (form_class,), {"program": program})


class ProgramForm(ProgrammeScopedForm):
    class Meta:
        model = Program
        fields = list(PROGRAM_FIELDS)


class RedemptionPolicyForm(ProgrammeScopedForm):
    scoped = {"exclude": ProductSet}

    class Meta:
        model = RedemptionPolicy
        fields = ["program", *REDEMPTION_POLICY_KEYS]


class ProductSetForm(ProgrammeScopedForm):
    categories = CommaListField(
        label=_("categories"), help_text=_("Category codes, comma-separated; children included")
    )
    skus = CommaListField(label=_("SKUs"), help_text=_("Comma-separated"))
    exclude_skus = CommaListField(label=_("excluded SKUs"), help_text=_("Comma-separated"))

    class Meta:
        model = ProductSet
        fields = ["program", *PRODUCT_SET_KEYS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        program = self.form_program()
        if program is not None and program.pk:
            codes = list(
                Category.objects.filter(program=program)
                .order_by("code")
                .values_list("code", flat=True)
            )
            if codes:
                self.fields["categories"].help_text = _(
                    "Category codes, comma-separated; children included. Known: %(codes)s"
                ) % {"codes": ", ".join(codes)}


class CategoryForm(forms.ModelForm):
    class Meta:
        model = Category
        fields = ["program", *CATEGORY_KEYS]


class EarnRuleForm(ProgrammeScopedForm):
    days_of_week = forms.TypedMultipleChoiceField(
        label=_("days of week"),
        choices=DAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every day"),
    )
    hours = CommaListField(
        label=_("hours"),
        help_text=_("Local time windows, comma-separated, e.g. 08:00-11:00, 22:00-02:00"),
    )
    channels = forms.MultipleChoiceField(
        label=_("channels"),
        choices=Channel.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every channel"),
    )
    segments = CommaListField(label=_("segments"), help_text=_("Segment codes, comma-separated"))

    class Meta:
        model = EarnRule
        fields = [
            "program",
            "code",
            "name",
            "description",
            "kind",
            "is_active",
            *EarnRule.PARAMS,
            *EarnRule.CONDITIONS,
            *EarnRule.LIMITS,
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "kind" in self.fields:
            params = {kind: list(names) for kind, names in EarnRule.KIND_PARAMS.items()}
            self.fields["kind"].widget.attrs.update(
                {"data-kind-params": json.dumps(params), "class": "earn-rule-kind"}
            )

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind in RuleKind.values:
            # The fields of other kinds are hidden in the browser; what they hold is dropped.
            for name in EarnRule.PARAMS:
                if name not in EarnRule.KIND_PARAMS[kind] and name in data:
                    data[name] = "" if name == "event" else None
        return data

    class Media:
        js = ["rules/earn_rule_kind.js"]


class RewardForm(ProgrammeScopedForm):
    """A catalogue item: the kind's parameters only, a free product needs its products."""

    class Meta:
        model = Reward
        fields = [
            "program",
            "code",
            "name",
            "description",
            "kind",
            "is_active",
            "points_cost",
            *Reward.PARAMS,
            "include",
            "coupon_days",
            "stock",
            "limit_per_customer",
            "tiers",
            "valid_from",
            "valid_until",
        ]

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind in RewardKind.values:
            for name in Reward.PARAMS:
                if name not in Reward.KIND_PARAMS[kind] and name in data:
                    data[name] = None  # a hidden or stale value of another kind is dropped
            if (
                kind == RewardKind.FREE_PRODUCT
                and "include" in self.fields
                and not data.get("include")
            ):
                self.add_error(
                    "include", _("A free product needs the product sets it may be chosen from.")
                )
        return data
