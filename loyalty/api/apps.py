from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PosApiConfig(AppConfig):
    name = "loyalty.api"
    label = "pos_api"
    verbose_name = _("POS API")
