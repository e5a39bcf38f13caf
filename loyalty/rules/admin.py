"""The constructor: a marketer builds a programme in the admin and simulates baskets.

The programme page is one screen of tabs: the programme's own settings (main, points and
expiry, accrual, tier qualification, reports) and one tab per part (tiers, product sets,
earn rules, redemption, outlets, categories). Shares are typed in percent and stored as the
fractions the programme file keeps. Pickers list only the programme's own outlets, tiers and
product sets. Each tier and rule shows what it gives on a sample check ("5 % of 1 000 ₽ =
50 points", ``preview.py``). Every part also has its own list with filters. Every change is
recorded by django-simple-history and shown under "History". A staff user limited to some
programmes (``StaffProgramAccess``) sees and changes only those (``core.admin``). The
simulator (a button on the programme page) runs a basket for a real customer, found by phone
or card, or for a hypothetical one, through the POS's engine.
"""

from __future__ import annotations

import json
from decimal import Decimal
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin, StackedInline, TabularInline
from unfold.widgets import (
    UnfoldAdminCheckboxSelectMultipleWidget,
    UnfoldAdminDecimalFieldWidget,
    UnfoldAdminIntegerFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextInputWidget,
    UnfoldBooleanSwitchWidget,
)

from core import errors
from core.admin import ProgrammeScopedAdminMixin, allowed_program_ids, scope_queryset
from core.formatting import points_text
from loyalty.rules.definition import (
    CATEGORY_KEYS,
    OUTLET_KEYS,
    PRODUCT_SET_KEYS,
    PROGRAM_ACCRUAL,
    PROGRAM_MAIN,
    PROGRAM_OCCURRED_AT,
    PROGRAM_POINTS,
    PROGRAM_QUALIFICATION,
    PROGRAM_REPORTS,
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
    TierForm,
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
    StaffProgramAccess,
    Tier,
)
from loyalty.rules.preview import rule_preview, tier_preview
from loyalty.rules.program_io import program_dump
from loyalty.rules.simulator import basket_simulate, customer_find

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

# The programme's own settings, as tabs of the page's "General" part.
PROGRAM_FIELDSETS = (
    (_("Programme"), {"classes": ["tab"], "fields": PROGRAM_MAIN.fields}),
    (_("Points and expiry"), {"classes": ["tab"], "fields": PROGRAM_POINTS.fields}),
    (_("Accrual"), {"classes": ["tab"], "fields": PROGRAM_ACCRUAL.fields}),
    (_("Tier qualification"), {"classes": ["tab"], "fields": PROGRAM_QUALIFICATION.fields}),
    (_("Check times"), {"classes": ["tab"], "fields": PROGRAM_OCCURRED_AT.fields}),
    (_("Reports"), {"classes": ["tab"], "fields": PROGRAM_REPORTS.fields}),
)


class CheckboxPickers:
    """Many-to-many pickers (outlets, tiers, product sets) as checkboxes."""

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs["widget"] = UnfoldAdminCheckboxSelectMultipleWidget
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class ProgrammeChildInline(ProgrammeScopedAdminMixin):
    """Inline forms know their programme, so pickers list only its outlets, tiers and sets."""

    tab = True
    extra = 0

    def get_formset(self, request, obj=None, **kwargs):
        kwargs["form"] = for_program(self.form, obj)
        return super().get_formset(request, obj, **kwargs)


def _narrow(size: int):
    return UnfoldAdminTextInputWidget(attrs={"size": size, "class": "max-w-40"})


class TierInline(ProgrammeChildInline, TabularInline):
    model = Tier
    form = TierForm
    fields = ("rank", *TIER_KEYS, "example")
    readonly_fields = ("example",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("program")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "perks":
            kwargs["widget"] = UnfoldAdminTextInputWidget()
        elif db_field.name in ("code", "rank"):
            kwargs["widget"] = _narrow(8)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @admin.display(description=_("on a check of 1 000"))
    def example(self, obj):
        return tier_preview(obj) if obj.pk else "—"


class RedemptionPolicyInline(CheckboxPickers, ProgrammeChildInline, StackedInline):
    model = RedemptionPolicy
    form = RedemptionPolicyForm
    max_num = 1
    extra = 1
    can_delete = True
    verbose_name_plural = _("redemption")


class OutletInline(ProgrammeChildInline, TabularInline):
    model = Outlet
    fields = tuple(OUTLET_KEYS)


class CategoryInline(ProgrammeChildInline, TabularInline):
    model = Category
    form = CategoryForm
    fields = tuple(CATEGORY_KEYS)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("parent")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "parent":
            object_id = request.resolver_match.kwargs.get("object_id")
            kwargs["queryset"] = Category.objects.filter(program_id=object_id).order_by("code")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ProductSetInline(ProgrammeChildInline, TabularInline):
    model = ProductSet
    form = ProductSetForm
    fields = tuple(PRODUCT_SET_KEYS)


class EarnRuleInline(CheckboxPickers, ProgrammeChildInline, StackedInline):
    model = EarnRule
    form = EarnRuleForm
    show_change_link = True
    collapsible = True  # one line per rule; a row with errors opens by itself
    readonly_fields = ("example", "budget_used")
    fieldsets = (
        (None, {"fields": ("code", "name", "kind", "is_active", "description", "example")}),
        *RULE_FIELDSETS,
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("program")
            .prefetch_related("program__tiers", "outlets", "tiers", "include", "exclude")
        )

    @admin.display(description=_("what it gives"))
    def example(self, obj):
        return (rule_preview(obj) or "—") if obj.pk else "—"


class ProgrammeAdmin(ProgrammeScopedAdminMixin, SimpleHistoryAdmin, ModelAdmin):
    """The admins of the constructor: unfold's look, history, limited to the user's programmes."""

    compressed_fields = True
    warn_unsaved_form = True


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


class RewardInline(CheckboxPickers, ProgrammeChildInline, StackedInline):
    model = Reward
    form = RewardForm
    extra = 0
    show_change_link = True
    readonly_fields = ("claimed",)
    fieldsets = REWARD_FIELDSETS


class ProgrammeStateFilter(admin.SimpleListFilter):
    """Running or stopped, in words that agree with "programme" (feminine in Russian)."""

    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (
            ("active", pgettext("programme", "Active")),
            ("stopped", pgettext("programme", "Stopped")),
        )

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(is_active=True)
        if self.value() == "stopped":
            return queryset.filter(is_active=False)
        return queryset


@admin.register(Program)
class ProgramAdmin(CheckboxPickers, ProgrammeAdmin):
    program_lookup = "pk"
    form = ProgramForm
    list_display = ("code", "name", "currency", "state", "tiers_count", "rules_count")
    list_filter = (ProgrammeStateFilter,)
    search_fields = ("code", "name")
    change_form_template = "admin/rules/program/change_form.html"
    change_list_template = "admin/rules/program/change_list.html"
    actions = ["export_json"]
    fieldsets = PROGRAM_FIELDSETS

    class Media:
        css = {"all": ["rules/constructor.css"]}

    inlines = [
        TierInline,
        ProductSetInline,
        EarnRuleInline,
        RedemptionPolicyInline,
        OutletInline,
        CategoryInline,
        RewardInline,
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_tiers=Count("tiers", distinct=True), n_rules=Count("earn_rules", distinct=True)
            )
        )

    @admin.display(description=_("state"), boolean=False, ordering="is_active")
    def state(self, obj):
        # A programme is feminine in Russian: «Активна», not «Активен».
        return (
            pgettext("programme", "Active") if obj.is_active else pgettext("programme", "Stopped")
        )

    @admin.display(description=_("tiers"), ordering="n_tiers")
    def tiers_count(self, obj):
        return obj.n_tiers

    @admin.display(description=_("earn rules"), ordering="n_rules")
    def rules_count(self, obj):
        return obj.n_rules

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
        allowed = allowed_program_ids(request)
        programs = scope_queryset(Program.objects.order_by("code"), allowed, "pk")
        program_id = request.POST.get("program") or request.GET.get("program")
        program = None
        if program_id:
            program = programs.filter(pk=program_id).first() if str(program_id).isdigit() else None
            if program is None:
                raise Http404
        data = request.POST if request.method == "POST" else None
        form = SimulatorForm(data, program=program, programs=programs)
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
            "precision": program.precision if program else 0,
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
                customer=data.get("found_customer"),
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


def _select():
    return UnfoldAdminSelectWidget()


class SimulatorForm(forms.Form):
    program = forms.ModelChoiceField(
        Program.objects.order_by("code"), label=_("programme"), widget=_select()
    )
    customer = forms.CharField(
        label=_("customer: phone or card number"),
        required=False,
        widget=UnfoldAdminTextInputWidget(attrs={"placeholder": "+7 900 000-00-00"}),
        help_text=_(
            "A real customer: their tier, balance, purchases and segments are read from the "
            "ledger. Empty: a hypothetical customer described below"
        ),
    )
    outlet = forms.ModelChoiceField(Outlet.objects.none(), label=_("outlet"), widget=_select())
    at = forms.DateTimeField(
        label=_("date and time of the check"),
        help_text=_("The programme's local time, e.g. 2026-06-13 10:30"),
        widget=UnfoldAdminTextInputWidget(),
    )
    redeem = forms.CharField(
        label=_("points to redeem"),
        required=False,
        help_text=_("Empty: none; a number; or max"),
        widget=UnfoldAdminTextInputWidget(),
    )
    tier = forms.ModelChoiceField(
        Tier.objects.none(),
        label=_("tier"),
        required=False,
        empty_label=_("entry tier"),
        widget=_select(),
    )
    available = forms.DecimalField(
        label=_("available balance"),
        min_value=0,
        initial=Decimal("0"),
        max_digits=14,
        widget=UnfoldAdminDecimalFieldWidget(),
    )
    purchases_count = forms.IntegerField(
        label=_("purchases before this one"),
        min_value=0,
        initial=0,
        widget=UnfoldAdminIntegerFieldWidget(),
    )
    segments = CommaListField(label=_("segments"), help_text=_("Segment codes, comma-separated"))
    coupons = CommaListField(
        label=_("coupons"),
        help_text=_(
            "Reward codes (a coupon of that reward) or promo codes, comma-separated, applied in "
            "this order"
        ),
    )

    CHECK_FIELDS = ("program", "customer", "outlet", "at", "redeem", "coupons")
    HYPOTHETICAL_FIELDS = ("tier", "available", "purchases_count", "segments")

    def __init__(self, *args, program: Program | None = None, programs=None, **kwargs):
        super().__init__(*args, **kwargs)
        if programs is not None:
            self.fields["program"].queryset = programs
        tiers = Tier.objects.select_related("program").order_by("program__code", "rank")
        outlets = Outlet.objects.select_related("program").order_by("program__code", "code")
        if program is not None:
            tiers, outlets = tiers.filter(program=program), outlets.filter(program=program)
            self.initial.setdefault("program", program.pk)
            first = outlets.filter(is_active=True).first()
            if first is not None:
                self.initial.setdefault("outlet", first.pk)
        elif programs is not None:
            tiers = tiers.filter(program__in=programs)
            outlets = outlets.filter(program__in=programs)
        self.fields["tier"].queryset = tiers
        self.fields["outlet"].queryset = outlets
        self.initial.setdefault("at", timezone.localtime().replace(second=0, microsecond=0))

    def check_fields(self):
        return [self[name] for name in self.CHECK_FIELDS]

    def hypothetical_fields(self):
        return [self[name] for name in self.HYPOTHETICAL_FIELDS]

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
        query = (data.get("customer") or "").strip()
        data["found_customer"] = None
        if program is not None and query and data.get("at"):
            found = customer_find(program=program, query=query, now=data["at"])
            if found is None:
                self.add_error(
                    "customer",
                    _("No member of this programme has this phone or card number."),
                )
            data["found_customer"] = found
        return data


class SimulatorLineForm(forms.Form):
    sku = forms.CharField(label=_("SKU"), max_length=100, widget=_narrow(10))
    category = forms.CharField(
        label=_("category"), max_length=100, required=False, widget=_narrow(10)
    )
    quantity = forms.DecimalField(
        label=_("quantity"),
        min_value=0,
        initial=Decimal("1"),
        max_digits=14,
        decimal_places=3,
        widget=UnfoldAdminDecimalFieldWidget(),
    )
    price = forms.DecimalField(
        label=_("price"),
        min_value=0,
        max_digits=14,
        decimal_places=2,
        widget=UnfoldAdminDecimalFieldWidget(),
    )
    amount = forms.DecimalField(
        label=_("line amount"),
        min_value=0,
        required=False,
        max_digits=14,
        decimal_places=2,
        help_text=_("Empty: quantity × price"),
        widget=UnfoldAdminDecimalFieldWidget(),
    )
    is_promo = forms.BooleanField(
        label=_("promo"), required=False, widget=UnfoldBooleanSwitchWidget()
    )

    def has_changed(self):
        # A row without a SKU is a blank row of the table, whatever its quantity shows.
        return bool(str(self.data.get(self.add_prefix("sku"), "")).strip())


SimulatorLineFormSet = forms.formset_factory(SimulatorLineForm, extra=5)


class ProgrammeFilterMixin:
    list_filter = ("program",)
    list_select_related = ("program",)


@admin.register(Tier)
class TierAdmin(ProgrammeFilterMixin, ProgrammeAdmin):
    form = TierForm
    list_display = ("name", "code", "program", "rank", "threshold", "earn", "max_share_percent")
    search_fields = ("code", "name")
    ordering = ("program__code", "rank")
    fields = ("program", "rank", *TIER_KEYS)

    @admin.display(description=_("earn, %"), ordering="earn_percent")
    def earn(self, obj):
        return format_html("{}&nbsp;%", _percent(obj.earn_percent))

    @admin.display(description=_("max share paid with points"), ordering="max_share")
    def max_share_percent(self, obj):
        return _share(obj.max_share)


def _percent(value) -> str:
    from core.formatting import number_text

    return number_text(value) if value is not None else "—"


def _share(value) -> str:
    if value is None:
        return "—"
    return f"{_percent(value * 100)}\u00a0%"


@admin.register(Outlet)
class OutletAdmin(ProgrammeFilterMixin, ProgrammeAdmin):
    list_display = ("name", "code", "program", "channel", "is_active")
    list_filter = ("program", "channel", "is_active")
    search_fields = ("code", "name")


@admin.register(Category)
class CategoryAdmin(ProgrammeFilterMixin, ProgrammeAdmin):
    form = CategoryForm
    list_display = ("name", "code", "program", "parent")
    list_select_related = ("program", "parent")
    search_fields = ("code", "name")


@admin.register(ProductSet)
class ProductSetAdmin(ProgrammeFilterMixin, ProgrammeAdmin):
    form = ProductSetForm
    list_display = ("code", "name", "program", "categories", "skus")
    search_fields = ("code", "name")


@admin.register(RedemptionPolicy)
class RedemptionPolicyAdmin(CheckboxPickers, ProgrammeFilterMixin, ProgrammeAdmin):
    form = RedemptionPolicyForm
    list_display = ("program", "share", "min_order_amount", "min_balance_shown")

    @admin.display(description=_("max share paid with points"), ordering="max_share")
    def share(self, obj):
        return _share(obj.max_share)

    @admin.display(description=_("minimum balance to redeem"), ordering="min_balance")
    def min_balance_shown(self, obj):
        return points_text(obj.min_balance, obj.program.precision)


@admin.register(EarnRule)
class EarnRuleAdmin(CheckboxPickers, ProgrammeAdmin):
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
    readonly_fields = ("example", "budget_used")
    fieldsets = (
        (
            None,
            {"fields": ("program", "code", "name", "kind", "is_active", "description", "example")},
        ),
        *RULE_FIELDSETS,
    )

    @admin.display(description=_("what it gives"))
    def example(self, obj):
        return (rule_preview(obj) or "—") if obj.pk else "—"

    @admin.display(description=_("budget"))
    def budget(self, obj):
        if obj.budget_points is None:
            return "—"
        precision = obj.program.precision
        return format_html(
            "{} / {}",
            points_text(obj.budget_used, precision),
            points_text(obj.budget_points, precision),
        )


@admin.register(StaffProgramAccess)
class StaffProgramAccessAdmin(ProgrammeScopedAdminMixin, ModelAdmin):
    """Who is limited to which programmes; only a user who sees every programme grants it."""

    list_display = ("user", "program")
    list_filter = ("program",)
    list_select_related = ("user", "program")
    search_fields = ("user__username", "user__email", "program__code", "program__name")
    autocomplete_fields = ()

    def _unlimited(self, request) -> bool:
        return allowed_program_ids(request) is None

    def has_add_permission(self, request):
        return self._unlimited(request) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return self._unlimited(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._unlimited(request) and super().has_delete_permission(request, obj)


@admin.register(Reward)
class RewardAdmin(CheckboxPickers, ProgrammeAdmin):
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
