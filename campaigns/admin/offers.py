"""Personal offers in the admin: the rules an offer unlocks, its audience and validity."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from campaigns.admin.campaigns import OwnedRuleFormSet
from campaigns.models import Offer, OfferRule
from core.admin import ProgrammeScopedAdminMixin


class OfferRuleFormSet(OwnedRuleFormSet):
    owner = "offer"


class OfferRuleInline(ProgrammeScopedAdminMixin, admin.TabularInline):
    program_lookup = "offer__program"
    model = OfferRule
    formset = OfferRuleFormSet
    extra = 1
    verbose_name = _("earn rule")
    verbose_name_plural = _("earn rules the offer unlocks")


@admin.register(Offer)
class OfferAdmin(ProgrammeScopedAdminMixin, SimpleHistoryAdmin):
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
