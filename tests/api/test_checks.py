"""calculate, commit, refund, cancel through the HTTP stack."""

import json

import pytest
from django.utils import timezone

from loyalty.ledger.models import Check, Operation
from loyalty.ledger.services import account_open, ledger_reconcile
from tests.api.conftest import latte
from tests.factories import CustomerFactory, OutletFactory
from tests.ledger.helpers import grant

pytestmark = pytest.mark.django_db

PHONE = "+79991234567"


@pytest.fixture
def member(program, outlet):
    customer = CustomerFactory(phone=PHONE)
    account = account_open(program=program, customer=customer, now=timezone.now(), outlet=outlet)
    grant(account, 1000, timezone.now(), key="seed")
    return customer


def post(client, url, body, key=None, **extra):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(url, body, format="json", **headers, **extra)


def test_calculate_previews_without_writing(client, member):
    response = post(
        client,
        "/api/v1/checks/calculate",
        {"customer": {"phone": "8 999 123-45-67"}, "lines": [latte()], "redeem_points": "100"},
    )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "subtotal": "500.00",
        "max_redeemable_points": "150",
        "redeemed_points": "100",
        "discount": "100.00",
        "payable": "400.00",
        "earned_points": "40",
        "balance": {"available": "1000", "available_after": "940", "pending_after": "0"},
        "tier": {"code": "base", "name": "Base"},
        "lines": [
            {"index": 0, "redeemed_points": "100", "discount": "100.00", "earned_points": "40"}
        ],
        "breakdown": [
            {"rule": "tier:base", "points": "20", "reason": "5% of 400.00"},
            {"rule": "latte", "points": "20", "reason": response.json()["breakdown"][1]["reason"]},
        ],
        "coupons": [],
    }
    assert not Check.objects.exists()


def test_calculate_redeem_max_and_limit(client, member):
    body = {"customer": {"phone": PHONE}, "lines": [latte()], "redeem_points": "max"}
    assert post(client, "/api/v1/checks/calculate", body).json()["redeemed_points"] == "150"
    body["redeem_points"] = 151
    response = post(client, "/api/v1/checks/calculate", body)
    assert response.status_code == 422
    assert response.json()["code"] == "redeem_limit_exceeded"
    assert "150" in response.json()["detail"]


def test_calculate_anonymous_earns_nothing(client):
    response = post(client, "/api/v1/checks/calculate", {"lines": [latte()]})
    assert response.status_code == 200
    assert response.json()["earned_points"] == "0"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lines": [latte(qty="-1")]}, "lines[0].quantity"),
        ({"lines": [latte(price="-5")]}, "lines[0].price"),
        ({"lines": [latte(colour="red")]}, "lines[0].colour"),
        ({"lines": [latte()], "surprise": 1}, "surprise"),
        ({"lines": []}, "lines"),
        ({"lines": [latte()], "redeem_points": "lots"}, "redeem_points"),
        ({"lines": [latte()], "redeem_points": -1}, "redeem_points"),
        ({"lines": [latte(qty="abc")]}, "lines[0].quantity"),
        ({"customer": {"phone": PHONE, "card": "1"}, "lines": [latte()]}, "customer"),
        ({"customer": {"phone": "12"}, "lines": [latte()]}, "customer.phone"),
    ],
)
def test_calculate_bad_input_is_400_naming_the_field(client, member, body, field):
    response = post(client, "/api/v1/checks/calculate", body)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["fields"]


def test_malformed_json_is_400(client):
    response = client.post(
        "/api/v1/checks/calculate", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_unknown_customer_is_404(client, member):
    body = {"customer": {"phone": "+79990000000"}, "lines": [latte()]}
    response = post(client, "/api/v1/checks/calculate", body)
    assert response.status_code == 404
    assert response.json() == {"code": "customer_not_found", "detail": "Customer not found."}


def test_commit_then_replay_and_key_reuse(client, member):
    body = {
        "customer": {"phone": PHONE},
        "lines": [latte()],
        "redeem_points": "100",
        "receipt_number": "A-1",
    }
    first = post(client, "/api/v1/checks", body, key="k-1")
    assert first.status_code == 201, first.content
    data = first.json()
    assert data["status"] == "completed" and data["receipt_number"] == "A-1"
    assert data["balance"] == {"available": "1000", "available_after": "940", "pending_after": "0"}
    again = post(client, "/api/v1/checks", body, key="k-1")
    assert again.status_code == 201 and again.content == first.content
    assert Check.objects.count() == 1
    other = post(client, "/api/v1/checks", {**body, "receipt_number": "A-2"}, key="k-1")
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    assert ledger_reconcile(now=timezone.now()) == []


def test_commit_needs_idempotency_key(client, member):
    body = {"lines": [latte()], "receipt_number": "A-1"}
    response = post(client, "/api/v1/checks", body)
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["fields"]
    too_long = post(client, "/api/v1/checks", body, key="x" * 101)
    assert too_long.status_code == 400
    assert not Check.objects.exists()


def test_commit_errors_write_nothing(client, member):
    body = {
        "customer": {"phone": PHONE},
        "lines": [latte()],
        "redeem_points": "5000",
        "receipt_number": "A-1",
    }
    response = post(client, "/api/v1/checks", body, key="k-err")
    assert response.status_code == 422
    assert not Check.objects.exists()
    # The failed attempt did not burn the key: fixed, the same key goes through.
    body["redeem_points"] = "0"
    assert post(client, "/api/v1/checks", body, key="k-err").status_code == 201


def test_commit_duplicate_receipt_is_400(client, member):
    body = {"lines": [latte()], "receipt_number": "A-1"}
    assert post(client, "/api/v1/checks", body, key="1").status_code == 201
    response = post(client, "/api/v1/checks", body, key="2")
    assert response.status_code == 400 and "receipt_number" in response.json()["fields"]


def commit(client, receipt="A-1", redeem="100", key=None):
    body = {
        "customer": {"phone": PHONE},
        "lines": [latte()],
        "redeem_points": redeem,
        "receipt_number": receipt,
    }
    response = post(client, "/api/v1/checks", body, key=key or f"commit-{receipt}")
    assert response.status_code == 201, response.content
    return response.json()


def test_partial_refunds_then_exceeding(client, member):
    check = commit(client)
    url = f"/api/v1/checks/{check['id']}/refunds"
    first = post(client, url, {"lines": [{"index": 0, "quantity": "1"}]}, key="r1")
    assert first.status_code == 201, first.content
    # Half the check: 20 of the 40 earned back, 50 of the 100 redeemed restored.
    assert first.json()["clawed_back_points"] == "20"
    assert first.json()["restored_points"] == "50"
    assert first.json()["balance"] == {"available": "970", "pending": "0"}
    replay = post(client, url, {"lines": [{"index": 0, "quantity": "1"}]}, key="r1")
    assert replay.content == first.content
    too_much = post(client, url, {"lines": [{"index": 0, "quantity": "2"}]}, key="r2")
    assert too_much.status_code == 422 and too_much.json()["code"] == "refund_exceeds_check"
    rest = post(client, url, {"full": True}, key="r3")
    assert rest.status_code == 201 and rest.json()["balance"]["available"] == "1000"
    assert ledger_reconcile(now=timezone.now()) == []


@pytest.mark.parametrize(
    "body", [{}, {"full": True, "lines": [{"index": 0, "quantity": "1"}]}, {"full": "x"}]
)
def test_refund_bad_body(client, member, body):
    check = commit(client)
    response = post(client, f"/api/v1/checks/{check['id']}/refunds", body, key="r")
    assert response.status_code == 400


def test_refund_unknown_line_and_missing_key(client, member):
    check = commit(client)
    url = f"/api/v1/checks/{check['id']}/refunds"
    response = post(client, url, {"lines": [{"index": 5, "quantity": "1"}]}, key="r")
    assert response.status_code == 400 and "lines[0].index" in response.json()["fields"]
    assert post(client, url, {"full": True}).status_code == 400


def test_refund_or_cancel_unknown_check_is_404(client, member):
    for url in ("/api/v1/checks/nope/refunds", f"/api/v1/checks/{member.public_id}/cancel"):
        response = post(client, url, {"full": True} if "refunds" in url else {}, key="z")
        assert response.status_code == 404 and response.json()["code"] == "check_not_found"


def test_cancel_reverses_and_second_cancel_is_409(client, member):
    check = commit(client)
    url = f"/api/v1/checks/{check['id']}/cancel"
    first = post(client, url, {})
    assert first.status_code == 200, first.content
    assert first.json()["status"] == "cancelled"
    assert first.json()["balance"] == {"available": "1000", "pending": "0"}
    second = post(client, url, {})
    assert second.status_code == 409 and second.json()["code"] == "check_already_cancelled"
    refund = post(client, f"/api/v1/checks/{check['id']}/refunds", {"full": True}, key="r")
    assert refund.status_code == 409


def test_other_programmes_check_is_404(client, member, program):
    check = commit(client)
    from loyalty.api.models import OutletAPIKey

    _, key = OutletAPIKey.objects.create_key(outlet=OutletFactory(), name="other")
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    response = post(client, f"/api/v1/checks/{check['id']}/cancel", {})
    assert response.status_code == 404 and response.json()["code"] == "check_not_found"
    body = {"customer": {"phone": PHONE}, "lines": [latte()]}
    assert post(client, "/api/v1/checks/calculate", body).status_code == 404
    assert Check.objects.get().status == "completed"


def test_blocked_customer_is_422(client, member):
    member.is_blocked = True
    member.save()
    response = post(client, "/api/v1/checks/calculate", {"customer": {"card": "x"}, "lines": []})
    assert response.status_code == 400
    body = {"customer": {"id": str(member.accounts.get().profile.public_id)}, "lines": [latte()]}
    response = post(client, "/api/v1/checks/calculate", body)
    assert response.status_code == 422 and response.json()["code"] == "customer_blocked"
    assert not Operation.objects.filter(kind="check").exists()


def test_json_body_decimals_accept_numbers(client, member):
    body = {"lines": [{"sku": "X", "quantity": 1.5, "price": 100}], "redeem_points": 0}
    response = post(client, "/api/v1/checks/calculate", body)
    assert response.status_code == 200
    assert json.loads(response.content)["subtotal"] == "150.00"
