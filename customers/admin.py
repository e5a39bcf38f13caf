from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from core.admin import ProgrammeScopedAdminMixin, ReadOnlyAdminMixin
from customers.models import Customer, OneTimeCode


@admin.register(Customer)
class CustomerAdmin(ProgrammeScopedAdminMixin, SimpleHistoryAdmin):
    """The person's identity only: what each programme collected (names, email, birth date,
    card, consents) is its member profile, in the ledger's admin (docs/security.md)."""

    program_lookup = "accounts__program"
    list_display = ("phone", "public_id", "registered_at", "is_blocked")
    list_filter = ("is_blocked",)
    search_fields = ("phone", "public_id")
    readonly_fields = ("public_id", "referral_code")
    raw_id_fields = ("referred_by", "user")
    fieldsets = (
        (_("Identifiers"), {"fields": ("public_id", "phone", "user")}),
        (_("Referral"), {"fields": ("referral_code", "referred_by")}),
        (_("Status"), {"fields": ("registered_at", "is_blocked", "blocked_reason")}),
    )


@admin.register(OneTimeCode)
class OneTimeCodeAdmin(ProgrammeScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    program_lookup = "customer__accounts__program"
    """Read-only: codes are issued by the cabinet and consumed at the till, never typed here."""

    list_display = ("customer", "purpose", "created_at", "expires_at", "used_at")
    list_filter = ("purpose",)
    search_fields = ("customer__phone",)
    raw_id_fields = ("customer",)
    readonly_fields = ("customer", "purpose", "created_at", "expires_at", "used_at")
    exclude = ("code_digest",)
    admin_allows = frozenset({"delete"})
