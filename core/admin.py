from collections.abc import Callable

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import AutocompleteMixin
from django.db.models import Q
from django.forms.widgets import ChoiceWidget
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.admin import ModelAdmin

from core.alerts import alert_acknowledge
from core.models import Alert, JobRun


class ReadOnlyAdminMixin:
    """No add, change or delete in the admin: these rows are written by services only.

    For a ``ModelAdmin`` or an inline. ``admin_allows`` reopens some of them ("add",
    "change", "delete") to Django's usual permission checks, for an admin that is read-only
    only in part. View permission, and actions with their own permissions, are unaffected.
    """

    admin_allows: frozenset[str] = frozenset()

    def has_add_permission(self, request, *args) -> bool:  # inlines also pass obj
        return "add" in self.admin_allows and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None) -> bool:
        return "change" in self.admin_allows and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return "delete" in self.admin_allows and super().has_delete_permission(request, obj)


class ReadOnlyAdmin(ReadOnlyAdminMixin, ModelAdmin):
    pass


# --- staff limited to programmes ----------------------------------------------------------
#
# Which programmes a staff user may see is known to loyalty.rules (``StaffProgramAccess``),
# a layer above this one; it fills the hook in its ``AppConfig.ready()``. The hook returns
# None for "every programme" (superusers and staff without rows) or the set of programme ids.

program_ids_for_user: list[Callable] = []


def allowed_program_ids(request) -> frozenset[int] | None:
    """The programme ids ``request.user`` may see; None: all. Cached on the request."""
    if not program_ids_for_user:
        return None
    cached = getattr(request, "_allowed_program_ids", False)
    if cached is not False:
        return cached
    allowed = program_ids_for_user[0](request.user)
    request._allowed_program_ids = allowed
    return allowed


def _program_lookup(model) -> str | None:
    """How a related model's rows reach their programme: "pk" for the programme itself."""
    if model._meta.label_lower == "rules.program":
        return "pk"
    names = {f.name for f in model._meta.get_fields()}
    return "program" if "program" in names else None


def scope_queryset(queryset, allowed, lookup: str | None = None, *, nullable: bool = False):
    """``queryset`` limited to the ``allowed`` programmes (None: unchanged)."""
    if allowed is None:
        return queryset
    lookup = lookup or _program_lookup(queryset.model)
    if lookup is None:
        return queryset
    condition = Q(**{f"{lookup}__in": allowed})
    if nullable:
        condition |= Q(**{f"{lookup}__isnull": True})
    return queryset.filter(condition).distinct() if "__" in lookup else queryset.filter(condition)


def scope_form_class(form_class, allowed):
    """A form class whose pickers of programmes (and of what belongs to one) are limited.

    The class is made per request (by the admin's ``get_form`` / ``get_formset``), so the
    forms of one formset also share their pickers' choices: each picker is read once per
    page, not once per row.
    """

    def __init__(self, *args, **kwargs):
        form_class.__init__(self, *args, **kwargs)
        shared = type(self)._shared_choices
        for name, field in self.fields.items():
            queryset = getattr(field, "queryset", None)
            if queryset is None:
                continue
            if allowed is not None:
                field.queryset = scope_queryset(queryset, allowed)
            inner = field.widget
            while getattr(inner, "widget", None) is not None:  # the admin's related wrapper
                inner = inner.widget
            if not isinstance(inner, ChoiceWidget) or isinstance(inner, AutocompleteMixin):
                continue  # raw ids and autocompletes read only what they show
            if name not in shared:
                shared[name] = list(field.choices)
            field.widget.choices = inner.choices = shared[name]

    return type(form_class.__name__, (form_class,), {"__init__": __init__, "_shared_choices": {}})


class ProgrammeScopedAdminMixin:
    """For every admin (and inline) of rows that belong to a programme.

    ``program_lookup`` is the ORM path from the row to its programme: "program" (default),
    "pk" for the programme itself, "account__program", "accounts__program" for a customer.
    A user limited to programmes (``allowed_program_ids``) sees only their rows in lists,
    pickers and inlines; another programme's change, delete and history pages answer 404, so a
    post to them changes nothing. ``program_nullable``: rows without a programme (shared
    defaults) stay visible.
    """

    program_lookup = "program"
    program_nullable = False

    def get_queryset(self, request):
        return scope_queryset(
            super().get_queryset(request),
            allowed_program_ids(request),
            self.program_lookup,
            nullable=self.program_nullable,
        )

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None and allowed_program_ids(request) is not None:
            raise Http404  # another programme's row, or none: the same answer
        return obj

    def _in_scope_or_404(self, request, object_id) -> None:
        if allowed_program_ids(request) is None:
            return
        if not self.get_queryset(request).filter(pk=unquote(object_id)).exists():
            raise Http404

    def history_view(self, request, object_id, extra_context=None):
        self._in_scope_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context=extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # django-simple-history's page of one past version, with its "revert" button.
        self._in_scope_or_404(request, object_id)
        return super().history_form_view(
            request, object_id, version_id, extra_context=extra_context
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and getattr(field, "queryset", None) is not None:
            field.queryset = scope_queryset(field.queryset, allowed_program_ids(request))
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and getattr(field, "queryset", None) is not None:
            field.queryset = scope_queryset(field.queryset, allowed_program_ids(request))
        return field

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        return scope_form_class(form, allowed_program_ids(request))

    def get_formset(self, request, obj=None, **kwargs):  # inlines
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = scope_form_class(formset.form, allowed_program_ids(request))
        return formset


# The system's jobs (core/schedule.py) by their Celery task name, as a marketer reads them; the
# schedules' and job runs' lists show these instead of the codes.
JOB_LABELS = {
    "ledger.points_expire": _("Expire points"),
    "ledger.expire_points": _("Expire points"),
    "ledger.tiers_reevaluate": _("Re-evaluate tiers"),
    "ledger.reconcile": _("Reconcile the points ledger"),
    "notifications.expiry_reminders": _("Remind of expiring points"),
    "notifications.messages_dispatch": _("Send queued messages"),
    "campaigns.segments_refresh": _("Refresh segments and audiences"),
    "campaigns.tick": _("Start and finish campaigns"),
    "campaigns.birthday": _("Birthday bonuses"),
    "campaigns.winback": _("Win-back bonuses and referrals"),
    "reports.aggregate_days": _("Daily report figures"),
    "core.retention": _("Delete old data"),
}


def job_label(code: str) -> str:
    return str(JOB_LABELS.get(code, code))


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = (
        "job_shown",
        "period_key",
        "status",
        "started_at",
        "finished_at",
        "duration",
        "rows_touched",
        "attempts",
    )
    list_filter = ("status", "job")
    search_fields = ("job", "period_key", "error")
    date_hierarchy = "started_at"
    ordering = ("-started_at", "-id")
    readonly_fields = (
        "job",
        "period_key",
        "status",
        "started_at",
        "finished_at",
        "rows_touched",
        "attempts",
        "details",
        "error",
    )

    @admin.display(description=_("job"), ordering="job")
    def job_shown(self, obj):
        return job_label(obj.job)

    @admin.display(description=_("duration"))
    def duration(self, obj):
        return obj.duration


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "source", "level", "title", "acknowledged_at", "acknowledged_by")
    list_filter = ("level", "source", ("acknowledged_at", admin.EmptyFieldListFilter))
    search_fields = ("title", "details")
    ordering = ("-created_at", "-id")
    readonly_fields = (
        "created_at",
        "source",
        "level",
        "title",
        "details",
        "data",
        "acknowledged_at",
        "acknowledged_by",
    )
    actions = ["acknowledge"]

    def has_acknowledge_permission(self, request):
        # Acknowledging is the only change to an alert, and only through this action.
        return request.user.has_perm("core.change_alert")

    @admin.action(description=_("Acknowledge the selected alerts"), permissions=["acknowledge"])
    def acknowledge(self, request, queryset):
        count = alert_acknowledge(
            alert_ids=list(queryset.values_list("pk", flat=True)),
            user=request.user,
            now=timezone.now(),
        )
        self.message_user(
            request,
            ngettext("%(count)d alert acknowledged.", "%(count)d alerts acknowledged.", count)
            % {"count": count},
        )
