"""The POS terminals' API keys: the key is shown once, in the message after saving; revoking
cannot be undone. rest_framework_api_key's own labels are English only; ours are here."""

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.admin import APIKeyModelAdmin
from unfold.admin import ModelAdmin

from core.admin import ProgrammeScopedAdminMixin
from loyalty.api.models import OutletAPIKey

LABELS = {
    "name": (_("name"), _("Who or what uses the key, like “Till 2, Tverskaya”; 50 characters")),
    "revoked": (_("revoked"), _("A revoked key stops working at once; this cannot be undone")),
    "expiry_date": (_("expires at"), _("After this moment the key stops working")),
    "outlet": (_("outlet"), _("The key acts as this outlet, inside its programme only")),
}


class OutletAPIKeyForm(forms.ModelForm):
    class Meta:
        model = OutletAPIKey
        fields = ("name", "outlet", "expiry_date", "revoked")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, (label, help_text) in LABELS.items():
            if name in self.fields:
                self.fields[name].label = label
                self.fields[name].help_text = help_text


@admin.register(OutletAPIKey)
class OutletAPIKeyAdmin(ProgrammeScopedAdminMixin, APIKeyModelAdmin, ModelAdmin):
    program_lookup = "outlet__program"
    form = OutletAPIKeyForm
    list_display = (
        "prefix_shown",
        "name_shown",
        "outlet",
        "created_shown",
        "last_used_at",
        "expires",
        "expired",
        "is_revoked",
    )
    list_filter = ("revoked", "outlet__program", "created")
    search_fields = ("name", "prefix", "outlet__code", "outlet__name")
    list_select_related = ("outlet__program",)
    raw_id_fields = ("outlet",)
    actions = ["revoke"]

    @admin.display(description=_("key prefix"), ordering="prefix")
    def prefix_shown(self, obj):
        return obj.prefix

    @admin.display(description=_("name"), ordering="name")
    def name_shown(self, obj):
        return obj.name

    @admin.display(description=_("created at"), ordering="created")
    def created_shown(self, obj):
        return obj.created

    @admin.display(description=_("expires at"), ordering="expiry_date")
    def expires(self, obj):
        return obj.expiry_date

    @admin.display(description=pgettext_lazy("API key", "expired"), boolean=True)
    def expired(self, obj):
        return obj.has_expired

    @admin.display(description=_("revoked"), boolean=True, ordering="revoked")
    def is_revoked(self, obj):
        return obj.revoked

    def get_readonly_fields(self, request, obj=None):
        fields = (*super().get_readonly_fields(request, obj), "last_used_at")
        return (*fields, "outlet") if obj is not None else fields

    def save_model(self, request, obj, form=None, change=False):
        if obj.pk:
            obj.save()
            return
        key = self.model.objects.assign_key(obj)
        obj.save()
        messages.warning(
            request,
            gettext(
                "The key for “%(name)s”: %(key)s. Copy it now and keep it safe: it is not "
                "shown again."
            )
            % {"name": obj.name, "key": key},
        )

    @admin.action(description=_("Revoke the selected keys"))
    def revoke(self, request, queryset):
        updated = queryset.filter(revoked=False).update(revoked=True)
        self.message_user(
            request,
            ngettext("%(n)d key revoked.", "%(n)d keys revoked.", updated) % {"n": updated},
        )
