"""Deviations from the API contract (docs/api.md) found in review, each pinned by its behaviour."""

from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.ledger.models import Account, Check, Operation
from loyalty.ledger.services import account_open
from tests.api.conftest import latte
from tests.factories import CustomerFactory
from tests.ledger.helpers import grant

pytestmark = pytest.mark.django_db

PHONE = "+79991234567"


@pytest.fixture
def member(program, outlet):
    customer = CustomerFactory(phone=PHONE)
    account = account_open(program=program, customer=customer, now=timezone.now(), outlet=outlet)
    grant(account, 90, timezone.now(), key="seed")
    return customer


@pytest.fixture(autouse=True)
def _english(client, anon_client):
    # The messages asserted below are the English source strings, whatever LANGUAGE_CODE says.
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    anon_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def post(client, url, body, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(url, body, format="json", **headers)


# --- more than max_redeemable_points is redeem_limit_exceeded, naming the maximum ------------


@pytest.mark.parametrize("asked", ["91", "100000", 5000])
def test_calculate_over_the_balance_is_redeem_limit_exceeded(client, member, asked):
    # 90 points on a 500.00 check: the share allows 150, the balance 90, so the maximum is 90.
    body = {"customer": {"phone": PHONE}, "lines": [latte()]}
    assert post(client, "/api/v1/checks/calculate", body).json()["max_redeemable_points"] == "90"
    response = post(client, "/api/v1/checks/calculate", {**body, "redeem_points": asked})
    assert response.status_code == 422
    assert response.json() == {
        "code": "redeem_limit_exceeded",
        "detail": "At most 90 points can be redeemed on this check.",
    }


def test_commit_over_the_balance_is_redeem_limit_exceeded_and_writes_nothing(client, member):
    body = {
        "customer": {"phone": PHONE},
        "lines": [latte()],
        "redeem_points": "91",
        "receipt_number": "R1",
    }
    response = post(client, "/api/v1/checks", body, key="k1")
    assert response.status_code == 422
    assert response.json()["code"] == "redeem_limit_exceeded"
    assert "90" in response.json()["detail"]
    assert not Check.objects.exists()
    assert Account.objects.get(customer=member).available == 90
    # The error was not stored: the same key with a request that fits goes through.
    ok = post(client, "/api/v1/checks", {**body, "redeem_points": "90"}, key="k1")
    assert ok.status_code == 201, ok.content


# --- anonymous checks have no tier, in calculate as in commit ---------------------------------


def test_anonymous_calculate_and_commit_both_have_no_tier(client, program):
    calc = post(client, "/api/v1/checks/calculate", {"lines": [latte()]})
    commit = post(client, "/api/v1/checks", {"lines": [latte()], "receipt_number": "A1"}, key="a")
    assert calc.status_code == 200 and commit.status_code == 201
    assert calc.json()["tier"] is None and commit.json()["tier"] is None
    assert calc.json()["earned_points"] == commit.json()["earned_points"] == "0"


# --- lookup accepts the id, like every other place that names a customer ----------------------


def test_lookup_by_id(client, member):
    # The id is the programme's own customer id (its member profile's), not the global one.
    own_id = str(member.accounts.get().profile.public_id)
    assert client.get("/api/v1/customers/lookup", {"id": str(member.public_id)}).status_code == 404
    response = client.get("/api/v1/customers/lookup", {"id": own_id})
    assert response.status_code == 200
    assert response.json()["id"] == own_id
    assert response.json()["balance"] == {"available": "90", "pending": "0"}
    unknown = client.get("/api/v1/customers/lookup", {"id": "00000000-0000-0000-0000-000000000000"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "customer_not_found"
    bad = client.get("/api/v1/customers/lookup", {"id": "nope"})
    assert bad.status_code == 400 and "id" in bad.json()["fields"]


# --- 403 permission_denied: a valid key of a closed outlet or a stopped programme ------------


def test_inactive_outlet_or_programme_is_403(client, member, outlet, program):
    outlet.is_active = False
    outlet.save(update_fields=["is_active"])
    response = client.get("/api/v1/customers/lookup", {"phone": PHONE})
    assert response.status_code == 403
    assert response.json() == {
        "code": "permission_denied",
        "detail": "The outlet of this API key is not active.",
    }
    outlet.is_active = True
    outlet.save(update_fields=["is_active"])
    program.is_active = False
    program.save(update_fields=["is_active"])
    response = post(client, "/api/v1/checks/calculate", {"lines": [latte()]})
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"


def test_schema_documents_403_and_lookup_by_id(anon_client):
    schema = anon_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    lookup = schema["paths"]["/api/v1/customers/lookup"]["get"]
    # The identifier is one exploded object parameter (?phone=…, ?card=…, ?code=… or ?id=…).
    (identifier,) = [p for p in lookup["parameters"] if p["name"] == "identifier"]
    assert "id" in identifier["schema"]["properties"]
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            assert "403" in op["responses"], (method, path)


# --- wrong types are 400: flags are JSON booleans, times carry their offset -------------------


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/checks/calculate", {"lines": [latte(is_promo="yes")]}, "lines[0].is_promo"),
        ("/api/v1/checks/calculate", {"lines": [latte(is_promo=1)]}, "lines[0].is_promo"),
        ("/api/v1/customers", {"phone": PHONE, "consents": {"sms": "on"}}, "consents.sms"),
    ],
)
def test_flags_must_be_json_booleans(client, program, url, body, field):
    response = post(client, url, body)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["fields"]


def test_refund_full_must_be_a_boolean(client, member):
    check = post(
        client, "/api/v1/checks", {"lines": [latte()], "receipt_number": "A1"}, key="a"
    ).json()
    response = post(client, f"/api/v1/checks/{check['id']}/refunds", {"full": "true"}, key="r")
    assert response.status_code == 400 and "full" in response.json()["fields"]


def test_occurred_at_without_offset_is_400(client, member):
    body = {
        "customer": {"phone": PHONE},
        "lines": [latte()],
        "receipt_number": "R1",
        "occurred_at": "2026-01-10T10:00:00",
    }
    response = post(client, "/api/v1/checks", body, key="k")
    assert response.status_code == 400
    assert response.json()["fields"] == {"occurred_at": ["Give the time with its UTC offset."]}
    assert not Check.objects.exists()
    body["occurred_at"] = (timezone.now() - timedelta(hours=1)).isoformat()
    assert post(client, "/api/v1/checks", body, key="k2").status_code == 201


def test_enrol_birth_date_in_the_future_is_400(client, program):
    tomorrow = (timezone.now() + timedelta(days=2)).date().isoformat()
    response = post(client, "/api/v1/customers", {"phone": PHONE, "birth_date": tomorrow})
    assert response.status_code == 400
    assert response.json()["fields"] == {"birth_date": ["Cannot be in the future."]}
    assert not Account.objects.exists()


# --- a domain validation error names the field in detail, not "Invalid input." ---------------


def test_domain_validation_detail_names_the_field(client, member):
    body = {"customer": {"phone": PHONE}, "lines": [latte()], "receipt_number": "R1"}
    assert post(client, "/api/v1/checks", body, key="k1").status_code == 201
    again = post(client, "/api/v1/checks", body, key="k2")
    assert again.status_code == 400
    assert again.json()["detail"].startswith("receipt_number: ")
    assert again.json()["fields"]["receipt_number"]


# --- an event id already rewarded to another customer is not "awarded" again -----------------


def test_event_id_of_another_customer_is_409_and_moves_nothing(client, program, outlet):
    first = CustomerFactory(phone="+79990000001")
    second = CustomerFactory(phone="+79990000002")
    for customer in (first, second):
        account_open(program=program, customer=customer, now=timezone.now(), outlet=outlet)
    body = {"event": "review", "external_id": "rev-1"}
    awarded = post(client, "/api/v1/events", {**body, "customer": {"phone": "+79990000001"}})
    assert awarded.status_code == 201 and awarded.json()["awarded_points"] == "50"
    stolen = post(client, "/api/v1/events", {**body, "customer": {"phone": "+79990000002"}})
    assert stolen.status_code == 409
    assert stolen.json()["code"] == "idempotency_key_reused"
    assert Account.objects.get(customer=second).available == 0
    assert Operation.objects.filter(account__customer=second).count() == 0
    # The same customer repeating the report still gets the first answer.
    again = post(client, "/api/v1/events", {**body, "customer": {"phone": "+79990000001"}})
    assert again.status_code == 201 and again.json() == awarded.json()


# --- commit credits all rule rows in one insert; a debt is still repaid first, in order -------


def test_commit_earnings_repay_a_refund_debt_first(client, program, outlet):
    from decimal import Decimal

    from loyalty.ledger.models import Entry, EntryKind, Lot, LotKind
    from loyalty.ledger.services import ledger_reconcile, points_redeem

    customer = CustomerFactory(phone=PHONE)
    account = account_open(program=program, customer=customer, now=timezone.now(), outlet=outlet)
    me = {"phone": PHONE}
    first = post(
        client,
        "/api/v1/checks",
        {"customer": me, "lines": [latte()], "receipt_number": "A"},
        key="a",
    )
    assert first.json()["earned_points"] == "45"  # 5 % of 500 + 2 lattes × 10
    points_redeem(
        account=account, points=Decimal(45), source="t", idempotency_key="x", now=timezone.now()
    )
    refund = post(client, f"/api/v1/checks/{first.json()['id']}/refunds", {"full": True}, key="r")
    assert refund.json()["balance"]["available"] == "-45"

    # One latte, 250.00: tier 12 + latte 10 = 22, all of it repays the debt: −45 + 22 = −23.
    second = post(
        client,
        "/api/v1/checks",
        {"customer": me, "lines": [latte(qty="1")], "receipt_number": "B"},
        key="b",
    )
    assert second.status_code == 201, second.content
    assert second.json()["balance"]["available_after"] == "-23"
    debts = Lot.objects.filter(account=account, kind=LotKind.DEBT).order_by("pk")
    # The refund left two debts (20, then 25); the oldest is repaid first, lot after lot.
    assert [d.remaining for d in debts] == [0, -23]

    # Four lattes, 1000.00: tier 50 + lattes 40 = 90; the first lot (tier, 50) repays the 23.
    third = post(
        client,
        "/api/v1/checks",
        {"customer": me, "lines": [latte(qty="4")], "receipt_number": "C"},
        key="c",
    )
    assert third.json()["balance"]["available_after"] == "67"
    assert [d.remaining for d in debts.all()] == [0, 0]
    lots = {
        lot.rule_code: lot.remaining
        for lot in Lot.objects.filter(operation__check_obj__receipt_number="C")
    }
    assert lots == {"tier:base": 27, "latte": 40}
    repaid = Entry.objects.filter(
        operation__check_obj__receipt_number="C", kind=EntryKind.REPAY
    ).values_list("amount", flat=True)
    assert sorted(repaid) == [-23, 23]
    assert Account.objects.get(pk=account.pk).available == 67
    assert ledger_reconcile(now=timezone.now()) == []
