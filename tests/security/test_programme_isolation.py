"""Programmes are isolated (issue 13, item 3): what one programme collected (names, email,
birth date, card, consents) is never read or used by another, and each programme sees its own
customer id. The scenario of the issue, over HTTP."""

import pytest
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from loyalty.api.models import OutletAPIKey
from loyalty.ledger.models import Account, MemberProfile
from notifications.services import messages_dispatch
from tests.factories import OutletFactory, ProgramFactory, TierFactory

pytestmark = pytest.mark.django_db

PHONE = "+79991234567"


def programme_client(code: str) -> tuple[APIClient, object]:
    program = ProgramFactory(code=code, region="RU")
    TierFactory(program=program, code="base", name="Base", rank=0, earn_percent=5)
    outlet = OutletFactory(program=program, code=f"{code}-1")
    _, key = OutletAPIKey.objects.create_key(outlet=outlet, name="till")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client, program


@pytest.fixture
def b_and_a(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    b, program_b = programme_client("bakery")
    a, program_a = programme_client("apteka")
    return b, program_b, a, program_a


def enrol(client, **body):
    response = client.post("/api/v1/customers", {"phone": PHONE, **body}, format="json")
    assert response.status_code in (200, 201), response.content
    return response


def test_a_programme_enrolling_a_phone_only_another_knows_learns_nothing(b_and_a):
    b, _, a, program_a = b_and_a
    from_b = enrol(
        b,
        first_name="Борис",
        last_name="Бубликов",
        email="boris@bakery.example",
        birth_date="1990-03-04",
        card="B-777",
        consents={"sms": True, "email": True},
    ).json()
    messages_dispatch(now=timezone.now())
    assert [m.to for m in mail.outbox] == [["boris@bakery.example"]]  # B's own welcome
    mail.outbox.clear()

    response = enrol(a)  # A knows only the phone the till typed
    assert response.status_code == 201  # new to A: a member of A from now on
    from_a = response.json()
    assert from_a["first_name"] == ""
    assert from_a["id"] != from_b["id"]
    assert from_a["balance"] == {"available": "0", "pending": "0"}
    assert from_a["phone_masked"] == "+7999***4567"

    # A's welcome email has no address A collected: nothing goes to B's address.
    messages_dispatch(now=timezone.now())
    assert all("boris@bakery.example" not in m.to for m in mail.outbox)
    assert mail.outbox == []

    # A's lookups see A's data and A's id only; B's card and B's id are unknown to A.
    found = a.post("/api/v1/customers/lookup", {"customer": {"phone": PHONE}}, format="json")
    assert found.json()["first_name"] == "" and found.json()["id"] == from_a["id"]
    by_b_card = a.post("/api/v1/customers/lookup", {"customer": {"card": "B-777"}}, format="json")
    assert by_b_card.status_code == 404
    by_b_id = a.post("/api/v1/customers/lookup", {"customer": {"id": from_b["id"]}}, format="json")
    assert by_b_id.status_code == 404
    assert a.get(f"/api/v1/customers/{from_b['id']}/operations").status_code == 404
    assert a.get(f"/api/v1/customers/{from_a['id']}/operations").status_code == 200
    # B still sees its own.
    again = b.post("/api/v1/customers/lookup", {"customer": {"card": "B-777"}}, format="json")
    assert again.json()["first_name"] == "Борис" and again.json()["id"] == from_b["id"]

    profile_a = MemberProfile.objects.get(account__program=program_a)
    assert (profile_a.email, profile_a.birth_date, profile_a.card_number) == ("", None, None)
    assert not profile_a.consent_email and not profile_a.consent_sms


def test_each_programme_keeps_its_own_data_and_its_own_welcome_address(b_and_a):
    b, _, a, _ = b_and_a
    enrol(b, first_name="Борис", email="boris@bakery.example", consents={"email": True})
    enrol(a, first_name="Боря", email="borya@apteka.example", consents={"email": True})
    messages_dispatch(now=timezone.now())
    assert sorted(m.to[0] for m in mail.outbox) == [
        "boris@bakery.example",
        "borya@apteka.example",
    ]
    assert "Боря" in next(m.body for m in mail.outbox if m.to == ["borya@apteka.example"])
    # The same card may be issued by two programmes: each only knows its own.
    enrol(b, card="555")
    enrol(a, card="555")
    for client, name in ((b, "Борис"), (a, "Боря")):
        found = client.post(
            "/api/v1/customers/lookup", {"customer": {"card": "555"}}, format="json"
        )
        assert found.json()["first_name"] == name
    assert Account.objects.count() == 2
