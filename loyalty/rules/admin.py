"""The constructor: a marketer builds a programme in the admin and simulates baskets.

The programme page holds its tiers, redemption policy, outlets, categories, product sets and
earn rules as inlines; every one of them also has its own list with filters. Every change is
recorded by django-simple-history (who, what, when) and shown under "History". The simulator
(a button on the programme page) runs a typed basket through the POS's engine.
"""

from __future__ import annotations

import json
from decimal import Decimal
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from core import errors
from loyalty.rules.definition import (
    CATEGORY_KEYS,
    OUTLET_KEYS,
    PRODUCT_SET_KEYS,
    PROGRAM_SECTIONS,
    TIER_KEYS,
)
from loyalty.rules.engine import LineInput
from loyalty.rules.forms import (
    CategoryForm,
    CommaListField,
    EarnRuleForm,
    ProductSetForm,
    ProgramForm,
    RedemptionPolicyForm,
    RewardForm,
    for_program,
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
from loyalty.rules.program_io import program_dump
from loyalty.rules.simulator import basket_simulate

RULE_PARAMS_FIELDSET = (
    _("Parameters of the kind"),
    {
        "fields": EarnRule.PARAMS,
        "description": _("Only the parameters the chosen kind uses are shown."),
    },
)
RULE_CONDITIONS_FIELDSET = (
    _("When the rule applies"),
    {"fields": EarnRule.CONDITIONS},
)
RULE_LIMITS_FIELDSET = (
    _("Limits and lifetime"),
    {"fields": (*EarnRule.LIMITS, "budget_used")},
)
RULE_FIELDSETS = (RULE_PARAMS_FIELDSET, RULE_CONDITIONS_FIELDSET, RULE_LIMITS_FIELDSET)


class CheckboxPickers:
    """Many-to-many pickers (outlets, tiers, product sets) as checkboxes."""

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs["widget"] = forms.CheckboxSelectMultiple
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class ProgrammeChildInline:
    """Inline forms know their programme, so pickers list only its outlets, tiers and sets."""

    def get_formset(self, request, obj=None, **kwargs):
        kwargs["form"] = for_program(self.form, obj)
        return super().get_formset(request, obj, **kwargs)


class TierInline(ProgrammeChildInline, admin.TabularInline):
    model = Tier
    extra = 0
    fields = ("rank", *TIER_KEYS)


class RedemptionPolicyInline(CheckboxPickers, ProgrammeChildInline, admin.StackedInline):
    model = RedemptionPolicy
    form = RedemptionPolicyForm
    max_num = 1
    extra = 1
    can_delete = True


class OutletInline(ProgrammeChildInline, admin.TabularInline):
    model = Outlet
    extra = 0
    fields = tuple(OUTLET_KEYS)


class CategoryInline(ProgrammeChildInline, admin.TabularInline):
    model = Category
    form = CategoryForm
    extra = 0
    fields = tuple(CATEGORY_KEYS)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "parent":
            object_id = request.resolver_match.kwargs.get("object_id")
            kwargs["queryset"] = Category.objects.filter(program_id=object_id).order_by("code")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ProductSetInline(ProgrammeChildInline, admin.TabularInline):
    model = ProductSet
    form = ProductSetForm
    extra = 0
    fields = tuple(PRODUCT_SET_KEYS)


class EarnRuleInline(CheckboxPickers, ProgrammeChildInline, admin.StackedInline):
    model = EarnRule
    form = EarnRuleForm
    extra = 0
    show_change_link = True
    readonly_fields = ("budget_used",)
    fieldsets = (
        (None, {"fields": ("code", "name", "kind", "is_active", "description")}),
        *RULE_FIELDSETS,
    )


REWARD_FIELDSETS = (
    (None, {"fields": ("code", "name", "kind", "is_active", "description", "points_cost")}),
    (
        _("What the coupon takes off"),
        {
            "fields": (*Reward.PARAMS, "include"),
            "description": _(
                "Money off: amount. Percent off: percent and an optional cap. A free product: "
                "one unit of the cheapest matching line. A gift: handed out by staff."
            ),
        },
    ),
    (
        _("Who may claim it, and for how long"),
        {
            "fields": (
                "tiers",
                "stock",
                "claimed",
                "limit_per_customer",
                "valid_from",
                "valid_until",
                "coupon_days",
            )
        },
    ),
)


class RewardInline(CheckboxPickers, ProgrammeChildInline, admin.StackedInline):
    model = Reward
    form = RewardForm
    extra = 0
    show_change_link = True
    readonly_fields = ("claimed",)
    fieldsets = REWARD_FIELDSETS


@admin.register(Program)
class ProgramAdmin(CheckboxPickers, SimpleHistoryAdmin):
    form = ProgramForm
    list_display = ("code", "name", "currency", "is_active", "tiers_count", "rules_count")
    list_filter = ("is_active",)
    search_fields = ("code", "name")
    change_form_template = "admin/rules/program/change_form.html"
    change_list_template = "admin/rules/program/change_list.html"
    actions = ["export_json"]
    fieldsets = tuple((section.title, {"fields": section.fields}) for section in PROGRAM_SECTIONS)
    inlines = [
        TierInline,
        RedemptionPolicyInline,
        OutletInline,
        CategoryInline,
        ProductSetInline,
        EarnRuleInline,
        RewardInline,
    ]

    @admin.display(description=_("tiers"))
    def tiers_count(self, obj):
        return obj.tiers.count()

    @admin.display(description=_("earn rules"))
    def rules_count(self, obj):
        return obj.earn_rules.count()

    @admin.action(description=_("Export as JSON (programme definition format)"))
    def export_json(self, request, queryset):
        dumps = [program_dump(program=p) for p in queryset.order_by("code")]
        body = json.dumps(dumps[0] if len(dumps) == 1 else dumps, ensure_ascii=False, indent=2)
        name = dumps[0]["code"] if len(dumps) == 1 else "programmes"
        response = HttpResponse(body, content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.json"'
        return response

    def get_urls(self):
        view = self.admin_site.admin_view(self.simulator_view)
        return [
            path("simulator/", view, name="rules_program_simulator"),
            *super().get_urls(),
        ]

    def simulator_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        program_id = request.POST.get("program") or request.GET.get("program")
        program = Program.objects.filter(pk=program_id).first() if program_id else None
        data = request.POST if request.method == "POST" else None
        form = SimulatorForm(data, program=program)
        lines = SimulatorLineFormSet(data, prefix="lines")
        simulation = None
        if data is not None and form.is_valid() and lines.is_valid():
            basket = [row for row in lines.cleaned_data if row and not row.get("DELETE")]
            if not basket:
                form.add_error(None, gettext("Type at least one line."))
            else:
                simulation = self._simulate(form, basket)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Basket simulator"),
            "opts": self.model._meta,
            "form": form,
            "lines": lines,
            "simulation": simulation,
            "program": program,
        }
        return TemplateResponse(request, "admin/rules/simulator.html", context)

    @staticmethod
    def _simulate(form, basket):
        data = form.cleaned_data
        try:
            return basket_simulate(
                program=data["program"],
                tier=data["tier"],
                outlet=data["outlet"],
                lines=[
                    LineInput(
                        sku=row["sku"],
                        category=row.get("category") or "",
                        quantity=row["quantity"],
                        price=row["price"],
                        amount=row.get("amount"),
                        is_promo=row.get("is_promo", False),
                    )
                    for row in basket
                ],
                at=data["at"],
                redeem=data["redeem"] or None,
                available=data["available"],
                purchases_count=data["purchases_count"],
                segments=data["segments"],
                coupons=data["coupons"],
            )
        except errors.DomainError as exc:
            for field, messages in (exc.fields or {}).items():
                target = "redeem" if field.startswith("redeem") else None
                for message in messages:
                    form.add_error(target, f"{field}: {message}" if target is None else message)
            if not exc.fields:
                redemption = (
                    errors.InsufficientPoints,
                    errors.RedeemNotAllowed,
                    errors.RedeemLimitExceeded,
                )
                form.add_error("redeem" if isinstance(exc, redemption) else None, exc.detail)
            return None


class SimulatorForm(forms.Form):
    program = forms.ModelChoiceField(Program.objects.order_by("code"), label=_("programme"))
    tier = forms.ModelChoiceField(
        Tier.objects.none(),
        label=_("tier"),
        required=False,
        empty_label=_("entry tier"),
    )
    outlet = forms.ModelChoiceField(Outlet.objects.none(), label=_("outlet"))
    at = forms.DateTimeField(
        label=_("date and time"),
        help_text=_("Local time, e.g. 2026-06-13 10:30"),
    )
    available = forms.DecimalField(
        label=_("available balance"), min_value=0, initial=Decimal("0"), max_digits=14
    )
    purchases_count = forms.IntegerField(
        label=_("purchases before this one"), min_value=0, initial=0
    )
    segments = CommaListField(label=_("segments"), help_text=_("Segment codes, comma-separated"))
    coupons = CommaListField(
        label=_("coupons"),
        help_text=_(
            "Reward codes (a coupon of that reward) or promo codes, comma-separated, applied in "
            "this order"
        ),
    )
    redeem = forms.CharField(
        label=_("redeem points"),
        required=False,
        help_text=_("Empty: none; a number; or max"),
    )

    def __init__(self, *args, program: Program | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        tiers = Tier.objects.select_related("program").order_by("program__code", "rank")
        outlets = Outlet.objects.select_related("program").order_by("program__code", "code")
        if program is not None:
            tiers, outlets = tiers.filter(program=program), outlets.filter(program=program)
            self.initial.setdefault("program", program.pk)
        self.fields["tier"].queryset = tiers
        self.fields["outlet"].queryset = outlets
        self.initial.setdefault("at", timezone.localtime().replace(second=0, microsecond=0))

    def clean(self):
        data = super().clean()
        program = data.get("program")
        for name in ("tier", "outlet"):
            obj = data.get(name)
            if program is not None and obj is not None and obj.program_id != program.pk:
                self.add_error(name, _("Choose one of the programme's own."))
        if program is not None and data.get("at"):
            # Typed as the programme's local time, where its days and hours are decided.
            local = timezone.localtime(data["at"]).replace(tzinfo=None)
            data["at"] = local.replace(tzinfo=ZoneInfo(program.timezone))
        return data


class SimulatorLineForm(forms.Form):
    sku = forms.CharField(label=_("SKU"), max_length=100)
    category = forms.CharField(label=_("category"), max_length=100, required=False)
    quantity = forms.DecimalField(
        label=_("quantity"), min_value=0, initial=Decimal("1"), max_digits=14, decimal_places=3
    )
    price = forms.DecimalField(label=_("price"), min_value=0, max_digits=14, decimal_places=2)
    amount = forms.DecimalField(
        label=_("amount"),
        min_value=0,
        required=False,
        max_digits=14,
        decimal_places=2,
        help_text=_("Empty: quantity × price"),
    )
    is_promo = forms.BooleanField(label=_("promo"), required=False)

    def has_changed(self):
        # A row without a SKU is a blank row of the table, whatever its quantity shows.
        return bool(str(self.data.get(self.add_prefix("sku"), "")).strip())


SimulatorLineFormSet = forms.formset_factory(SimulatorLineForm, extra=5)


class ProgrammeFilterMixin:
    list_filter = ("program",)
    list_select_related = ("program",)


@admin.register(Tier)
class TierAdmin(ProgrammeFilterMixin, SimpleHistoryAdmin):
    list_display = ("name", "code", "program", "rank", "threshold", "earn_percent", "max_share")
    search_fields = ("code", "name")
    ordering = ("program__code", "rank")


@admin.register(Outlet)
class OutletAdmin(ProgrammeFilterMixin, SimpleHistoryAdmin):
    list_display = ("name", "code", "program", "channel", "is_active")
    list_filter = ("program", "channel", "is_active")
    search_fields = ("code", "name")


@admin.register(Category)
class CategoryAdmin(ProgrammeFilterMixin, SimpleHistoryAdmin):
    form = CategoryForm
    list_display = ("name", "code", "program", "parent")
    search_fields = ("code", "name")


@admin.register(ProductSet)
class ProductSetAdmin(ProgrammeFilterMixin, SimpleHistoryAdmin):
    form = ProductSetForm
    list_display = ("code", "name", "program", "categories", "skus")
    search_fields = ("code", "name")


@admin.register(RedemptionPolicy)
class RedemptionPolicyAdmin(CheckboxPickers, ProgrammeFilterMixin, SimpleHistoryAdmin):
    form = RedemptionPolicyForm
    list_display = ("program", "max_share", "min_order_amount", "min_balance")


@admin.register(EarnRule)
class EarnRuleAdmin(CheckboxPickers, SimpleHistoryAdmin):
    form = EarnRuleForm
    list_display = (
        "code",
        "name",
        "program",
        "kind",
        "is_active",
        "priority",
        "valid_from",
        "valid_until",
        "budget",
    )
    list_filter = ("program", "kind", "is_active", "exclusive")
    list_select_related = ("program",)
    search_fields = ("code", "name")
    readonly_fields = ("budget_used",)
    fieldsets = (
        (None, {"fields": ("program", "code", "name", "kind", "is_active", "description")}),
        *RULE_FIELDSETS,
    )

    @admin.display(description=_("budget"))
    def budget(self, obj):
        if obj.budget_points is None:
            return "—"
        return format_html("{} / {}", obj.budget_used, obj.budget_points)


@admin.register(Reward)
class RewardAdmin(CheckboxPickers, SimpleHistoryAdmin):
    form = RewardForm
    list_display = ("code", "name", "program", "kind", "points_cost", "is_active", "stock_figure")
    list_filter = ("program", "kind", "is_active")
    list_select_related = ("program",)
    search_fields = ("code", "name")
    readonly_fields = ("claimed",)
    fieldsets = (
        (None, {"fields": ("program",)}),
        *REWARD_FIELDSETS,
    )

    @admin.display(description=_("issued / stock"))
    def stock_figure(self, obj):
        return format_html("{} / {}", obj.claimed, "∞" if obj.stock is None else obj.stock)
