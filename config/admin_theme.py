"""The admin's theme (django-unfold): title, logo, colours and the marketer's navigation.

The sidebar is grouped by what a marketer comes to do, not by Django app: the programme and
its rules, customers and their points, campaigns and segments, messages, reports, and the
settings a marketer rarely opens (schedules, job runs, POS keys, staff accounts). Every link
is shown only to a user who may view that list.

Imported by the settings module: nothing here may import models or the admin.
"""

from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse, reverse_lazy
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _


def _changelist(model: str):
    """The admin list of ``app_label.model_name``."""
    app_label, model_name = model.split(".")
    return reverse_lazy(f"admin:{app_label}_{model_name}_changelist")


def _can_view(model: str):
    """A permission callback: the user may view (or change) ``app_label.model_name``."""
    app_label, model_name = model.split(".")

    def check(request) -> bool:
        user = request.user
        return user.has_perm(f"{app_label}.view_{model_name}") or user.has_perm(
            f"{app_label}.change_{model_name}"
        )

    return check


def _item(title, icon: str, model: str) -> dict:
    return {
        "title": title,
        "icon": icon,
        "link": _changelist(model),
        "permission": _can_view(model),
    }


def reports_link(request) -> str:
    """The reports dashboard when the reports app provides one, else the admin home page."""
    try:
        return reverse("admin:reports_dashboard")
    except NoReverseMatch:
        return reverse("admin:index")


NAVIGATION = [
    {
        "title": _("Programme and rules"),
        "separator": False,
        "items": [
            {
                "title": _("Dashboard"),
                "icon": "space_dashboard",
                "link": reverse_lazy("admin:index"),
            },
            _item(_("Programmes"), "loyalty", "rules.program"),
            _item(_("Tiers"), "workspace_premium", "rules.tier"),
            _item(_("Earn rules"), "rule", "rules.earnrule"),
            _item(_("Redemption policies"), "redeem", "rules.redemptionpolicy"),
            _item(_("Product sets"), "inventory_2", "rules.productset"),
            _item(_("Categories"), "category", "rules.category"),
            _item(_("Outlets"), "storefront", "rules.outlet"),
        ],
    },
    {
        "title": _("Customers"),
        "separator": True,
        "items": [
            _item(_("Customers"), "person", "customers.customer"),
            _item(_("Point accounts"), "account_balance_wallet", "ledger.account"),
            _item(_("Checks"), "receipt_long", "ledger.check"),
            _item(_("Refunds"), "undo", "ledger.refund"),
            _item(_("Point operations"), "swap_vert", "ledger.operation"),
            _item(_("Ledger entries"), "list_alt", "ledger.entry"),
            _item(_("One-time codes"), "pin", "customers.onetimecode"),
        ],
    },
    {
        "title": _("Campaigns and segments"),
        "separator": True,
        "items": [
            _item(_("Campaigns"), "campaign", "campaigns.campaign"),
            _item(_("Segments"), "groups", "campaigns.segment"),
            _item(_("Personal offers"), "local_offer", "campaigns.offer"),
            _item(_("Triggers"), "bolt", "campaigns.triggerconfig"),
            _item(_("Referrals"), "group_add", "campaigns.referral"),
            _item(_("RFM scores"), "insights", "campaigns.rfmscore"),
        ],
    },
    {
        "title": _("Messages"),
        "separator": True,
        "items": [
            _item(_("Message templates"), "edit_note", "notifications.template"),
            _item(_("Sent and queued messages"), "outbox", "notifications.message"),
        ],
    },
    {
        "title": _("Reports"),
        "separator": True,
        "items": [
            # The reports dashboard comes with the reports app's own admin view; until then
            # the link leads to the admin home page, which shows each programme's health.
            {"title": _("Programme health"), "icon": "monitoring", "link": reports_link},
        ],
    },
    {
        "title": _("Settings"),
        "separator": True,
        "collapsible": True,
        "items": [
            _item(_("Scheduled tasks"), "schedule", "django_celery_beat.periodictask"),
            _item(_("Cron schedules"), "calendar_month", "django_celery_beat.crontabschedule"),
            _item(_("Intervals"), "timer", "django_celery_beat.intervalschedule"),
            _item(_("One-off runs"), "event", "django_celery_beat.clockedschedule"),
            _item(_("Job runs"), "history", "core.jobrun"),
            _item(_("Alerts"), "notifications_active", "core.alert"),
            _item(capfirst(_("POS API keys")), "key", "pos_api.outletapikey"),
            _item(_("Staff users"), "manage_accounts", "auth.user"),
            _item(_("Staff groups"), "shield_person", "auth.group"),
        ],
    },
]

# Emerald, the cabinet's accent (#0a7d5a), in Tailwind's scale.
PRIMARY = {
    "50": "oklch(97.9% .021 166.113)",
    "100": "oklch(95% .052 163.051)",
    "200": "oklch(90.5% .093 164.15)",
    "300": "oklch(84.5% .143 164.978)",
    "400": "oklch(76.5% .177 163.223)",
    "500": "oklch(69.6% .17 162.48)",
    "600": "oklch(59.6% .145 163.225)",
    "700": "oklch(50.8% .118 165.612)",
    "800": "oklch(43.2% .095 166.913)",
    "900": "oklch(37.8% .077 168.94)",
    "950": "oklch(26.2% .051 172.552)",
}

UNFOLD = {
    "SITE_TITLE": _("Kopilka"),
    "SITE_HEADER": _("Kopilka"),
    "SITE_SUBHEADER": _("Loyalty programme constructor"),
    "SITE_URL": "/",
    "SITE_SYMBOL": "savings",
    "SITE_ICON": lambda request: static("kopilka/icon.svg"),
    "SITE_FAVICONS": [
        {
            "rel": "icon",
            "type": "image/svg+xml",
            "href": lambda request: static("kopilka/icon.svg"),
        },
    ],
    "SHOW_HISTORY": True,
    "SHOW_VIEW_ON_SITE": True,
    "SHOW_LANGUAGES": True,
    "SHOW_BACK_BUTTON": True,
    "DASHBOARD_CALLBACK": "config.dashboard.dashboard_callback",
    "STYLES": [lambda request: static("kopilka/admin.css")],
    "COLORS": {"primary": PRIMARY},
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        "navigation": NAVIGATION,
    },
}
