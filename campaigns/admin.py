"""The marketer's door to segments, campaigns, offers and triggers.

Segment change forms have a *Preview* button: the unsaved conditions are validated and counted
live, with a sample of members, without saving. Campaign state changes are buttons on the
change form (and list actions) that call the lifecycle services.
"""

from __future__ import annotations

import json
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from campaigns import services
from campaigns.audience import campaign_audience_size
from campaigns.models import (
    Campaign,
    CampaignRule,
    CampaignStatus,
    Offer,
    OfferRule,
    Referral,
    RfmScore,
    Segment,
    SegmentMembership,
    TriggerConfig,
)
from campaigns.segments import conditions_validate, segment_preview, segment_refresh
from core import errors
from loyalty.rules.models import EarnRule, Program

# --- segments -------------------------------------------------------------------------------------


class PrettyJSONWidget(forms.Textarea):
    def __init__(self, attrs=None):
        super().__init__(
            attrs={"rows": 14, "cols": 90, "class": "vLargeTextField", **(attrs or {})}
        )

    def format_value(self, value):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return value
        return json.dumps(value, ensure_ascii=False, indent=2)


class SegmentForm(forms.ModelForm):
    preview_program = forms.ModelChoiceField(
        queryset=Program.objects.filter(is_active=True),
        required=False,
        label=_("preview in programme"),
        help_text=_("For a built-in segment: the programme to count members in"),
    )

    class Meta:
        model = Segment
        fields = ("program", "code", "name", "description", "conditions", "is_active")
        widgets = {"conditions": PrettyJSONWidget}

    def clean_conditions(self):
        conditions = self.cleaned_data.get("conditions") or {}
        try:
            conditions_validate(conditions)
        except ValidationError as exc:
            raise ValidationError(
                [f"{path}: {' '.join(msgs)}" for path, msgs in exc.message_dict.items()]
            ) from None
        return conditions

    def clean(self):
        data = super().clean()
        code, program = data.get("code"), data.get("program")
        if code:
            clash = Segment.objects.filter(code=code).exclude(pk=self.instance.pk)
            clash = (
                clash.filter(Q(program=program) | Q(program__isnull=True))
                if program is not None
                else clash
            )
            if clash.exists():
                self.add_error("code", _("A segment with this code already applies here."))
        return data

    def preview_in(self) -> Program | None:
        return (
            self.cleaned_data.get("program")
            or self.cleaned_data.get("preview_program")
            or Program.objects.filter(is_active=True).order_by("pk").first()
        )


@admin.register(Segment)
class SegmentAdmin(SimpleHistoryAdmin):
    form = SegmentForm
    change_form_template = "admin/campaigns/segment/change_form.html"
    list_display = ("name", "code", "program", "is_builtin", "is_active", "members", "refreshed_at")
    list_filter = ("is_builtin", "is_active", "program")
    search_fields = ("code", "name")
    readonly_fields = ("is_builtin", "refreshed_at", "members", "sample")
    actions = ("refresh_now",)
    fieldsets = (
        (None, {"fields": ("program", "code", "name", "description", "is_active")}),
        (
            _("Conditions"),
            {
                "fields": ("conditions", "preview_program"),
                "description": _(
                    "Fields: recency_days, frequency, monetary (with period_days), tier, "
                    "registration_days, birthday_month, enrolled_outlet, purchase_outlet (with "
                    "period_days), consent_sms, "
                    "consent_email. Operators: gte, lte, gt, lt, eq, between, in, not_in, "
                    "current, is. Press Preview to count members before saving."
                ),
            },
        ),
        (_("Membership"), {"fields": ("is_builtin", "refreshed_at", "members", "sample")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    @admin.display(description=_("members (last refresh)"), ordering="member_count")
    def members(self, obj):
        return getattr(obj, "member_count", None) if obj.pk else "—"

    @admin.display(description=_("sample of members"))
    def sample(self, obj):
        if not obj.pk:
            return "—"
        rows = (
            SegmentMembership.objects.filter(segment=obj)
            .select_related("account__customer", "account__program")
            .order_by("-since", "-account_id")[:20]
        )
        return format_html_join(
            ", ", "{} ({})", ((m.account.customer, m.account.program.code) for m in rows)
        ) or gettext("nobody yet")

    @admin.action(description=_("Refresh membership now"))
    def refresh_now(self, request, queryset):
        now = timezone.now()
        for segment in queryset:
            programs = (
                [segment.program]
                if segment.program_id
                else list(Program.objects.filter(is_active=True))
            )
            for program in programs:
                segment_refresh(segment, program=program, now=now)
        self.message_user(request, gettext("Refreshed."), messages.SUCCESS)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and "_preview" in request.POST:
            return self._preview(request, object_id, form_url, extra_context)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def _preview(self, request, object_id, form_url, extra_context):
        """Validate and count the posted, unsaved conditions; render the form again."""
        obj = self.get_object(request, unquote(object_id)) if object_id else None
        add = obj is None
        if add and not self.has_add_permission(request):
            raise PermissionDenied
        if not add and not self.has_change_permission(request, obj):
            raise PermissionDenied
        form_class = self.get_form(request, obj, change=not add)
        form = form_class(request.POST, request.FILES, instance=obj)
        preview = problem = None
        if form.is_valid():
            program = form.preview_in()
            if program is None:
                problem = gettext("There is no programme to count members in.")
            else:
                preview = segment_preview(
                    form.cleaned_data.get("conditions") or {},
                    program=program,
                    now=timezone.now(),
                )
        fieldsets = list(self.get_fieldsets(request, obj))
        admin_form = helpers.AdminForm(
            form,
            fieldsets,
            self.get_prepopulated_fields(request, obj),
            self.get_readonly_fields(request, obj),
            model_admin=self,
        )
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Preview of a segment"),
            "subtitle": None,
            "adminform": admin_form,
            "object_id": object_id,
            "original": obj,
            "is_popup": False,
            "to_field": None,
            "media": self.media + admin_form.media,
            "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(form, []),
            "preserved_filters": self.get_preserved_filters(request),
            "segment_preview": preview,
            "segment_preview_program": form.preview_in() if preview is not None else None,
            "segment_preview_problem": problem,
            **(extra_context or {}),
        }
        return self.render_change_form(
            request, context, add=add, change=not add, obj=obj, form_url=form_url
        )


@admin.register(RfmScore)
class RfmScoreAdmin(admin.ModelAdmin):
    """RFM of every customer: filter by score, sort by recency, frequency or spend."""

    list_display = (
        "customer",
        "program",
        "rfm",
        "r",
        "f",
        "m",
        "recency_days",
        "frequency",
        "monetary",
        "computed_at",
    )
    list_filter = ("program", "r", "f", "m")
    search_fields = ("account__customer__phone", "account__customer__last_name")
    list_select_related = ("account__customer", "program")
    ordering = ("program", "-r", "-f", "-m", "account")
    show_full_result_count = False

    @admin.display(description=_("customer"))
    def customer(self, obj):
        return obj.account.customer

    @admin.display(description=_("RFM"))
    def rfm(self, obj):
        return obj.code

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- campaigns ------------------------------------------------------------------------------------


def _rule_owner_problem(rule: EarnRule, *, campaign=None, offer=None) -> str | None:
    taken = CampaignRule.objects.filter(rule=rule)
    if campaign is not None and campaign.pk:
        taken = taken.exclude(campaign=campaign)
    if taken.exists():
        return gettext("The rule %(rule)s already belongs to another campaign.") % {
            "rule": rule.code
        }
    used = OfferRule.objects.filter(rule=rule)
    if offer is not None and offer.pk:
        used = used.exclude(offer=offer)
    if used.exists():
        return gettext("The rule %(rule)s already belongs to a personal offer.") % {
            "rule": rule.code
        }
    return None


class OwnedRuleFormSet(forms.BaseInlineFormSet):
    owner = "campaign"

    def clean(self):
        super().clean()
        program_id = self.instance.program_id
        for form in self.forms:
            if not form.cleaned_data or form.cleaned_data.get("DELETE"):
                continue
            rule = form.cleaned_data.get("rule")
            if rule is None:
                continue
            if program_id and rule.program_id != program_id:
                form.add_error("rule", gettext("The rule belongs to another programme."))
                continue
            problem = _rule_owner_problem(rule, **{self.owner: self.instance})
            if problem:
                form.add_error("rule", problem)


class CampaignRuleInline(admin.TabularInline):
    model = CampaignRule
    formset = OwnedRuleFormSet
    extra = 1
    verbose_name = _("earn rule")
    verbose_name_plural = _("earn rules of the campaign (any kind, from the constructor)")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "rule":
            kwargs["queryset"] = EarnRule.objects.select_related("program").order_by(
                "program", "code"
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = (
            "program",
            "code",
            "name",
            "description",
            "starts_at",
            "ends_at",
            "segment",
            "control_percent",
            "budget_points",
            "message_title",
            "message_text",
        )

    def clean(self):
        data = super().clean()
        segment, program = (
            data.get("segment"),
            data.get("program") or (self.instance.program if self.instance.program_id else None),
        )
        if (
            segment is not None
            and program is not None
            and segment.program_id
            not in (
                None,
                program.pk,
            )
        ):
            self.add_error("segment", gettext("The segment belongs to another programme."))
        return data


TRANSITIONS = {
    "schedule": (_("Schedule"), services.campaign_schedule),
    "unschedule": (_("Back to draft"), services.campaign_unschedule),
    "launch": (_("Launch now"), services.campaign_launch),
    "pause": (_("Pause"), services.campaign_pause),
    "resume": (_("Resume"), services.campaign_resume),
    "finish": (_("Finish"), services.campaign_finish),
}
AVAILABLE = {
    CampaignStatus.DRAFT: ("schedule", "launch"),
    CampaignStatus.SCHEDULED: ("launch", "unschedule", "finish"),
    CampaignStatus.RUNNING: ("pause", "finish"),
    CampaignStatus.PAUSED: ("resume", "finish"),
    CampaignStatus.FINISHED: (),
}


def _run_transition(request, campaign: Campaign, action: str) -> bool:
    label, service = TRANSITIONS[action]
    kwargs = {"campaign": campaign}
    if action != "unschedule":
        kwargs["now"] = timezone.now()
    try:
        service(**kwargs)
    except errors.DomainError as exc:
        detail = exc.detail
        if exc.fields:
            detail = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in exc.fields.items())
        messages.error(request, f"{campaign}: {detail}")
        return False
    messages.success(
        request,
        gettext("%(campaign)s: done — %(action)s.")
        % {
            "campaign": campaign,
            "action": label,
        },
    )
    return True


@admin.register(Campaign)
class CampaignAdmin(SimpleHistoryAdmin):
    form = CampaignForm
    change_form_template = "admin/campaigns/campaign/change_form.html"
    inlines = (CampaignRuleInline,)
    list_display = (
        "name",
        "code",
        "program",
        "status",
        "starts_at",
        "ends_at",
        "segment",
        "audience",
        "points_spent",
        "budget_left",
    )
    list_filter = ("status", "program")
    search_fields = ("code", "name")
    list_select_related = ("program", "segment")
    readonly_fields = (
        "status",
        "launched_at",
        "finished_at",
        "messages_sent_at",
        "audience",
        "control_group",
        "points_spent",
        "budget_left",
    )
    actions = ("schedule_selected", "pause_selected", "finish_selected")
    fieldsets = (
        (None, {"fields": ("program", "code", "name", "description")}),
        (_("Schedule"), {"fields": ("starts_at", "ends_at")}),
        (_("Audience"), {"fields": ("segment", "control_percent")}),
        (_("Budget"), {"fields": ("budget_points",)}),
        (_("Launch message"), {"fields": ("message_title", "message_text")}),
        (
            _("State and results"),
            {
                "fields": (
                    "status",
                    "launched_at",
                    "finished_at",
                    "messages_sent_at",
                    "audience",
                    "control_group",
                    "points_spent",
                    "budget_left",
                )
            },
        ),
    )

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("program")
        return fields

    @admin.display(description=_("audience"))
    def audience(self, obj):
        if not obj.pk:
            return "—"
        return campaign_audience_size(obj).audience

    @admin.display(description=_("control group"))
    def control_group(self, obj):
        if not obj.pk:
            return "—"
        size = campaign_audience_size(obj)
        return gettext("%(control)s of %(drawn)s drawn; %(target)s in the segment now") % {
            "control": size.control,
            "drawn": size.control + size.audience,
            "target": size.target,
        }

    @admin.display(description=_("points spent"))
    def points_spent(self, obj):
        return services.campaign_figures(obj).spent if obj.pk else "—"

    @admin.display(description=_("budget left"))
    def budget_left(self, obj):
        if not obj.pk:
            return "—"
        left = services.campaign_figures(obj).budget_left
        return "∞" if left is None else left

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.campaign_rules_sync(campaign=form.instance)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/transition/<slug:action>/",
                self.admin_site.admin_view(self.transition_view),
                name="campaigns_campaign_transition",
            ),
            *super().get_urls(),
        ]

    def transition_view(self, request, object_id, action):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        campaign = get_object_or_404(Campaign, pk=object_id)
        if not self.has_change_permission(request, campaign) or action not in TRANSITIONS:
            raise PermissionDenied
        _run_transition(request, campaign, action)
        return HttpResponseRedirect(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        campaign = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if campaign is not None:
            extra["transitions"] = [
                (action, TRANSITIONS[action][0]) for action in AVAILABLE[campaign.status]
            ]
        return super().change_view(request, object_id, form_url, extra)

    def _bulk(self, request, queryset, action):
        for campaign in queryset:
            _run_transition(request, campaign, action)

    @admin.action(description=_("Schedule the selected campaigns"))
    def schedule_selected(self, request, queryset):
        self._bulk(request, queryset, "schedule")

    @admin.action(description=_("Pause the selected campaigns"))
    def pause_selected(self, request, queryset):
        self._bulk(request, queryset, "pause")

    @admin.action(description=_("Finish the selected campaigns"))
    def finish_selected(self, request, queryset):
        self._bulk(request, queryset, "finish")


# --- offers ---------------------------------------------------------------------------------------


class OfferRuleFormSet(OwnedRuleFormSet):
    owner = "offer"


class OfferRuleInline(admin.TabularInline):
    model = OfferRule
    formset = OfferRuleFormSet
    extra = 1
    verbose_name = _("earn rule")
    verbose_name_plural = _("earn rules the offer unlocks")


@admin.register(Offer)
class OfferAdmin(SimpleHistoryAdmin):
    inlines = (OfferRuleInline,)
    list_display = (
        "title",
        "code",
        "program",
        "segment",
        "requires_activation",
        "valid_from",
        "valid_until",
        "is_active",
        "activations",
    )
    list_filter = ("is_active", "requires_activation", "program")
    search_fields = ("code", "title")
    raw_id_fields = ("customers",)
    list_select_related = ("program", "segment")
    fieldsets = (
        (None, {"fields": ("program", "code", "title", "description", "is_active")}),
        (_("Audience"), {"fields": ("segment", "customers", "requires_activation")}),
        (_("Validity"), {"fields": ("valid_from", "valid_until")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(activation_count=Count("activations"))

    @admin.display(description=_("activations"), ordering="activation_count")
    def activations(self, obj):
        return getattr(obj, "activation_count", 0)


# --- triggers -------------------------------------------------------------------------------------


class TriggerConfigForm(forms.ModelForm):
    class Meta:
        model = TriggerConfig
        fields = (
            "program",
            "welcome_points",
            "welcome_lifetime_days",
            "birthday_points",
            "birthday_days_before",
            "birthday_lifetime_days",
            "winback_points",
            "winback_after_days",
            "winback_lifetime_days",
            "winback_message",
            "referral_referrer_points",
            "referral_friend_points",
            "referral_min_amount",
            "referral_limit_per_year",
            "referral_lifetime_days",
            "budget_points",
        )

    POINT_FIELDS = (
        "welcome_points",
        "birthday_points",
        "winback_points",
        "referral_referrer_points",
        "referral_friend_points",
    )

    def clean(self):
        data = super().clean()
        program = data.get("program") or getattr(self.instance, "program", None)
        if program is None:
            return data
        quantum = Decimal(1).scaleb(-program.precision)
        for name in self.POINT_FIELDS:
            value = data.get(name)
            if value is not None and value != value.quantize(quantum):
                self.add_error(
                    name,
                    gettext("At most %(places)s decimal places in this programme.")
                    % {"places": program.precision},
                )
        return data


@admin.register(TriggerConfig)
class TriggerConfigAdmin(SimpleHistoryAdmin):
    form = TriggerConfigForm
    list_display = (
        "program",
        "welcome_points",
        "birthday_points",
        "winback_points",
        "referral_referrer_points",
        "referral_friend_points",
        "budget_points",
        "budget_used",
    )
    readonly_fields = ("budget_used",)
    fieldsets = (
        (None, {"fields": ("program",)}),
        (_("Welcome"), {"fields": ("welcome_points", "welcome_lifetime_days")}),
        (
            _("Birthday"),
            {"fields": ("birthday_points", "birthday_days_before", "birthday_lifetime_days")},
        ),
        (
            _("Win-back"),
            {
                "fields": (
                    "winback_points",
                    "winback_after_days",
                    "winback_lifetime_days",
                    "winback_message",
                )
            },
        ),
        (
            _("Referral"),
            {
                "fields": (
                    "referral_referrer_points",
                    "referral_friend_points",
                    "referral_min_amount",
                    "referral_limit_per_year",
                    "referral_lifetime_days",
                )
            },
        ),
        (_("Budget"), {"fields": ("budget_points", "budget_used")}),
    )


@admin.register(Referral)
class ReferralAdmin(admin.ModelAdmin):
    list_display = ("friend", "referrer", "status", "reason", "created_at", "granted_at")
    list_filter = ("status", "program")
    list_select_related = ("friend__customer", "referrer__customer")
    search_fields = ("friend__customer__phone", "referrer__customer__phone")
    readonly_fields = (
        "program",
        "referrer",
        "friend",
        "check_obj",
        "status",
        "reason",
        "created_at",
        "granted_at",
        "reversed_at",
    )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
