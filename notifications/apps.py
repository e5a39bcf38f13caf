from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Importing the registry registers the built-in events (the cabinet's sign-up code
        # among them); other apps add theirs in their own ready(). The tasks are registered
        # here so that ``services.dispatch_soon`` finds the dispatcher by its name.
        from notifications import events, receivers, tasks  # noqa: F401

        receivers.connect()

        from core.retention import retention_register
        from notifications.retention import messages_purge

        retention_register("notifications.messages", messages_purge)
