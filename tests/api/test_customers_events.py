"""lookup, enrol, operations, events, auth, throttling, the error envelope, the schema."""

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from customers.codes import one_time_code_issue
from customers.models import Customer
from loyalty.api.models import OutletAPIKey
from loyalty.ledger.models import Account, Operation
from tests.api.conftest import latte
from tests.factories import OutletFactory

pytestmark = pytest.mark.django_db


def enrol(client, **body):
    return client.post("/api/v1/customers", {"phone": "+79991234567", **body}, format="json")


def test_enrol_201_then_200_without_duplicate(client):
    first = enrol(client, first_name="Анна", card="2000123", consents={"sms": True})
    assert first.status_code == 201, first.content
    data = first.json()
    assert data["phone_masked"] == "+7999***4567" and data["first_name"] == "Анна"
    assert data["tier"] == {"code": "base", "name": "Base"}
    assert data["balance"] == {"available": "0", "pending": "0"} and data["expiring"] == []
    again = enrol(client, phone="8 999 123 45 67")
    assert again.status_code == 200 and again.json()["id"] == data["id"]
    assert Customer.objects.count() == 1 and Account.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "12"}, "phone"),
        ({"email": "nope"}, "email"),
        ({"birth_date": "31.12.1990"}, "birth_date"),
        ({"consents": {"sms": True, "push": True}}, "consents.push"),
        ({"referral_code": "NOSUCH"}, "referral_code"),
        ({"nickname": "x"}, "nickname"),
    ],
)
def test_enrol_bad_input(client, body, field):
    response = enrol(client, **body)
    assert response.status_code == 400 and field in response.json()["fields"]
    assert not Customer.objects.exists()


def test_lookup_by_phone_card_code(client):
    enrol(client, card="777")
    for query in ({"phone": "89991234567"}, {"card": "777"}):
        response = client.get("/api/v1/customers/lookup", query)
        assert response.status_code == 200 and response.json()["phone_masked"] == "+7999***4567"
    code = one_time_code_issue(customer=Customer.objects.get(), purpose="till", now=timezone.now())
    assert client.get("/api/v1/customers/lookup", {"code": code}).status_code == 200
    used = client.get("/api/v1/customers/lookup", {"code": code})
    assert used.status_code == 404 and used.json()["code"] == "customer_not_found"


@pytest.mark.parametrize(
    "query", [{}, {"phone": "1", "card": "2"}, {"colour": "red"}, {"phone": "12"}]
)
def test_lookup_bad_query_is_400(client, query):
    response = client.get("/api/v1/customers/lookup", query)
    assert response.status_code == 400 and response.json()["code"] == "validation_error"


def test_lookup_other_programme_is_404(client):
    enrol(client)
    other = APIClient()
    _, key = OutletAPIKey.objects.create_key(outlet=OutletFactory(), name="x")
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert other.get("/api/v1/customers/lookup", {"phone": "+79991234567"}).status_code == 404


def test_events_award_once_then_limit(client):
    enrol(client)
    body = {"customer": {"phone": "+79991234567"}, "event": "review", "external_id": "rev-1"}
    first = client.post("/api/v1/events", body, format="json")
    assert first.status_code == 201, first.content
    assert first.json() == {
        "awarded_points": "50",
        "balance": {"available": "50", "pending": "0"},
    }
    replay = client.post("/api/v1/events", body, format="json")
    assert replay.status_code == 201 and replay.json()["awarded_points"] == "50"
    second = client.post("/api/v1/events", {**body, "external_id": "rev-2"}, format="json")
    assert second.status_code == 200
    assert second.json()["awarded_points"] == "0" and second.json()["reason"]
    unknown = client.post(
        "/api/v1/events", {**body, "event": "dance", "external_id": "d"}, format="json"
    )
    assert unknown.status_code == 200 and unknown.json()["awarded_points"] == "0"
    assert Operation.objects.filter(kind="event").count() == 1


def test_events_bad_input(client):
    response = client.post("/api/v1/events", {"event": "review"}, format="json")
    assert response.status_code == 400
    assert {"customer", "external_id"} <= set(response.json()["fields"])


def test_operations_cursor_pagination(client):
    customer_id = enrol(client).json()["id"]
    for i in range(25):
        body = {
            "customer": {"id": customer_id},
            "lines": [latte()],
            "receipt_number": f"R{i}",
        }
        assert (
            client.post("/api/v1/checks", body, format="json", HTTP_IDEMPOTENCY_KEY=f"k{i}")
        ).status_code == 201
    url = f"/api/v1/customers/{customer_id}/operations"
    page = client.get(url).json()
    assert len(page["results"]) == 20 and page["next"]
    assert page["results"][0]["description"] == "Check R24"
    assert (
        page["results"][0]["kind"] == "check" and page["results"][0]["points"] == "70"
    )  # silver by then: 10 % + latte
    rest = client.get(page["next"]).json()
    assert len(rest["results"]) == 5 and rest["next"] is None
    ids = [r["id"] for r in page["results"] + rest["results"]]
    assert len(set(ids)) == 25
    assert client.get(url, {"cursor": "garbage!"}).status_code == 400
    assert client.get("/api/v1/customers/nope/operations").status_code == 404


def test_auth_errors_use_the_envelope(anon_client, api_key):
    missing = anon_client.get("/api/v1/customers/lookup", {"phone": "1"})
    assert missing.status_code == 401 and missing.json()["code"] == "not_authenticated"
    anon_client.credentials(HTTP_AUTHORIZATION="Api-Key wrong.key")
    assert anon_client.get("/api/v1/customers/lookup").status_code == 401
    key = OutletAPIKey.objects.get()
    key.revoked = True
    key.save()
    anon_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
    revoked = anon_client.get("/api/v1/customers/lookup", {"phone": "1"})
    assert revoked.status_code == 401


def test_last_used_is_recorded(client):
    assert OutletAPIKey.objects.get().last_used_at is None
    client.get("/api/v1/customers/lookup", {"phone": "+79991234567"})
    assert OutletAPIKey.objects.get().last_used_at is not None


def test_http_errors_use_the_envelope(client):
    not_allowed = client.get("/api/v1/checks")
    assert not_allowed.status_code == 405 and not_allowed.json()["code"] == "method_not_allowed"
    media = client.post("/api/v1/checks/calculate", "a=1", content_type="text/plain")
    assert media.status_code == 415 and media.json()["code"] == "unsupported_media_type"
    missing = client.get("/api/v1/nowhere")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


@override_settings(API_THROTTLE_RATE="3/min")
def test_throttled_per_key_with_retry_after(client, outlet):
    for _ in range(3):
        assert client.get("/api/v1/customers/lookup", {"card": "1"}).status_code == 404
    response = client.get("/api/v1/customers/lookup", {"card": "1"})
    assert response.status_code == 429 and response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) > 0
    other = APIClient()
    _, key = OutletAPIKey.objects.create_key(outlet=outlet, name="till 2")
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert other.get("/api/v1/customers/lookup", {"card": "1"}).status_code == 404


def test_create_api_key_command_prints_only_a_working_key(outlet, capsys):
    call_command("create_api_key", "msk-1", "--program", "coffee", "--name", "till 9")
    key = capsys.readouterr().out.strip()
    assert "\n" not in key and OutletAPIKey.objects.get(name="till 9").outlet == outlet
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert client.get("/api/v1/customers/lookup", {"card": "1"}).status_code == 404


def test_schema_generates_without_warnings():
    # --fail-on-warn turns every drf-spectacular warning or error into a non-zero exit.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_schema_is_served(anon_client):
    response = anon_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    for path in ("/api/v1/checks", "/api/v1/checks/{check_id}/refunds", "/api/v1/events"):
        assert path.encode() in response.content
