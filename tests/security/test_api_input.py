"""Input the POS API must refuse with the error envelope (400 naming the field, or 413), never a
500 and never a guess: occurred_at out of range, numbers the database cannot hold, deep or huge
bodies, and lenient spellings of numbers (issue 13, items 2, 9 and 10)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.ledger.models import Check
from loyalty.ledger.services import account_open
from tests.api.conftest import latte
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

PHONE = "+79991234567"


@pytest.fixture(autouse=True)
def _english(client, anon_client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    anon_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def member(program, outlet):
    customer = CustomerFactory(phone=PHONE)
    account_open(program=program, customer=customer, now=timezone.now(), outlet=outlet)
    return customer


def commit(client, body, key="k-1"):
    base = {"customer": {"phone": PHONE}, "lines": [latte()], "receipt_number": "R1"}
    return client.post("/api/v1/checks", {**base, **body}, format="json", HTTP_IDEMPOTENCY_KEY=key)


def assert_rejected(response, field: str, status: int = 400):
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in body["fields"], body


# --- item 2: occurred_at within the programme's window ---------------------------------------


@pytest.mark.parametrize(
    "occurred_at",
    [
        "0001-01-01T00:00:00+00:00",
        "9000-01-01T00:00:00+00:00",
        "9999-01-01T00:00:00+00:00",
        "9999-12-31T23:59:59-12:00",
        "0001-01-01T00:00:00+14:00",
    ],
)
def test_an_implausible_occurred_at_is_a_validation_error(client, member, occurred_at):
    assert_rejected(commit(client, {"occurred_at": occurred_at}), "occurred_at")
    event = {"customer": {"phone": PHONE}, "event": "review", "external_id": "e1"}
    response = client.post("/api/v1/events", {**event, "occurred_at": occurred_at}, format="json")
    assert_rejected(response, "occurred_at")
    assert not Check.objects.exists()


def test_occurred_at_window_follows_the_programme(client, member, program):
    now = timezone.now()
    old = (now - timedelta(days=31)).isoformat()
    assert_rejected(commit(client, {"occurred_at": old}), "occurred_at")
    ahead = (now + timedelta(minutes=10)).isoformat()
    assert_rejected(commit(client, {"occurred_at": ahead}, key="k-2"), "occurred_at")
    assert (
        commit(client, {"occurred_at": (now - timedelta(days=29)).isoformat()}).status_code == 201
    )
    program.occurred_at_past_days = 90
    program.occurred_at_future_minutes = 15
    program.save()
    response = commit(client, {"occurred_at": old, "receipt_number": "R2"}, key="k-3")
    assert response.status_code == 201, response.json()
    response = commit(client, {"occurred_at": ahead, "receipt_number": "R3"}, key="k-4")
    assert response.status_code == 201, response.json()


# --- item 9: numbers the database holds, depth, size ------------------------------------------


def test_lines_whose_total_overflows_the_money_column_are_rejected(client, member):
    lines = [latte(qty="1", price="600000000000.00", amount="600000000000.00")] * 2
    body = {"customer": {"phone": PHONE}, "lines": lines}
    assert_rejected(client.post("/api/v1/checks/calculate", body, format="json"), "lines")
    assert_rejected(commit(client, {"lines": lines}), "lines")
    assert not Check.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("amount", "1000000000000.00"), ("price", "1000000000000"), ("quantity", "100000000000")],
)
def test_a_value_over_the_column_is_rejected(client, member, field, value):
    assert_rejected(commit(client, {"lines": [latte(**{field: value})]}), f"lines[0].{field}")


def test_deeply_nested_json_is_a_validation_error(client, member):
    depth = 5000
    body = '{"customer": {"phone": "' + PHONE + '"}, "lines": ' + "[" * depth + "]" * depth + "}"
    response = client.post("/api/v1/checks/calculate", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_a_huge_body_is_payload_too_large_in_the_envelope(client, member):
    body = '{"customer": {"phone": "' + PHONE + '"}, "lines": [], "x": "' + "a" * 5_000_000 + '"}'
    response = client.post("/api/v1/checks/calculate", body, content_type="application/json")
    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "payload_too_large"


def test_unknown_paths_and_methods_answer_the_envelope(client, anon_client):
    response = anon_client.get("/api/v1/no/such/thing")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    response = client.delete("/api/v1/checks/calculate")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_a_server_error_under_api_answers_the_envelope(client, member, monkeypatch):
    from loyalty.api import views

    def boom(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(views, "check_calculate", boom)
    client.raise_request_exception = False
    response = client.post(
        "/api/v1/checks/calculate",
        {"customer": {"phone": PHONE}, "lines": [latte()]},
        format="json",
    )
    assert response.status_code == 500
    assert response.json() == {"code": "server_error", "detail": "Internal server error."}


# --- item 10: plain decimal strings, JSON numbers where the contract says number ------------


@pytest.mark.parametrize(
    "quantity",
    [
        "1E+5",
        "1e2",
        "1_000",
        "١٢",
        " 2",
        "2 ",
        "+2",
        "-2",
        "0x10",
        "",
        "2.",
        ".5",
        "NaN",
        "Infinity",
        True,
    ],
)
def test_lenient_spellings_of_a_quantity_are_rejected(client, member, quantity):
    assert_rejected(commit(client, {"lines": [latte(qty=quantity)]}), "lines[0].quantity")


@pytest.mark.parametrize("price", ["250,00", "٢٥٠", "1e2", " 250.00", "-250.00"])
def test_lenient_spellings_of_a_price_are_rejected(client, member, price):
    assert_rejected(commit(client, {"lines": [latte(price=price)]}), "lines[0].price")


@pytest.mark.parametrize("redeem", ["1E+2", " 10", "١٠", "1_0", " max", "MAX", True])
def test_lenient_spellings_of_redeem_points_are_rejected(client, member, redeem):
    assert_rejected(commit(client, {"redeem_points": redeem}), "redeem_points")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"receipt_number": 1001}, "receipt_number"),
        ({"lines": [latte(sku=123)]}, "lines[0].sku"),
        ({"customer": {"card": 2000123}}, "customer.card"),
        ({"customer": {"phone": 79991234567}}, "customer.phone"),
        ({"customer": {"code": 123456}}, "customer.code"),
        ({"customer": {"id": 1}}, "customer.id"),
    ],
)
def test_an_integer_where_the_contract_says_string_is_rejected(client, member, body, field):
    assert_rejected(commit(client, body), field)


def test_plain_strings_and_json_numbers_are_accepted(client, member):
    response = commit(
        client,
        {"lines": [latte(qty=2, price=250), latte(qty="1.5", price="100.5")], "redeem_points": 0},
    )
    assert response.status_code == 201, response.json()
    assert response.json()["subtotal"] == "650.75"


def test_refund_index_is_a_json_integer(client, member):
    check_id = commit(client, {}).json()["id"]
    response = client.post(
        f"/api/v1/checks/{check_id}/refunds",
        {"lines": [{"index": "0", "quantity": "1"}]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="r-1",
    )
    assert_rejected(response, "lines[0].index")


def test_a_value_the_database_refuses_is_a_validation_error(client, member, monkeypatch):
    from django.db import DataError

    from loyalty.api import views

    def overflow(**kwargs):
        raise DataError("numeric field overflow")

    monkeypatch.setattr(views, "check_commit", overflow)
    response = commit(client, {})
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_json_non_finite_numbers_are_rejected(client, member, literal):
    body = (
        '{"customer": {"phone": "'
        + PHONE
        + '"}, "lines": [{"quantity": '
        + literal
        + ', "price": "1.00"}]}'
    )
    response = client.post("/api/v1/checks/calculate", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
