"""Erasure on request (issue 13, item 12): identifiers, names and per-programme profiles are
anonymised with their history, codes and messages deleted, an audit record kept; the ledger
and reports are untouched and reconcile stays clean; idempotent; the person cannot be found."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from customers.codes import one_time_code_issue
from customers.models import Customer, ErasureRecord, OneTimeCode
from loyalty.ledger import services
from loyalty.ledger.models import Account, MemberProfile
from notifications.models import Message
from tests.api.conftest import latte
from tests.security.test_programme_isolation import PHONE, programme_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user(
        username="dpo", password="x", is_staff=True, is_superuser=True
    )


@pytest.fixture
def person(settings):
    """A member of two programmes with data in both, a purchase, a code and messages."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    a, _ = programme_client("apteka")
    b, _ = programme_client("bakery")
    a.post(
        "/api/v1/customers",
        {"phone": PHONE, "first_name": "Анна", "email": "anna@a.example", "card": "A-1",
         "birth_date": "1990-01-02", "consents": {"email": True, "sms": True}},
        format="json",
    )  # fmt: skip
    b.post(
        "/api/v1/customers",
        {"phone": PHONE, "first_name": "Аня", "email": "anya@b.example"},
        format="json",
    )
    bought = a.post(
        "/api/v1/checks",
        {"customer": {"phone": PHONE}, "lines": [latte(price="1000.00")], "receipt_number": "1"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    assert bought.status_code == 201, bought.content
    customer = Customer.objects.get(phone=PHONE)
    one_time_code_issue(customer=customer, purpose="till", now=timezone.now())
    MemberProfile.objects.filter(account__customer=customer, first_name="Аня").first().save()
    assert Message.objects.filter(customer=customer).exists()
    return a, customer


def traces(customer) -> list[str]:
    """Every place the person's data could still be read from."""
    found = []
    for row in Customer.history.filter(id=customer.pk).values():
        found += [str(v) for v in row.values()]
    for row in MemberProfile.history.filter(account__customer=customer).values():
        found += [str(v) for v in row.values()]
    for row in MemberProfile.objects.filter(account__customer=customer).values():
        found += [str(v) for v in row.values()]
    found += [str(v) for v in Customer.objects.filter(pk=customer.pk).values().first().values()]
    return found


def test_the_command_erases_everything_but_the_ledger_and_is_idempotent(person, staff):
    a, customer = person
    balances = list(Account.objects.values_list("pk", "available", "pending", "lifetime_spend"))
    personal = ("Анна", "Аня", "anna@a.example", "anya@b.example", "A-1", "1990-01-02", PHONE)
    assert any(value in traces(customer) for value in personal)

    call_command("customer_erase", str(customer.pk), reason="request 7/2026", by="dpo")

    assert not any(v in t for t in traces(customer) for v in personal), traces(customer)
    customer.refresh_from_db()
    assert customer.phone is None and customer.is_blocked
    assert not OneTimeCode.objects.filter(customer=customer).exists()
    assert not Message.objects.filter(customer=customer).exists()
    record = ErasureRecord.objects.get(customer=customer)
    assert (record.reason, record.erased_by) == ("request 7/2026", staff)
    assert len(record.reference) == 64 and PHONE not in record.reference
    # The ledger and reports are kept as they were, and still reconcile.
    assert (
        list(Account.objects.values_list("pk", "available", "pending", "lifetime_spend"))
        == balances
    )
    assert Account.objects.get(program__code="apteka").available > Decimal("0")
    assert services.ledger_reconcile(now=timezone.now()) == []
    # Nobody finds the person any more.
    for ref in ({"phone": PHONE}, {"card": "A-1"}):
        found = a.post("/api/v1/customers/lookup", {"customer": ref}, format="json")
        assert found.status_code == 404
    # Idempotent: a second run changes nothing and writes no second record.
    call_command("customer_erase", str(customer.pk), reason="again", by="dpo")
    assert ErasureRecord.objects.get(customer=customer).reason == "request 7/2026"


def test_the_command_needs_a_reason_a_staff_user_and_a_customer(person, staff):
    _, customer = person
    get_user_model().objects.create_user(username="clerk", password="x")
    with pytest.raises(CommandError, match="staff"):
        call_command("customer_erase", str(customer.pk), reason="r", by="clerk")
    with pytest.raises(CommandError, match="reason"):
        call_command("customer_erase", str(customer.pk), reason=" ", by="dpo")
    with pytest.raises(CommandError, match="No customer"):
        call_command("customer_erase", "999999", reason="r", by="dpo")
    assert not ErasureRecord.objects.exists()
    assert Customer.objects.get(pk=customer.pk).phone == PHONE


def test_the_admin_action_asks_for_confirmation_then_erases(person, staff, client):
    _, customer = person
    client.force_login(staff)
    url = reverse("admin:customers_customer_changelist")
    data = {"action": "erase_personal_data", "_selected_action": [customer.pk]}
    page = client.post(url, data)
    assert page.status_code == 200 and b"cannot be undone" in page.content
    assert Customer.objects.get(pk=customer.pk).phone == PHONE  # nothing yet
    unconfirmed = client.post(url, {**data, "apply": "1", "reason": "req"})
    assert unconfirmed.status_code == 200
    assert not ErasureRecord.objects.exists()
    done = client.post(url, {**data, "apply": "1", "reason": "req 8", "confirm": "on"})
    assert done.status_code == 302
    assert Customer.objects.get(pk=customer.pk).phone is None
    record = ErasureRecord.objects.get()
    listing = client.get(reverse("admin:customers_erasurerecord_changelist"))
    assert listing.status_code == 200 and record.reference[:12].encode() in listing.content
    detail = client.get(reverse("admin:customers_erasurerecord_change", args=[record.pk]))
    assert detail.status_code == 200 and b'name="reason"' not in detail.content  # read-only
    assert client.get(reverse("admin:customers_erasurerecord_add")).status_code == 403
