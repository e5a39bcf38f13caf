"""Campaigns in the admin: their rules, audience and figures, and the lifecycle buttons.

Campaign state changes are buttons on the change form (and list actions) that call the
lifecycle services.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import (
    Case,
    Count,
    DecimalField,
    IntegerField,
    OuterRef,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from campaigns import services
from campaigns.audience import campaign_audience_size
from campaigns.models import Campaign, CampaignMember, CampaignRule, CampaignStatus, OfferRule
from core import errors
from core.admin import ProgrammeScopedAdminMixin
from loyalty.ledger.models import RuleAward
from loyalty.rules.models import EarnRule

ZERO = Decimal("0")


def with_list_figures(queryset):
    """The changelist's audience, points spent and budget used, as three subqueries per query.

    The same figures ``campaign_audience_size`` and ``campaign_figures`` compute for one
    campaign, so the list costs the same number of queries for 10 rows or 100.
    """
    members = CampaignMember.objects.filter(campaign=OuterRef("pk"), is_control=False)
    in_segment = members.filter(account__segment_memberships__segment_id=OuterRef("segment_id"))
    count = Count("pk")
    return queryset.annotate(
        list_audience=Case(
            When(
                segment__isnull=True,
                then=Coalesce(
                    Subquery(
                        members.order_by().values("campaign").annotate(n=count).values("n"),
                        output_field=IntegerField(),
                    ),
                    0,
                ),
            ),
            default=Coalesce(
                Subquery(
                    in_segment.order_by().values("campaign").annotate(n=count).values("n"),
                    output_field=IntegerField(),
                ),
                0,
            ),
            output_field=IntegerField(),
        ),
        list_spent=Coalesce(
            Subquery(
                RuleAward.objects.filter(
                    rule__campaign_link__campaign=OuterRef("pk"), cancelled=False
                )
                .order_by()
                .values("rule__campaign_link__campaign")
                .annotate(total=Sum("points"))
                .values("total"),
                output_field=DecimalField(max_digits=14, decimal_places=2),
            ),
            Value(ZERO),
        ),
        list_budget_used=Coalesce(
            Subquery(
                EarnRule.objects.filter(campaign_link__campaign=OuterRef("pk"))
                .order_by()
                .values("campaign_link__campaign")
                .annotate(total=Sum("budget_used"))
                .values("total"),
                output_field=DecimalField(max_digits=14, decimal_places=2),
            ),
            Value(ZERO),
        ),
    )


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


class CampaignRuleInline(ProgrammeScopedAdminMixin, admin.TabularInline):
    program_lookup = "campaign__program"
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
            "promo_code",
            "promo_limit_total",
            "promo_limit_per_customer",
            "message_title",
            "message_text",
        )

    def clean_promo_code(self):
        # Matched without case at the till; kept upper case so two spellings cannot coexist.
        return (self.cleaned_data.get("promo_code") or "").strip().upper()

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
class CampaignAdmin(ProgrammeScopedAdminMixin, SimpleHistoryAdmin):
    form = CampaignForm
    change_form_template = "admin/campaigns/campaign/change_form.html"
    inlines = (CampaignRuleInline,)
    list_display = (
        "name",
        "code",
        "program",
        "status",
        "period",
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
        "promo_uses",
    )
    actions = ("schedule_selected", "pause_selected", "finish_selected")
    fieldsets = (
        (None, {"fields": ("program", "code", "name", "description")}),
        (_("Schedule"), {"fields": ("starts_at", "ends_at")}),
        (_("Audience"), {"fields": ("segment", "control_percent")}),
        (_("Budget"), {"fields": ("budget_points",)}),
        (
            _("Promo code"),
            {
                "fields": ("promo_code", "promo_limit_total", "promo_limit_per_customer"),
                "description": _(
                    "The campaign's rules ticked “requires the promo code” award only on a "
                    "check that gives it; for them the code replaces the audience."
                ),
            },
        ),
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
                    "promo_uses",
                )
            },
        ),
    )

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("program")
        return fields

    def get_queryset(self, request):
        return with_list_figures(super().get_queryset(request))

    @admin.display(description=_("period"), ordering="starts_at")
    def period(self, obj):
        start = date_format(timezone.localtime(obj.starts_at), "SHORT_DATE_FORMAT")
        if obj.ends_at is None:
            return f"{start} –"
        return f"{start} – {date_format(timezone.localtime(obj.ends_at), 'SHORT_DATE_FORMAT')}"

    @admin.display(description=_("audience"))
    def audience(self, obj):
        if not obj.pk:
            return "—"
        if hasattr(obj, "list_audience"):
            return obj.list_audience
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
        if not obj.pk:
            return "—"
        if hasattr(obj, "list_spent"):
            return obj.list_spent
        return services.campaign_figures(obj).spent

    @admin.display(description=_("budget left"))
    def budget_left(self, obj):
        if not obj.pk:
            return "—"
        if obj.budget_points is None:
            return "∞"
        if hasattr(obj, "list_budget_used"):
            return max(obj.budget_points - obj.list_budget_used, ZERO)
        return services.campaign_figures(obj).budget_left

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
