"""Trigger settings (welcome, birthday, win-back, referral, budget) and referrals in the admin."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from campaigns.models import Referral, TriggerConfig
from core.admin import ProgrammeScopedAdminMixin, ReadOnlyAdmin
from core.money import points_exact


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
        for name in self.POINT_FIELDS:
            value = data.get(name)
            if value is not None and not points_exact(value, precision=program.precision):
                self.add_error(
                    name,
                    gettext("At most %(places)s decimal places in this programme.")
                    % {"places": program.precision},
                )
        return data


@admin.register(TriggerConfig)
class TriggerConfigAdmin(ProgrammeScopedAdminMixin, SimpleHistoryAdmin):
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
class ReferralAdmin(ProgrammeScopedAdminMixin, ReadOnlyAdmin):
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
    # Change stays open to Django's permissions (every field is read-only anyway).
    admin_allows = frozenset({"change"})
