"""The admin's home page: each programme's health in a bounded number of queries."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import JobStatus
from reports.health import installation_health
from tests.factories import (
    AccountFactory,
    AlertFactory,
    CheckFactory,
    CustomerFactory,
    JobRunFactory,
    OutletFactory,
    ProgramFactory,
)

pytestmark = pytest.mark.django_db


def programme_with_members(code: str, members: int, checks_today: int, now):
    program = ProgramFactory(code=code, name=f"Programme {code}", timezone="Europe/Moscow")
    outlet = OutletFactory(program=program, code=f"{code}-1")
    accounts = [
        AccountFactory(
            program=program,
            customer=CustomerFactory(),
            available=Decimal("100"),
            pending=Decimal("20"),
        )
        for _ in range(members)
    ]
    for n in range(checks_today):
        CheckFactory(
            program=program,
            outlet=outlet,
            account=accounts[n % members],
            receipt_number=f"{code}-{n}",
            occurred_at=now - timedelta(minutes=n + 1),
        )
    CheckFactory(  # yesterday: not today's
        program=program,
        outlet=outlet,
        account=accounts[0],
        receipt_number=f"{code}-old",
        occurred_at=now - timedelta(days=2),
    )
    return program


def test_health_per_programme(now):
    programme_with_members("a", members=3, checks_today=2, now=now)
    programme_with_members("b", members=1, checks_today=0, now=now)
    JobRunFactory(status=JobStatus.FAILED, started_at=now - timedelta(hours=1))
    JobRunFactory(status=JobStatus.FAILED, started_at=now - timedelta(days=3))
    AlertFactory(created_at=now)
    AlertFactory(created_at=now, acknowledged_at=now)
    health = installation_health(now=now)
    rows = {p.code: p for p in health.programmes}
    assert (rows["a"].members, rows["a"].checks_today, rows["a"].outstanding_points) == (
        3,
        2,
        Decimal("360"),
    )
    assert (rows["b"].members, rows["b"].checks_today) == (1, 0)
    assert (health.failed_job_runs, health.open_alerts) == (1, 1)


def test_health_queries_do_not_grow_with_programmes(now, django_assert_num_queries):
    programme_with_members("a", members=2, checks_today=1, now=now)
    with django_assert_num_queries(5):  # programmes, accounts, checks per zone, jobs, alerts
        installation_health(now=now)
    for code in "bcdef":
        programme_with_members(code, members=2, checks_today=2, now=now)
    with django_assert_num_queries(5):
        installation_health(now=now)


def _index_queries(admin_client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get("/admin/")
    assert response.status_code == 200
    return len(queries)


def test_admin_home_page_shows_health_in_few_queries(admin_client):
    now = timezone.now()
    programme_with_members("a", members=2, checks_today=1, now=now)
    first = _index_queries(admin_client)
    for code in "bcdef":
        programme_with_members(code, members=2, checks_today=1, now=now)
    response = admin_client.get("/admin/")
    html = response.content.decode()
    assert "Programme f" in html and "Points outstanding" in html
    assert _index_queries(admin_client) == first
    assert first <= 15
