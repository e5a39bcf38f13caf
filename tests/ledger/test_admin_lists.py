"""The ledger, outbox, job and key lists read a bounded number of queries (no N+1), show
points with the programme's precision and dates as the operation's business time."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from loyalty.api.models import OutletAPIKey
from loyalty.ledger import services
from loyalty.ledger.models import Operation
from tests.factories import AccountFactory, CheckFactory, OutletFactory, ProgramFactory

pytestmark = pytest.mark.django_db

LISTS = [
    "ledger_operation",
    "ledger_entry",
    "ledger_check",
    "ledger_refund",
    "notifications_message",
    "notifications_template",
    "core_jobrun",
    "pos_api_outletapikey",
]


def _rows(n: int, precision: int = 0) -> None:
    for i in range(n):
        program = ProgramFactory(precision=precision)
        account = AccountFactory(program=program)
        CheckFactory(program=program, account=account, outlet=OutletFactory(program=program))
        services.points_grant(
            account=account,
            points=Decimal("818"),
            source="test",
            idempotency_key=f"g{i}-{program.pk}",
            now=datetime(2026, 3, 1, tzinfo=UTC),
        )
        OutletAPIKey.objects.create_key(name=f"till {i}", outlet=program.outlets.first())


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("name", LISTS)
def test_a_list_reads_the_same_queries_for_more_rows(admin_client, name):
    url = reverse(f"admin:{name}_changelist")
    _rows(1)
    _queries(admin_client, url)
    few = _queries(admin_client, url)
    _rows(4)
    assert _queries(admin_client, url) == few


def test_points_are_shown_with_the_programmes_precision(admin_client):
    _rows(1, precision=0)
    _rows(1, precision=2)
    html = admin_client.get(reverse("admin:ledger_operation_changelist")).content.decode()
    assert ">818<" in html  # whole points
    assert ">818.00<" in html  # hundredths
    assert "818.0000" not in html


def test_ledger_rows_are_dated_by_the_operations_business_time(admin_client):
    _rows(1)
    operation = Operation.objects.get()
    assert operation.occurred_at != operation.created_at
    response = admin_client.get(reverse("admin:ledger_entry_changelist"))
    entry = response.context["cl"].result_list[0]
    assert response.context["cl"].model_admin.occurred_at(entry) == operation.occurred_at
