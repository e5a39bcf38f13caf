"""Segments and RFM scores in the admin.

Segment change forms have a *Preview* button: the unsaved conditions are validated and counted
live, with a sample of members, without saving.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpResponseNotAllowed, JsonResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from campaigns.admin.conditions import ConditionsBuilderWidget
from campaigns.models import RfmScore, Segment, SegmentMembership
from campaigns.segments import (
    conditions_validate,
    segment_accounts,
    segment_preview,
    segment_refresh,
)
from core.admin import ProgrammeScopedAdminMixin, ReadOnlyAdmin
from loyalty.rules.models import Program


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
        widgets = {"conditions": ConditionsBuilderWidget}
        # The fieldset's description explains the builder; the model's help is about JSON.
        help_texts = {"conditions": ""}

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
class SegmentAdmin(ProgrammeScopedAdminMixin, SimpleHistoryAdmin):
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
                    "Pick conditions from the lists; the member count follows as you edit. "
                    "The JSON button shows the same conditions as JSON, to copy or paste. "
                    "Press Preview to see a sample of members before saving."
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

    def get_urls(self):
        return [
            path(
                "count/",
                self.admin_site.admin_view(self.count_view),
                name="campaigns_segment_count",
            ),
            *super().get_urls(),
        ]

    def count_view(self, request):
        """POST conditions (JSON text) and a programme: the members they match now, as JSON.

        The builder calls it as the marketer edits. Invalid conditions answer 400 with the
        validator's errors by place (``conditions.all[0].value``), never a 500.
        """
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        text = request.POST.get("conditions") or ""
        try:
            conditions = json.loads(text) if text.strip() else {}
        except ValueError:
            return JsonResponse(
                {"errors": {"conditions": [gettext("Not valid JSON.")]}}, status=400
            )
        try:
            conditions_validate(conditions)
        except ValidationError as exc:
            return JsonResponse({"errors": exc.message_dict}, status=400)
        program = None
        for name in ("program", "preview_program"):
            value = request.POST.get(name) or ""
            if value.isdigit():
                program = Program.objects.filter(pk=int(value)).first()
                if program is not None:
                    break
        program = program or Program.objects.filter(is_active=True).order_by("pk").first()
        if program is None:
            return JsonResponse(
                {"errors": {"program": [gettext("There is no programme to count members in.")]}},
                status=400,
            )
        count = segment_accounts(conditions, program=program, now=timezone.now()).count()
        return JsonResponse({"count": count, "program": program.name})

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
class RfmScoreAdmin(ProgrammeScopedAdminMixin, ReadOnlyAdmin):
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
