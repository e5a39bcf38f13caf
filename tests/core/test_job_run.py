"""job_run: once per period; failures are retried; runs of dead workers are taken over."""

from datetime import timedelta

import pytest

from core.models import JobRun, JobStatus
from core.runs import job_run

pytestmark = pytest.mark.django_db


def test_a_period_runs_once_and_records_its_figures(now):
    calls = []
    for _ in range(2):
        with job_run("demo", "2026-06-15", now=now) as run:
            if not run.skipped:
                calls.append(1)
                run.rows = 7
                run.details = {"points": __import__("decimal").Decimal("1.50")}
    assert calls == [1]
    assert run.skipped and run.reason == "already done for this period"
    row = JobRun.objects.get()
    assert (row.status, row.rows_touched, row.attempts) == (JobStatus.SUCCEEDED, 7, 1)
    assert row.details == {"points": "1.50"}
    assert row.started_at == now and row.finished_at >= now


def test_a_failed_period_records_the_error_and_is_taken_over_by_the_next_run(now):
    with pytest.raises(RuntimeError), job_run("demo", "p1", now=now) as run:
        raise RuntimeError("disk full")
    row = JobRun.objects.get()
    assert row.status == JobStatus.FAILED
    assert "disk full" in row.error
    later = now + timedelta(hours=1)
    with job_run("demo", "p1", now=later) as run:
        assert not run.skipped
        run.rows = 1
    row.refresh_from_db()
    assert (row.status, row.attempts, row.error, row.started_at) == (
        JobStatus.SUCCEEDED,
        2,
        "",
        later,
    )


def test_a_running_period_is_left_alone_until_it_is_stale(now, settings):
    settings.JOBS_STALE_AFTER_SECONDS = 600
    JobRun.objects.create(job="demo", period_key="p", status=JobStatus.RUNNING, started_at=now)
    with job_run("demo", "p", now=now + timedelta(seconds=599)) as run:
        assert run.skipped and run.reason == "running elsewhere"
    with job_run("demo", "p", now=now + timedelta(seconds=601)) as run:
        assert not run.skipped
    row = JobRun.objects.get()
    assert (row.status, row.attempts) == (JobStatus.SUCCEEDED, 2)


def test_periods_and_jobs_are_independent(now):
    for job, key in [("a", "1"), ("a", "2"), ("b", "1")]:
        with job_run(job, key, now=now) as run:
            assert not run.skipped
    assert JobRun.objects.count() == 3


def test_unkeyed_quiet_runs_are_kept_only_when_they_did_something(now):
    with job_run("dispatch", now=now, quiet=True) as run:
        run.rows = 0
    assert not JobRun.objects.exists()
    with job_run("dispatch", now=now, quiet=True) as run:
        run.rows = 3
    with pytest.raises(ValueError), job_run("dispatch", now=now, quiet=True):
        raise ValueError("boom")
    assert list(JobRun.objects.order_by("pk").values_list("status", "rows_touched")) == [
        (JobStatus.SUCCEEDED, 3),
        (JobStatus.FAILED, 0),
    ]


def test_quiet_runs_cannot_have_a_period(now):
    with pytest.raises(ValueError), job_run("x", "p", now=now, quiet=True):
        pass
