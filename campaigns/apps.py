from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from campaigns import notices, providers, triggers
        from loyalty.ledger import checks, signals
        from loyalty.rules import loader

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
        # What the engine must know of campaigns and offers: the account's segments and
        # audiences, and each campaign/offer rule's window, audience and shared budget.
        if providers.customer_state not in checks.customer_state_providers:
            checks.customer_state_providers.append(providers.customer_state)
        if providers.rule_overrides not in loader.rule_overrides_providers:
            loader.rule_overrides_providers.append(providers.rule_overrides)
