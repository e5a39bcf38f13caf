"""The third-party admins in the admin's theme: staff accounts and Celery beat's schedules.

Their packages register plain ``django.contrib.admin.ModelAdmin`` classes, which render without
the theme's form widgets. Here they are registered again with unfold's ``ModelAdmin`` mixed
in, keeping the packages' own behaviour (forms, actions, validation). Schedules a marketer
never needs are taken out of the admin:
- Celery beat's astronomical events (``SolarSchedule``): our jobs run on cron times;
- rest_framework_api_key's generic ``APIKey``: terminals use the POS API keys of each outlet
  (``pos_api.OutletAPIKey``), and a generic key would authenticate nothing.

Imported once from ``config.apps.SiteConfig.ready()``, after the admin's autodiscover.
"""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group, User
from django.utils.translation import gettext_lazy as _
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)
from rest_framework_api_key.models import APIKey
from unfold.admin import ModelAdmin, TabularInline
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextInputWidget

from core.admin import job_label

# The titles Django's own templates read (unfold's read its settings, config.admin_theme).
admin.site.site_title = _("Kopilka")
admin.site.site_header = _("Kopilka")
admin.site.index_title = _("Dashboard")


def _unregister(*models) -> None:
    for model in models:
        if admin.site.is_registered(model):
            admin.site.unregister(model)


_unregister(User, Group, PeriodicTask, IntervalSchedule, CrontabSchedule, SolarSchedule)
_unregister(ClockedSchedule, APIKey)


@admin.register(User)
class UserAdmin(BaseUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin, ModelAdmin):
    pass


class TaskSelectWidget(UnfoldAdminSelectWidget, beat_admin.TaskSelectWidget):
    """Celery's registered tasks as choices, drawn as the theme's select."""


class PeriodicTaskForm(beat_admin.PeriodicTaskForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["task"].widget = UnfoldAdminTextInputWidget()
        self.fields["regtask"].widget = TaskSelectWidget()


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(beat_admin.PeriodicTaskAdmin, ModelAdmin):
    form = PeriodicTaskForm
    # The package's "scheduler" column has no translatable label; the interval column is
    # empty for our cron-driven jobs.
    list_display = ("title", "enabled", "schedule", "last_run_at", "total_run_count", "one_off")

    @admin.display(description=_("Task"), ordering="name")
    def title(self, obj):
        # The system's jobs by what they do, in the admin's language; others by their name.
        label = job_label(obj.task)
        return label if label != obj.task else obj.name

    @admin.display(description=_("When it runs"), ordering="crontab")
    def schedule(self, obj):
        return obj.scheduler


class PeriodicTaskInline(beat_admin.PeriodicTaskInline, TabularInline):
    """The tasks that run on a schedule, on the schedule's page."""


@admin.register(IntervalSchedule)
class IntervalScheduleAdmin(beat_admin.IntervalScheduleAdmin, ModelAdmin):
    inlines = [PeriodicTaskInline]


@admin.register(CrontabSchedule)
class CrontabScheduleAdmin(beat_admin.CrontabScheduleAdmin, ModelAdmin):
    inlines = [PeriodicTaskInline]


@admin.register(ClockedSchedule)
class ClockedScheduleAdmin(beat_admin.ClockedScheduleAdmin, ModelAdmin):
    inlines = [PeriodicTaskInline]
