from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RulesConfig(AppConfig):
    name = "loyalty.rules"
    label = "rules"
    verbose_name = _("Programmes and rules")

    def ready(self) -> None:
        from loyalty.rules import access, versioning

        versioning.connect()
        access.connect()
