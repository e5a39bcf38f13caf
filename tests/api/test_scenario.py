"""A day at the coffee shop, through the API, with balances computed by hand.

Programme (tests/api/conftest.py): base 5 %, silver 10 % from 1000 spent, redeem up to 30 %
of the check, +10 points per latte, +50 for a review once per customer, 1 point = 1 rouble.
"""

import pytest
from django.utils import timezone

from loyalty.ledger.services import ledger_reconcile
from tests.api.conftest import latte

pytestmark = pytest.mark.django_db


def test_coffee_shop_day(client):
    def post(url, body, key=None):
        headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
        response = client.post(url, body, format="json", **headers)
        assert response.status_code in (200, 201), response.content
        return response.json()

    anna = post("/api/v1/customers", {"phone": "8 999 123-45-67", "first_name": "Анна"})
    me = {"id": anna["id"]}

    # 08:10 — four lattes, 1000.00: 5 % = 50, lattes 4 × 10 = 40 → 90. Spend 1000 → silver.
    first = post(
        "/api/v1/checks",
        {"customer": me, "lines": [latte(qty="4")], "receipt_number": "1"},
        key="c1",
    )
    assert (first["earned_points"], first["balance"]["available_after"]) == ("90", "90")
    assert first["tier"]["code"] == "base"

    # 09:30 — two lattes, 500.00; the most she may redeem is min(90, 30 % × 500) = 90.
    quote = post("/api/v1/checks/calculate", {"customer": me, "lines": [latte()]})
    assert quote["max_redeemable_points"] == "90" and quote["tier"]["code"] == "silver"
    limit = client.post(
        "/api/v1/checks/calculate",
        {"customer": me, "lines": [latte()], "redeem_points": "91"},
        format="json",
    )
    # docs/api.md: more than max_redeemable_points is redeem_limit_exceeded, naming the maximum.
    assert limit.status_code == 422 and limit.json()["code"] == "redeem_limit_exceeded"
    assert "90" in limit.json()["detail"]
    # She redeems 80: pays 420.00; silver 10 % of 420 = 42, lattes 20 → 62. 90 − 80 + 62 = 72.
    second = post(
        "/api/v1/checks",
        {"customer": me, "lines": [latte()], "redeem_points": "80", "receipt_number": "2"},
        key="c2",
    )
    assert (second["discount"], second["payable"]) == ("80.00", "420.00")
    assert (second["earned_points"], second["balance"]["available_after"]) == ("62", "72")

    # 11:00 — one latte of the second check comes back: half of the 80 redeemed is restored
    # (40) and half of the 62 earned is clawed back (21 + 10 = 31): 72 + 40 − 31 = 81.
    refund = post(
        f"/api/v1/checks/{second['id']}/refunds",
        {"lines": [{"index": 0, "quantity": "1"}]},
        key="r1",
    )
    assert (refund["restored_points"], refund["clawed_back_points"]) == ("40", "31")
    assert refund["balance"]["available"] == "81"

    # 12:15 — a latte rung up by mistake: silver 25 + 10 = 35 → 116, then cancelled → 81.
    wrong = post(
        "/api/v1/checks",
        {"customer": me, "lines": [latte(qty="1")], "receipt_number": "3"},
        key="c3",
    )
    assert wrong["balance"]["available_after"] == "116"
    cancel = post(f"/api/v1/checks/{wrong['id']}/cancel", {})
    assert cancel["balance"]["available"] == "81"

    # 18:00 — she leaves a review: +50 → 131; a second review earns nothing (once per person).
    review = {"customer": me, "event": "review", "external_id": "rev-1"}
    assert post("/api/v1/events", review)["balance"]["available"] == "131"
    again = post("/api/v1/events", {**review, "external_id": "rev-2"})
    assert again["awarded_points"] == "0" and again["balance"]["available"] == "131"

    lookup = client.get("/api/v1/customers/lookup", {"phone": "+79991234567"}).json()
    assert lookup["balance"] == {"available": "131", "pending": "0"}
    assert lookup["tier"]["code"] == "silver"
    history = client.get(f"/api/v1/customers/{anna['id']}/operations").json()["results"]
    assert [op["kind"] for op in history] == [
        "event",
        "cancel",
        "check",
        "refund",
        "check",
        "check",
    ]
    assert [op["points"] for op in history] == ["50", "-35", "35", "9", "-18", "90"]
    assert ledger_reconcile(now=timezone.now()) == []


def test_two_phase_payment_day(client):
    """Enrol, earn, pay with points under a reservation, confirm, refund half, cancel another
    reservation: every balance computed by hand."""

    def post(url, body=None, key=None):
        headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
        response = client.post(url, body or {}, format="json", **headers)
        assert response.status_code in (200, 201), response.content
        return response.json()

    def lookup():
        return post("/api/v1/customers/lookup", {"customer": me})["balance"]

    anna = post("/api/v1/customers", {"phone": "8 999 123-45-67", "first_name": "Анна"})
    me = {"id": anna["id"]}
    assert anna["balance"] == {"available": "0", "pending": "0"}

    # Four lattes, 1000.00: 5 % = 50, lattes 4 × 10 = 40 → 90. Spend 1000 → silver.
    first = post(
        "/api/v1/checks",
        {"customer": me, "lines": [latte(qty="4")], "receipt_number": "1"},
        key="c1",
    )
    assert first["balance"]["available_after"] == "90"

    # Two lattes, 500.00, paid with all 90 points (max = min(90, 30 % × 500)), reserved while
    # the card is charged: the 90 leave available at once; silver 10 % of 410 = 41 and lattes
    # 20 → 61 to be earned on confirmation.
    held = post(
        "/api/v1/checks/reserve",
        {"customer": me, "lines": [latte()], "redeem_points": "max", "receipt_number": "2"},
        key="r2",
    )
    assert (held["status"], held["redeemed_points"], held["payable"]) == (
        "reserved",
        "90",
        "410.00",
    )
    assert held["earned_points"] == "61"
    assert held["balance"] == {"available": "90", "available_after": "0", "pending_after": "0"}
    assert lookup() == {"available": "0", "pending": "0"}

    # The card went through: 0 + 61 = 61.
    done = post(f"/api/v1/checks/{held['id']}/confirm", key="k2")
    assert done["status"] == "completed"
    assert done["balance"] == {"available": "0", "available_after": "61", "pending_after": "0"}
    assert lookup()["available"] == "61"

    # One of the two lattes comes back: half the 90 redeemed is restored (45), half of each
    # rule's points clawed back (41 → 20, 20 → 10: 30): 61 + 45 − 30 = 76.
    refund = post(
        f"/api/v1/checks/{held['id']}/refunds",
        {"lines": [{"index": 0, "quantity": "1"}]},
        key="f2",
    )
    assert (refund["restored_points"], refund["clawed_back_points"]) == ("45", "30")
    assert refund["balance"] == {"available": "76", "pending": "0"}

    # Another check reserves 50 of the 76 (26 left), then the customer walks away: cancel.
    other = post(
        "/api/v1/checks/reserve",
        {"customer": me, "lines": [latte(qty="1")], "redeem_points": "50", "receipt_number": "3"},
        key="r3",
    )
    assert other["balance"]["available_after"] == "26"
    assert lookup()["available"] == "26"
    cancelled = post(f"/api/v1/checks/{other['id']}/cancel", key="x3")
    assert (cancelled["status"], cancelled["restored_points"]) == ("cancelled", "50")
    assert cancelled["balance"] == {"available": "76", "pending": "0"}

    from loyalty.ledger.models import Account

    account = Account.objects.get(profile__public_id=anna["id"])
    assert (account.available, account.pending, account.held) == (76, 0, 0)
    # Two visits (the cancelled reservation never counted); spend 1000 + 410 − 205 returned.
    assert (account.lifetime_visits, account.lifetime_spend) == (2, 1205)
    assert ledger_reconcile(now=timezone.now()) == []
