"""After `setup_demo` the dashboard shows real figures for the last 90 days."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from loyalty.rules.models import Program
from reports.periods import local_today, preset_period
from reports.selectors.dashboard import dashboard
from reports.services import aggregates_refresh

pytestmark = pytest.mark.django_db


def test_demo_dashboard_has_figures_live_and_after_the_nightly_job(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("setup_demo", customers=6, stdout=StringIO())
    program = Program.objects.get(code="coffee")
    now = timezone.now()
    period = preset_period("90", today=local_today(program, now))
    live = dashboard(program=program, period=period, now=now)  # nothing stored yet: all live
    assert live.kpis["checks"]["member"] > 0
    assert live.kpis["members"]["active"] > 0
    assert live.kpis["points"]["issued"] > 0
    assert sum(row["member_checks"] for row in live.series) == live.kpis["checks"]["member"]
    aggregates_refresh(now=now)  # the first nightly run stores the whole history
    stored = dashboard(program=program, period=period, now=now)
    assert stored.kpis == live.kpis and stored.series == live.series
    assert stored.cohorts == live.cohorts
