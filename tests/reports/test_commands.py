"""report_kpis and reports_rebuild: output formats and bad input named."""

import json
from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from reports.models import MemberDay, ProgramDay
from tests.reports.dataset import EXPECTED, NOW, build

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("nope", "--from", "2026-11-01", "--to", "2026-11-30"), "code"),
        (("coffee", "--from", "2026-11-30", "--to", "2026-11-01"), "from"),
        (("coffee", "--from", "2026-13-01", "--to", "2026-11-30"), "from"),
        (("coffee", "--from", "2026-11-01", "--to", "30.11.2026"), "to"),
    ],
)
def test_report_kpis_bad_input_names_it(args, named):
    from tests.reports.dataset import make_program

    make_program()
    with pytest.raises(CommandError) as exc:
        run("report_kpis", *args)
    assert str(exc.value).startswith(f"{named}:")


def test_report_kpis_json_and_csv_after_a_rebuild():
    build()
    out = run(
        "reports_rebuild", "--from", "2026-09-01", "--to", "2026-12-31", "--program", "coffee"
    )
    assert out.startswith("coffee: ")
    assert ProgramDay.objects.count() == (date(2026, 12, 14) - date(2026, 9, 1)).days + 1
    assert MemberDay.objects.exists()
    data = json.loads(run("report_kpis", "coffee", "--from", "2026-11-01", "--to", "2026-11-30"))
    assert data == EXPECTED
    live = run("report_kpis", "coffee", "--from", "2026-11-01", "--to", "2026-11-30", "--live")
    assert json.loads(live) == EXPECTED
    text = run(
        "report_kpis", "coffee", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "csv"
    )
    rows = dict(line.split(",", 1) for line in text.strip().splitlines()[1:])
    assert rows["members.by_tier.silver"] == "3"
    assert rows["points.adjusted"] == "-5"
    assert rows["campaigns.winback.uplift_sales"] == "2800.00"


def test_reports_rebuild_bad_input_names_it():
    with pytest.raises(CommandError, match=r"^to:"):
        run("reports_rebuild", "--from", "2026-11-01", "--to", "x")
    with pytest.raises(CommandError, match=r"^--program:"):
        run("reports_rebuild", "--from", "2026-11-01", "--to", "2026-11-02", "--program", "no")
