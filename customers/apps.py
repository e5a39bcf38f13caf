from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from core.retention import retention_register
        from customers.codes import one_time_codes_purge

        retention_register("customers.one_time_codes", one_time_codes_purge)
