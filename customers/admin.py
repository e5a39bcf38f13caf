from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from core.admin import ProgrammeScopedAdminMixin, ReadOnlyAdminMixin
from customers.models import Customer, OneTimeCode


@admin.register(Customer)
class CustomerAdmin(ProgrammeScopedAdminMixin, SimpleHistoryAdmin):
    program_lookup = "accounts__program"
    list_display = ("__str__", "phone", "card_number", "email", "registered_at", "is_blocked")
    list_filter = ("is_blocked", "consent_sms", "consent_email")
    search_fields = ("phone", "card_number", "email", "last_name", "first_name", "public_id")
    readonly_fields = ("public_id", "referral_code")
    raw_id_fields = ("referred_by", "user")
    fieldsets = (
        (None, {"fields": ("public_id", "first_name", "last_name", "birth_date")}),
        (_("Identifiers"), {"fields": ("phone", "email", "card_number", "user")}),
        (_("Referral"), {"fields": ("referral_code", "referred_by")}),
        (
            _("Consents"),
            {"fields": ("consent_sms", "consent_sms_at", "consent_email", "consent_email_at")},
        ),
        (_("Status"), {"fields": ("registered_at", "is_blocked", "blocked_reason")}),
    )


@admin.register(OneTimeCode)
class OneTimeCodeAdmin(ProgrammeScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    program_lookup = "customer__accounts__program"
    """Read-only: codes are issued by the cabinet and consumed at the till, never typed here."""

    list_display = ("customer", "purpose", "created_at", "expires_at", "used_at")
    list_filter = ("purpose",)
    search_fields = ("customer__phone", "customer__card_number")
    raw_id_fields = ("customer",)
    readonly_fields = ("customer", "purpose", "created_at", "expires_at", "used_at")
    exclude = ("code_digest",)
    admin_allows = frozenset({"delete"})
