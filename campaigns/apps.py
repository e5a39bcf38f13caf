from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from campaigns import notices, promo, providers, receivers
        from loyalty.ledger import services as ledger
        from loyalty.ledger.services import coupons
        from loyalty.rules import loader

        receivers.connect()
        notices.register_events()
        # What the engine must know of campaigns and offers: the account's segments and
        # audiences, and each campaign/offer rule's window, audience and shared budget.
        if providers.customer_state not in ledger.customer_state_providers:
            ledger.customer_state_providers.append(providers.customer_state)
        if providers.rule_overrides not in loader.rule_overrides_providers:
            loader.rule_overrides_providers.append(providers.rule_overrides)
        # Promo codes given at the till (docs/adr/0009-rewards-and-coupons.md).
        if promo.promo_codes not in coupons.promo_code_providers:
            coupons.promo_code_providers.append(promo.promo_codes)
