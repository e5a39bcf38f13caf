"""A day built only through the POS API (HTTP), then read back with report_kpis."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from reports.periods import local_today
from tests.api.conftest import (  # noqa: F401  (fixtures)
    _fresh_throttle_cache,
    api_key,
    client,
    latte,
    outlet,
    program,
)

pytestmark = pytest.mark.django_db


def test_report_kpis_of_a_day_at_the_till(client, program):  # noqa: F811
    def post(url, body, key=None):
        headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
        response = client.post(url, body, format="json", **headers)
        assert response.status_code in (200, 201), response.content
        return response.json()

    anna = post("/api/v1/customers", {"phone": "8 999 123-45-67", "first_name": "Анна"})
    me = {"id": anna["id"]}
    # 1000.00 → 50 + 40 = 90; 500.00 redeeming 80 → 62; one latte of it back (restore 40,
    # claw 31, goods 250.00); a mistaken check of 35 cancelled; a review +50; one anonymous.
    post("/api/v1/checks", {"customer": me, "lines": [latte(qty="4")], "receipt_number": "1"}, "c1")
    second = post(
        "/api/v1/checks",
        {"customer": me, "lines": [latte()], "redeem_points": "80", "receipt_number": "2"},
        "c2",
    )
    post(f"/api/v1/checks/{second['id']}/refunds", {"lines": [{"index": 0, "quantity": "1"}]}, "r1")
    wrong = post(
        "/api/v1/checks", {"customer": me, "lines": [latte(qty="1")], "receipt_number": "3"}, "c3"
    )
    post(f"/api/v1/checks/{wrong['id']}/cancel", {})
    post("/api/v1/events", {"customer": me, "event": "review", "external_id": "rev-1"})
    post("/api/v1/checks", {"lines": [latte(qty="1", price="300.00")], "receipt_number": "4"}, "c4")

    today = local_today(program, timezone.now())
    out = StringIO()
    call_command(
        "report_kpis",
        "coffee",
        "--from",
        str(today - timedelta(days=1)),
        "--to",
        str(today),
        stdout=out,
    )
    data = json.loads(out.getvalue())
    assert data["members"] == {"total": 1, "new": 1, "active": 1, "by_tier": {"silver": 1}}
    assert data["checks"] == {"member": 2, "anonymous": 1, "participation_rate": "0.6667"}
    assert data["sales"] == {"member": "1500.00", "anonymous": "300.00", "refunded": "250.00"}
    assert data["average_check"] == {"member": "750.00", "anonymous": "300.00"}
    assert (data["frequency"], data["repeat_rate"], data["ltv"]) == ("2.0000", "1.0000", "1250.00")
    assert data["points"] == {
        "issued": "237",
        "redeemed": "80",
        "expired": "0",
        "clawed_back": "66",
        "restored": "40",
        "adjusted": "0",
        "outstanding": "131",
        "liability": "131.00",
    }
    assert data["redemption_rate"] == "0.3376"
