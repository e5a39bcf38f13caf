from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpResponseForbidden, JsonResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from unfold.admin import ModelAdmin
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextareaWidget

from core import errors
from core.admin import ProgrammeScopedAdminMixin, ReadOnlyAdmin
from customers.admin import CustomerAdmin
from customers.models import Customer, ErasureRecord
from notifications.erasure import customer_erase
from notifications.events import COMMON_SAMPLE, COMMON_VARIABLES, event_get, events_all
from notifications.models import Message, Template
from notifications.rendering import TemplateRenderError, render_text
from notifications.retention import masked_body
from notifications.services import message_retry


class TemplateForm(forms.ModelForm):
    event = forms.ChoiceField(label=_("event"), widget=UnfoldAdminSelectWidget)

    class Meta:
        model = Template
        fields = ("event", "channel", "language", "program", "subject", "body", "is_active")
        widgets = {"body": UnfoldAdminTextareaWidget(attrs={"rows": 14})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Built per form: apps (campaigns) may register events after this module is imported.
        self.fields["event"].choices = [(e.code, e.label) for e in events_all()]


def preview(*, event: str, subject: str, body: str, language: str, time_zone: str) -> dict:
    """Render a draft against the event's sample context (what the preview panel shows)."""
    spec = event_get(event)
    try:
        rendered_subject, rendered_body = render_text(
            subject=subject,
            body=body,
            context={**COMMON_SAMPLE, **spec.sample},
            language=language,
            time_zone=time_zone,
        )
    except TemplateRenderError as exc:
        return {"subject": "", "body": "", "error": str(exc)}
    return {"subject": rendered_subject, "body": rendered_body, "error": ""}


@admin.register(Template)
class TemplateAdmin(ProgrammeScopedAdminMixin, ModelAdmin):
    # Shared templates (no programme) are seen by everyone; another programme's are not.
    program_nullable = True
    form = TemplateForm
    change_form_template = "admin/notifications/template/change_form.html"
    list_display = (
        "event_label",
        "channel",
        "language",
        "program",
        "subject",
        "is_active",
        "updated_at",
    )
    list_select_related = ("program",)
    list_filter = ("event", "channel", "language", "is_active", "program")
    search_fields = ("subject", "body")
    list_editable = ("is_active",)
    ordering = ("event", "channel", "language", "id")

    @admin.display(description=_("event"), ordering="event")
    def event_label(self, obj):
        spec = {e.code: e for e in events_all()}.get(obj.event)
        return spec.label if spec else obj.event

    def get_urls(self):
        return [
            path(
                "preview/",
                self.admin_site.admin_view(self.preview_view),
                name="notifications_template_preview",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request):
        return require_POST(self._preview)(request)

    def _preview(self, request):
        if not self.has_view_or_change_permission(request):
            return HttpResponseForbidden()
        event = request.POST.get("event", "")
        if event not in {e.code for e in events_all()}:
            return JsonResponse({"subject": "", "body": "", "error": str(_("Choose an event."))})
        return JsonResponse(
            preview(
                event=event,
                subject=request.POST.get("subject", ""),
                body=request.POST.get("body", ""),
                language=request.POST.get("language") or settings.LANGUAGE_CODE,
                time_zone=settings.TIME_ZONE,
            )
        )

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        context["event_docs"] = [
            {"code": e.code, "label": e.label, "variables": e.variables} for e in events_all()
        ]
        context["common_variables"] = COMMON_VARIABLES
        if obj is not None and obj.event in {e.code for e in events_all()}:
            context["initial_preview"] = preview(
                event=obj.event,
                subject=obj.subject,
                body=obj.body,
                language=obj.language,
                time_zone=settings.TIME_ZONE,
            )
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)


@admin.register(Message)
class MessageAdmin(ProgrammeScopedAdminMixin, ReadOnlyAdmin):
    list_display = (
        "created_at",
        "customer",
        "channel",
        "event_label",
        "status",
        "status_reason",
        "attempts",
        "scheduled_for",
        "sent_at",
        "marketing",
    )
    list_filter = ("status", "channel", "event", "marketing")
    search_fields = (
        "idempotency_key",
        "customer__phone",
        "customer__email",
        "customer__last_name",
        "recipient",
    )
    list_select_related = ("customer",)
    program_nullable = True
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    # The body of a message that carries a code is shown masked (notifications/retention.py).
    readonly_fields = ["body_masked" if f.name == "body" else f.name for f in Message._meta.fields]
    exclude = ("body",)
    actions = ["retry"]

    @admin.display(description=_("event"), ordering="event")
    def event_label(self, obj):
        spec = {e.code: e for e in events_all()}.get(obj.event)
        return spec.label if spec else obj.event

    @admin.display(description=_("body"))
    def body_masked(self, obj: Message) -> str:
        return masked_body(obj)

    def has_retry_permission(self, request):
        return request.user.has_perm("notifications.change_message")

    @admin.action(description=_("Send the selected failed messages again"), permissions=["retry"])
    def retry(self, request, queryset):
        count = message_retry(
            message_ids=list(queryset.values_list("pk", flat=True)), now=timezone.now()
        )
        self.message_user(
            request,
            ngettext("%(count)d message queued again.", "%(count)d messages queued again.", count)
            % {"count": count},
        )


# --- erasure on request (docs/security.md) -------------------------------------------------------
# The action lives here, with the erasure service (notifications/erasure.py): it touches the
# layers up to the outbox, which the customers app may not import.


class EraseForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (the request)"), widget=forms.Textarea, max_length=2000
    )
    confirm = forms.BooleanField(label=_("I understand this cannot be undone"))


class CustomerWithErasureAdmin(CustomerAdmin):
    actions = ["erase_personal_data"]

    @admin.action(description=_("Erase personal data (on request)"), permissions=["change"])
    def erase_personal_data(self, request, queryset):
        form = EraseForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            try:
                with transaction.atomic():
                    for customer in queryset.order_by("pk"):
                        customer_erase(
                            customer=customer,
                            reason=form.cleaned_data["reason"],
                            by=request.user,
                            now=timezone.now(),
                        )
            except errors.ValidationFailed as exc:
                self.message_user(request, str(exc.fields), messages.ERROR)
                return None
            n = queryset.count()
            self.message_user(
                request,
                ngettext(
                    "Erased the personal data of %(n)d customer.",
                    "Erased the personal data of %(n)d customers.",
                    n,
                )
                % {"n": n},
                messages.SUCCESS,
            )
            return None
        return render(
            request,
            "admin/customers/erase.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Erase personal data"),
                "form": form,
                "customers": queryset,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )


admin.site.unregister(Customer)
admin.site.register(Customer, CustomerWithErasureAdmin)


@admin.register(ErasureRecord)
class ErasureRecordAdmin(ReadOnlyAdmin):
    list_display = ("reference", "erased_at", "erased_by", "customer")
    search_fields = ("reference",)
    readonly_fields = ("customer", "reference", "reason", "erased_by", "erased_at")
