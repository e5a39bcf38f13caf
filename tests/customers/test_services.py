from datetime import date

import pytest

from core import errors
from customers.codes import one_time_code_issue
from customers.models import Customer
from loyalty.ledger import signals
from loyalty.ledger.models import Account, MemberProfile
from loyalty.ledger.services import customer_enrol, customer_identify
from tests.factories import AccountFactory, OutletFactory, ProgramFactory, TierFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def outlet():
    program = ProgramFactory()
    TierFactory(program=program, code="base", rank=0)
    return OutletFactory(program=program)


def test_enrol_creates_customer_account_and_sends_signal(outlet, now):
    seen = []

    def receiver(sender, **kwargs):
        seen.append(kwargs)

    signals.customer_enrolled.connect(receiver, dispatch_uid="test-enrol")
    try:
        customer, account, created = customer_enrol(
            program=outlet.program,
            outlet=outlet,
            phone="8 (999) 111-22-33",
            first_name="Ольга",
            birth_date=date(1990, 5, 1),
            card="2000123",
            consents={"sms": True, "email": False},
            now=now,
        )
    finally:
        signals.customer_enrolled.disconnect(dispatch_uid="test-enrol")
    assert created is True
    assert customer.phone == "+79991112233"
    # What the programme collected is its member profile's; the customer is only the phone.
    profile = MemberProfile.objects.get(account=account)
    assert (profile.card_number, profile.first_name) == ("2000123", "Ольга")
    assert profile.birth_date == date(1990, 5, 1)
    assert profile.consent_sms is True and profile.consent_sms_at == now
    assert profile.consent_email is False
    assert (customer.card_number, customer.first_name, customer.birth_date) == (None, "", None)
    assert account.program == outlet.program and account.tier.code == "base"
    assert account.enrolled_outlet == outlet
    assert len(seen) == 1 and seen[0]["created"] is True and seen[0]["account"] == account


def test_enrol_same_phone_returns_existing(outlet, now):
    first, account, _ = customer_enrol(
        program=outlet.program, outlet=outlet, phone="+79991112233", now=now
    )
    again, account2, created = customer_enrol(
        program=outlet.program, outlet=outlet, phone="9991112233", first_name="X", now=now
    )
    assert created is False and again == first and account2 == account
    assert Customer.objects.count() == 1 and Account.objects.count() == 1


def test_enrol_existing_customer_into_second_programme_opens_account(outlet, now):
    customer, _, _ = customer_enrol(
        program=outlet.program, outlet=outlet, phone="+79991112233", now=now
    )
    other = OutletFactory()
    again, account, created = customer_enrol(
        program=other.program, outlet=other, phone="+79991112233", now=now
    )
    assert again == customer and created is True and account.program == other.program


def test_enrol_referral_by_code_never_self(outlet, now):
    referrer, _, _ = customer_enrol(
        program=outlet.program, outlet=outlet, phone="+79990000001", now=now
    )
    friend, _, _ = customer_enrol(
        program=outlet.program,
        outlet=outlet,
        phone="+79990000002",
        referral_code=referrer.referral_code.lower(),
        now=now,
    )
    assert friend.referred_by == referrer
    # Re-enrolling the referrer with their own code changes nothing.
    same, _, created = customer_enrol(
        program=outlet.program,
        outlet=outlet,
        phone="+79990000001",
        referral_code=referrer.referral_code,
        now=now,
    )
    same.refresh_from_db()
    assert created is False and same.referred_by is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"phone": "123"}, "phone"),
        ({"phone": "+79990000003", "referral_code": "NOPE"}, "referral_code"),
        ({"phone": "+79990000003", "email": "not-an-email"}, "email"),
    ],
)
def test_enrol_rejects_bad_input_and_writes_nothing(outlet, now, kwargs, field):
    with pytest.raises(errors.ValidationFailed) as exc:
        customer_enrol(program=outlet.program, outlet=outlet, now=now, **kwargs)
    assert field in exc.value.fields
    assert Customer.objects.count() == 0 and Account.objects.count() == 0


def test_enrol_card_taken_by_someone_else(outlet, now):
    customer_enrol(program=outlet.program, outlet=outlet, phone="+79990000001", card="C1", now=now)
    with pytest.raises(errors.ValidationFailed) as exc:
        customer_enrol(
            program=outlet.program, outlet=outlet, phone="+79990000002", card="C1", now=now
        )
    assert "card" in exc.value.fields
    assert Customer.objects.count() == 1


def test_identify_by_each_identifier_and_only_members(now):
    account = AccountFactory(customer__phone="+79991234567")
    MemberProfile.objects.filter(account=account).update(card_number="777")
    program, customer = account.program, account.customer
    assert customer_identify(program=program, phone="8 999 123 45 67", now=now) == customer
    assert customer_identify(program=program, card="777", now=now) == customer
    own_id = str(account.profile.public_id)  # the programme's own id, not the global one
    assert customer_identify(program=program, id=own_id, now=now) == customer
    code = one_time_code_issue(customer=customer, purpose="till", now=now)
    assert customer_identify(program=program, code=code, now=now) == customer
    with pytest.raises(errors.CustomerNotFound):
        customer_identify(program=program, code=code, now=now)
    stranger = ProgramFactory()
    with pytest.raises(errors.CustomerNotFound):
        customer_identify(program=stranger, phone="+79991234567", now=now)
    with pytest.raises(errors.CustomerNotFound):
        customer_identify(program=program, id="not-a-uuid", now=now)
    with pytest.raises(errors.ValidationFailed):
        customer_identify(program=program, phone="+79991234567", card="777", now=now)
    with pytest.raises(errors.ValidationFailed):
        customer_identify(program=program, now=now)
