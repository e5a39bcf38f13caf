from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BackofficeConfig(AppConfig):
    """Staff pages that span apps: the customer card, and the demo data (``setup_demo``).

    A door beside the POS API and the cabinet: it may use every app below it (ledger services,
    campaigns' enrolment, reports), which the customers app's own admin may not.
    """

    name = "backoffice"
    verbose_name = _("Back office")
