"""What one programme's terminal can learn about, or do to, another programme's customers
(issue 13, items 4 and 5), and the lookup that keeps identifiers out of URLs (item 13)."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from customers.codes import one_time_code_issue
from customers.models import Customer
from loyalty.api.models import OutletAPIKey
from loyalty.ledger.models import MemberProfile
from loyalty.ledger.services import account_open
from tests.factories import CustomerFactory, OutletFactory, ProgramFactory, TierFactory

pytestmark = pytest.mark.django_db

B_PHONE = "+79990001122"


@pytest.fixture
def b_client(db):
    """A terminal of programme B, with a member of B who holds card 2000555."""
    program_b = ProgramFactory(code="bakery", region="RU")
    TierFactory(program=program_b, code="base", rank=0)
    outlet_b = OutletFactory(program=program_b, code="b-1")
    customer = CustomerFactory(phone=B_PHONE, first_name="")
    account = account_open(
        program=program_b, customer=customer, now=timezone.now(), outlet=outlet_b
    )
    MemberProfile.objects.filter(account=account).update(card_number="2000555", first_name="Борис")
    _, key = OutletAPIKey.objects.create_key(outlet=outlet_b, name="b till")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    api.customer = customer
    return api


# --- item 4: A's key must not burn B's till code --------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_till_code_of_another_programme_is_not_consumed(client, b_client, method):
    code = one_time_code_issue(customer=b_client.customer, purpose="till", now=timezone.now())
    if method == "get":
        foreign = client.get("/api/v1/customers/lookup", {"code": code})
    else:
        foreign = client.post(
            "/api/v1/customers/lookup", {"customer": {"code": code}}, format="json"
        )
    assert foreign.status_code == 404
    own = b_client.get("/api/v1/customers/lookup", {"code": code})
    assert own.status_code == 200, own.json()
    assert own.json()["first_name"] == "Борис"


def test_a_till_code_in_a_check_of_another_programme_is_not_consumed(client, b_client):
    from tests.api.conftest import latte

    code = one_time_code_issue(customer=b_client.customer, purpose="till", now=timezone.now())
    response = client.post(
        "/api/v1/checks/calculate", {"customer": {"code": code}, "lines": [latte()]}, format="json"
    )
    assert response.status_code == 404
    assert b_client.get("/api/v1/customers/lookup", {"code": code}).status_code == 200


# --- item 5: enrolling with another programme's card says nothing about it ------------------


def test_enrol_with_another_programmes_card_answers_like_a_free_card(client, b_client):
    free = client.post(
        "/api/v1/customers", {"phone": "+79991234567", "card": "3000999"}, format="json"
    )
    foreign = client.post(
        "/api/v1/customers", {"phone": "+79995556677", "card": "2000555"}, format="json"
    )
    assert free.status_code == foreign.status_code == 201, foreign.json()
    assert set(free.json()) == set(foreign.json())
    # Cards are per programme (item 3): A's member holds 2000555 in A, B's keeps it in B.
    assert b_client.get("/api/v1/customers/lookup", {"card": "2000555"}).json()["first_name"] == (
        "Борис"
    )
    mine = client.get("/api/v1/customers/lookup", {"card": "2000555"})
    assert mine.status_code == 200 and mine.json()["phone_masked"] == "+7999***6677"
    assert Customer.objects.get(phone="+79995556677").card_number is None


def test_an_existing_member_adding_another_programmes_card_learns_nothing(client, b_client):
    first = client.post("/api/v1/customers", {"phone": "+79991234567"}, format="json")
    assert first.status_code == 201
    again = client.post(
        "/api/v1/customers", {"phone": "+79991234567", "card": "2000555"}, format="json"
    )
    assert again.status_code == 200, again.json()
    assert MemberProfile.objects.get(account__customer__phone=B_PHONE).card_number == "2000555"


def test_a_card_of_the_programmes_own_member_is_still_refused(client):
    client.post("/api/v1/customers", {"phone": "+79991234567", "card": "777"}, format="json")
    response = client.post(
        "/api/v1/customers", {"phone": "+79995556677", "card": "777"}, format="json"
    )
    assert response.status_code == 400
    assert "card" in response.json()["fields"]


# --- item 13: POST /customers/lookup ------------------------------------------------------------


def test_lookup_by_post_body(client, b_client):
    client.post("/api/v1/customers", {"phone": "+79991234567", "card": "777"}, format="json")
    for ref in ({"phone": "8 999 123-45-67"}, {"card": "777"}):
        response = client.post("/api/v1/customers/lookup", {"customer": ref}, format="json")
        assert response.status_code == 200, response.json()
        assert response.json()["phone_masked"] == "+7999***4567"
    for body, field in (
        ({"customer": {}}, "customer"),
        ({"customer": {"phone": "1", "card": "2"}}, "customer"),
        ({}, "customer"),
        ({"customer": {"phone": "12"}}, "customer.phone"),
    ):
        response = client.post("/api/v1/customers/lookup", body, format="json")
        assert response.status_code == 400, (body, response.json())
        assert field in response.json()["fields"], (body, response.json())
    other = client.post("/api/v1/customers/lookup", {"customer": {"phone": B_PHONE}}, format="json")
    assert other.status_code == 404
