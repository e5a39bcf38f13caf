from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PosApiConfig(AppConfig):
    name = "loyalty.api"
    label = "pos_api"
    verbose_name = _("POS API")

    def ready(self) -> None:
        from core.retention import retention_register
        from loyalty.api.idempotency import idempotency_keys_purge

        retention_register("pos_api.idempotency_keys", idempotency_keys_purge)
