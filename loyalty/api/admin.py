from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.admin import APIKeyModelAdmin

from loyalty.api.models import OutletAPIKey


@admin.register(OutletAPIKey)
class OutletAPIKeyAdmin(APIKeyModelAdmin):
    """The key is shown once, in the message after saving; revoking cannot be undone."""

    list_display = (
        "prefix",
        "name",
        "outlet",
        "created",
        "last_used_at",
        "expiry_date",
        "_has_expired",
        "revoked",
    )
    list_filter = ("revoked", "outlet__program", "created")
    search_fields = ("name", "prefix", "outlet__code", "outlet__name")
    list_select_related = ("outlet__program",)
    raw_id_fields = ("outlet",)
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        fields = (*super().get_readonly_fields(request, obj), "last_used_at")
        return (*fields, "outlet") if obj is not None else fields

    @admin.action(description=_("Revoke the selected keys"))
    def revoke(self, request, queryset):
        updated = queryset.filter(revoked=False).update(revoked=True)
        self.message_user(request, _("%(n)d keys revoked.") % {"n": updated})
