from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SiteConfig(AppConfig):
    """The site around the apps: the landing page, the API guide, the admin's theme."""

    name = "config"
    label = "kopilka_site"
    verbose_name = _("Site")

    def ready(self):
        # After django.contrib.admin's autodiscover: restyle the third-party admins.
        from config import admin_site  # noqa: F401
