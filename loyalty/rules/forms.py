"""Admin forms of the constructor: friendly widgets for list fields, per-kind rule fields.

Validation stays in the models (``EarnRule.clean`` and its ``clean_<kind>``); these forms only
turn widgets into values, hide what the chosen kind does not use (and blank it server-side, so
a value left in a hidden field never blocks saving), and keep pickers inside one programme.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from unfold.widgets import UnfoldAdminCheckboxSelectMultipleWidget, UnfoldAdminTextInputWidget

from loyalty.rules.definition import (
    CATEGORY_KEYS,
    PRODUCT_SET_KEYS,
    PROGRAM_FIELDS,
    REDEMPTION_POLICY_KEYS,
    TIER_KEYS,
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
        kwargs.setdefault("widget", UnfoldAdminTextInputWidget())
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


# Help under every field of the constructor that has none of its own (the models' help texts
# stay as they are; these need no migration).
HELP = {
    "code": _("Latin letters, digits and hyphens; used by the till and in the programme file"),
    "name": _("What customers and staff see"),
    "currency": _("Three letters, like RUB"),
    "timezone": _("Days of week, hours and birthdays are counted in this time zone"),
    "precision": _("Whole points, or points with two decimals"),
    "rounding": _("How a rule's points for a check are rounded"),
    "allow_negative_after_refund": _(
        "A refund may take back points already spent, leaving a debt repaid by future points"
    ),
    "accrual_exclude": _("Lines from these product sets earn nothing"),
    "accrual_promo_items": _("Lines the till marks as promo earn points too"),
    "tier_metric": _("What counts towards a tier's threshold"),
    "is_active": _("Off: ignored by the till until switched on again"),
    "rank": _("0 is the entry tier; a higher rank is a higher tier"),
    "threshold": _("Spend, visits or points (the programme's metric) to reach this tier"),
    "earn_percent": _("Base accrual: percent of the paid amount, like 5"),
    "perks": _("Shown to customers in the cabinet"),
    "channel": _("Offline store, online shop, app or partner"),
    "parent": _("A product set naming the parent includes this category"),
    "min_order_amount": _("Empty or 0: any check"),
    "min_balance": _("Points cannot be redeemed below this balance"),
    "max_points_per_check": _("Empty: no limit"),
    "exclude": _("Lines from these product sets are left out"),
    "include": _("None ticked: all products"),
    "allow_promo_items": _("Promo lines may be paid with points"),
    "earn_on_redeemed": _("The part of a check paid with points earns points too"),
    "kind": _("What the rule does; the parameters below follow the kind"),
    "factor": _("The base accrual is multiplied by this, like 2 for double points"),
    "points": _("Points the rule gives"),
    "min_amount": _("The check amount from which the bonus is given"),
    "every": _("The bonus is given on every N-th purchase"),
    "event": _("review, survey, subscription, registration or birthday"),
    "valid_from": _("Empty: from now"),
    "valid_until": _("Empty: no end"),
    "outlets": _("None ticked: every outlet"),
    "tiers": _("None ticked: every tier"),
    "limit_per_customer": _("Empty: no limit"),
    "budget_points": _("Empty: no budget; the rule stops when the budget is spent"),
}


def add_help(form: forms.BaseForm) -> None:
    for name, field in form.fields.items():
        if not field.help_text and name in HELP:
            field.help_text = HELP[name]


HUNDRED = Decimal("100")
FRACTION = Decimal("0.0001")


class PercentField(forms.CharField):
    """A share typed in percent (30 → 30 %) and stored as the fraction the model keeps (0.3).

    The programme file and the engine keep fractions (0.30); people think in percent. Shown
    with a "%" after the box; "30", "30.5" and "30,5" are read alike.
    """

    default_error_messages = {
        "invalid": _("Type a percentage from 0 to 100, like 30 for 30 %."),
        "range": _("A percentage is from 0 to 100: type 30 for 30 %, not 0.3 or 300."),
        "places": _("Give at most two decimal places, like 12.5 or 12.25."),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", UnfoldAdminTextInputWidget(attrs={"suffix": "%"}))
        kwargs["widget"].attrs.setdefault("inputmode", "decimal")
        kwargs["widget"].attrs.setdefault("size", 6)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
            percent = (Decimal(str(value)) * HUNDRED).normalize()
            text = f"{percent:f}"
            return text
        return value

    def to_python(self, value):
        text = str(super().to_python(value) or "").strip().replace(",", ".").rstrip("%").strip()
        if not text:
            return None
        try:
            percent = Decimal(text)
        except InvalidOperation:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        if not percent.is_finite():
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        if percent < 0 or percent > HUNDRED:
            raise ValidationError(self.error_messages["range"], code="range")
        fraction = percent / HUNDRED
        if fraction != fraction.quantize(FRACTION):
            raise ValidationError(self.error_messages["places"], code="places")
        return fraction.quantize(FRACTION)


class ProgrammeScopedForm(forms.ModelForm):
    """Pickers of outlets, tiers and product sets show only the form's programme."""

    program: Program | None = None
    # Set on the forms of the programme page's inlines: their programme is the page's, and a
    # programme not saved yet has nothing to pick from.
    on_programme_page = False
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
                elif isinstance(self.instance, Program) or self.on_programme_page:
                    qs = qs.none()  # a new programme has no outlets, tiers or sets yet
                else:
                    self.fields[name].label_from_instance = lambda o: f"{o.program.code}: {o}"
                self.fields[name].queryset = qs
        self._plain_numbers()
        add_help(self)

    def _plain_numbers(self) -> None:
        """5.0000 shows as 5, 100000.00 as 100000: the stored scale is no part of the value."""
        for name, field in self.fields.items():
            if isinstance(field, forms.DecimalField) and not self.is_bound:
                value = self.initial.get(name)
                if isinstance(value, Decimal) and value.is_finite():
                    self.initial[name] = f"{value.normalize():f}"

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
    return type(form_class.__name__, (form_class,), {"program": program, "on_programme_page": True})


class ProgramForm(ProgrammeScopedForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "is_active" in self.fields:  # a programme is feminine in Russian: «активна»
            self.fields["is_active"].label = _("the programme is running")

    gross_margin = PercentField(
        label=_("gross margin, %"),
        required=False,
        help_text=_("Like 35 for 35 %: campaign ROI in the reports uses it. Empty: no ROI"),
    )

    class Meta:
        model = Program
        fields = list(PROGRAM_FIELDS)


class RedemptionPolicyForm(ProgrammeScopedForm):
    scoped = {"exclude": ProductSet}
    max_share = PercentField(
        label=_("max share of a check paid with points, %"),
        initial=Decimal("1"),
        help_text=_("Like 30: points pay at most 30 % of a check; 100: the whole check"),
    )

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
            codes = getattr(program, "_category_codes", None)
            if codes is None:  # read once per page, not once per product set of the inline
                codes = program._category_codes = list(
                    Category.objects.filter(program=program)
                    .order_by("code")
                    .values_list("code", flat=True)
                )
            if codes:
                self.fields["categories"].help_text = _(
                    "Category codes, comma-separated; children included. Known: %(codes)s"
                ) % {"codes": ", ".join(codes)}


class TierForm(ProgrammeScopedForm):
    max_share = PercentField(
        label=_("share paid with points, %"),
        required=False,
        help_text=_("Empty: the redemption policy's share"),
    )

    class Meta:
        model = Tier
        fields = ["program", "rank", *TIER_KEYS]


class CategoryForm(forms.ModelForm):
    class Meta:
        model = Category
        fields = ["program", *CATEGORY_KEYS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        add_help(self)


class EarnRuleForm(ProgrammeScopedForm):
    days_of_week = forms.TypedMultipleChoiceField(
        label=_("days of week"),
        choices=DAYS,
        coerce=int,
        required=False,
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
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
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
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
