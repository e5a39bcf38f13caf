"""The reports benchmark builds a small dataset on PostgreSQL, measures it, and cleans up."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from loyalty.ledger.models import Account, Check
from loyalty.rules.models import Program
from reports.models import MemberVisit, ProgramDay

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="benchmark_reports needs PostgreSQL (CI runs this on PostgreSQL)",
    ),
]


# The command vacuums the report tables, which cannot run inside the test's transaction.
@pytest.mark.django_db(transaction=True)
def test_small_run_measures_and_cleans_up():
    out = StringIO()
    call_command("benchmark_reports", customers=50, entries=400, days=5, outlets=2, stdout=out)
    text = out.getvalue()
    labels = ("ONE DAY:", "REBUILD: 4 days", "TIERS: 50 members", "DASHBOARD 30 days")
    for label in (*labels, "DASHBOARD 365 days"):
        assert label in text
    assert "members 50," in text
    assert not Program.objects.filter(code__startswith="bench-reports-").exists()
    assert not Account.objects.exists() and not Check.objects.exists()
    assert not ProgramDay.objects.exists() and not MemberVisit.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_kept_run_is_measured_again_as_of_a_given_instant():
    out = StringIO()
    call_command("benchmark_reports", customers=30, entries=200, days=3, keep=True, stdout=out)
    code = Program.objects.get(code__startswith="bench-reports-").code
    out = StringIO()
    call_command(
        "benchmark_reports",
        program=code,
        skip_rebuild=True,
        now="2026-12-01T12:00:00+00:00",
        stdout=out,
    )
    assert "ONE DAY: 2026-11-30" in out.getvalue()
    assert "REBUILD" not in out.getvalue()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"now": "2999-12-01T12:00:00+00:00"}, "--now: in the future"),
        ({"program": "x", "now": "yesterday"}, "--now: not an ISO date and time"),
        ({"program": "x", "now": "2026-12-01T12:00:00"}, "--now: give the offset"),
        ({"program": "nope"}, "--program: no programme 'nope'"),
    ],
)
def test_bad_options_are_named(options, message):
    with pytest.raises(CommandError, match=message):
        call_command("benchmark_reports", **options)
