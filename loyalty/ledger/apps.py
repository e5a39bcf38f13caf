from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LedgerConfig(AppConfig):
    name = "loyalty.ledger"
    label = "ledger"
    verbose_name = _("Points ledger")

    def ready(self) -> None:
        from loyalty.ledger import simulation

        simulation.connect()
