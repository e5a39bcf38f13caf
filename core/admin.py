from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

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


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    pass


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = (
        "job",
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
        self.message_user(request, _("%(count)d alerts acknowledged.") % {"count": count})
