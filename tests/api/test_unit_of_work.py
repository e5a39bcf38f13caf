"""A request is one transaction without savepoints; a notification bug still never fails it."""

import pytest

from loyalty.ledger.models import Check
from notifications import services
from tests.api.conftest import latte
from tests.api.test_query_counts import member  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def test_a_failing_points_earned_message_does_not_fail_the_commit(client, member, monkeypatch):  # noqa: F811

    def broken(*args, **kwargs):
        raise RuntimeError("a bug while building the message")

    monkeypatch.setattr(services.policies, "skip_reason", broken)
    body = {"customer": {"phone": "+79991234567"}, "lines": [latte()], "receipt_number": "R1"}
    response = client.post("/api/v1/checks", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 201, response.content
    assert Check.objects.filter(receipt_number="R1").exists()


def test_a_receipt_number_used_twice_is_a_validation_error(client, member):  # noqa: F811
    body = {"customer": {"phone": "+79991234567"}, "lines": [latte()], "receipt_number": "R1"}
    assert (
        client.post("/api/v1/checks", body, format="json", HTTP_IDEMPOTENCY_KEY="a").status_code
        == 201
    )
    again = client.post("/api/v1/checks", body, format="json", HTTP_IDEMPOTENCY_KEY="b")
    assert again.status_code == 400, again.content
    assert Check.objects.filter(receipt_number="R1").count() == 1
