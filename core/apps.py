from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = _("Core and scheduled jobs")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import checks  # noqa: F401  (registers the production checks)
        from core.sync import sync_after_migrate

        # Runs once per `migrate` (sender is this app), after every app's migrations.
        post_migrate.connect(sync_after_migrate, sender=self, dispatch_uid="core.sync_schedules")
