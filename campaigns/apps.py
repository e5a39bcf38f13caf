from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from campaigns import notices, triggers
        from loyalty.ledger import signals

        signals.customer_enrolled.connect(
            triggers.on_customer_enrolled, dispatch_uid="campaigns.welcome"
        )
        signals.check_committed.connect(
            triggers.on_check_committed, dispatch_uid="campaigns.referral"
        )
        signals.check_cancelled.connect(
            triggers.on_check_cancelled, dispatch_uid="campaigns.referral_cancelled"
        )
        notices.register_events()
