"""The admin's home page as the marketer's dashboard (unfold's DASHBOARD_CALLBACK)."""

from dataclasses import replace

from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from core.admin import allowed_program_ids
from reports.health import installation_health


def _url(name: str, query: str = "") -> str | None:
    try:
        return reverse(name) + query
    except NoReverseMatch:
        return None


def dashboard_callback(request, context: dict) -> dict:
    """Adds each programme's health and the jobs' state to the admin index's context."""
    user = request.user
    health = installation_health(now=timezone.now())
    allowed = allowed_program_ids(request)
    if allowed is not None:  # a staff user limited to some programmes sees only theirs
        health = replace(health, programmes=[p for p in health.programmes if p.id in allowed])
    context.update(
        {
            "health": health,
            "can_view_programmes": user.has_perm("rules.view_program"),
            "links": {
                "programmes": _url("admin:rules_program_changelist"),
                "add_programme": _url("admin:rules_program_add")
                if user.has_perm("rules.add_program")
                else None,
                "simulator": _url("admin:rules_program_simulator")
                if user.has_perm("rules.view_program")
                else None,
                "customers": _url("admin:customers_customer_changelist")
                if user.has_perm("customers.view_customer")
                else None,
                "campaigns": _url("admin:campaigns_campaign_changelist")
                if user.has_perm("campaigns.view_campaign")
                else None,
                "failed_jobs": _url("admin:core_jobrun_changelist", "?status__exact=failed")
                if user.has_perm("core.view_jobrun")
                else None,
                "alerts": _url("admin:core_alert_changelist", "?acknowledged_at__isempty=1")
                if user.has_perm("core.view_alert")
                else None,
                "api_guide": _url("api-guide"),
            },
        }
    )
    return context
