"""The customer card: what it shows, its bounded reads, and its audited actions."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from customers.codes import one_time_code_consume
from customers.models import CodePurpose, Customer, OneTimeCode
from loyalty.ledger.models import Account, Operation, OperationKind
from tests.factories import (
    AccountFactory,
    CheckFactory,
    CustomerFactory,
    OutletFactory,
    ProgramFactory,
    TierFactory,
    TriggerConfigFactory,
)
from tests.ledger.helpers import assert_consistent, grant

pytestmark = pytest.mark.django_db

BREAKDOWN = [
    {
        "rule": "base",
        "kind": "percent",
        "points": "20",
        "reason": "5 % of 400.00",
        "reason_template": "%(percent)s %% of %(amount)s",
        "reason_params": {"percent": "5", "amount": "400.00"},
        "lines": {"0": "20"},
    }
]


def staff(group: str, username: str | None = None) -> User:
    user = User.objects.create_user(username or group, password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def support(client):
    client.force_login(staff("support"))
    return client


@pytest.fixture
def analyst():
    client = Client()
    client.force_login(staff("analyst"))
    return client


@pytest.fixture
def account():
    program = ProgramFactory(code="coffee", name="Кофейня", lifetime_days=365)
    TierFactory(program=program, code="base", name="Base", rank=0, threshold=Decimal("0"))
    silver = TierFactory(program=program, code="silver", name="Silver", rank=1, threshold=100000)
    TierFactory(program=program, code="gold", name="Gold", rank=2, threshold=Decimal("200000"))
    customer = CustomerFactory(first_name="Анна", last_name="Смирнова")
    account = AccountFactory(
        program=program, customer=customer, tier=silver, lifetime_spend=Decimal("150000")
    )
    grant(account, 100, timezone.now(), key="g1")
    return Account.objects.get(pk=account.pk)


def card_url(customer):
    return reverse("admin:customers_customer_change", args=[customer.pk])


def action_url(customer, action):
    return reverse("admin:customers_customer_card_action", args=[customer.pk, action])


def test_the_card_shows_accounts_tier_progress_checks_with_reasons_and_the_ledger(support, account):
    CheckFactory(account=account, receipt_number="R-777", breakdown=BREAKDOWN)
    page = support.get(card_url(account.customer))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Кофейня" in html and 'class="card-available">100' in html
    assert "Silver" in html and "Gold: 50000" in html  # 50 000 ₽ of spend to go to gold
    assert 'style="width: 50%"' in html  # halfway from silver (100 000) to gold (200 000)
    assert "R-777" in html and "5 % of 400.00 = 20" in html
    assert "Goodwill" not in html
    assert 'name="points"' in html and 'name="reason"' in html  # support may adjust


def test_the_ledger_is_paged_and_the_card_is_bounded_in_queries(
    support, account, django_assert_max_num_queries
):
    now = timezone.now()
    for n in range(60):
        grant(account, 1, now - timedelta(minutes=n), key=f"many-{n}")
        CheckFactory(account=account, receipt_number=f"M-{n}", breakdown=BREAKDOWN)
    with django_assert_max_num_queries(20):  # 15-17 measured, whatever the rows
        page = support.get(card_url(account.customer))
    html = page.content.decode()
    operation = re.compile(f'href="{reverse("admin:ledger_operation_changelist")}\\d+/')
    assert len(operation.findall(html)) == 25
    assert "page 1 of 3" in html and "ledger_page=2" in html
    page2 = support.get(card_url(account.customer), {"ledger_page": 3})
    assert len(operation.findall(page2.content.decode())) == 11


def test_an_account_page_is_short_and_links_to_the_card(admin_client, account):
    now = timezone.now()
    for n in range(30):
        grant(account, 1, now, key=f"lot-{n}")
    html = admin_client.get(reverse("admin:ledger_account_change", args=[account.pk])).content
    html = html.decode()
    assert "lots-0-" not in html and "entries-0-" not in html
    assert card_url(account.customer) in html
    assert f"?account__id__exact={account.pk}" in html


# --- adjust -----------------------------------------------------------------------------------

TOKEN = "7f0c2a4e-3b1d-4c5e-9f6a-0123456789ab"  # the form's one-time token


def test_the_same_adjustment_form_sent_twice_adjusts_once(support, account):
    page = support.get(card_url(account.customer)).content.decode()
    token = re.search(r'name="token" value="([0-9a-f-]{36})"', page).group(1)
    data = {"account": account.pk, "points": "25", "reason": "Goodwill", "token": token}
    for _ in range(2):  # a double click, or the page sent again
        assert support.post(action_url(account.customer, "adjust"), data).status_code == 302
    assert Operation.objects.filter(kind=OperationKind.ADJUST).count() == 1
    assert LogEntry.objects.filter(object_id=str(account.customer.pk)).count() == 1
    assert Account.objects.get(pk=account.pk).available == Decimal("125")
    # A new form (a new token) is a new adjustment.
    support.post(action_url(account.customer, "adjust"), {**data, "token": TOKEN})
    assert Account.objects.get(pk=account.pk).available == Decimal("150")
    assert_consistent(timezone.now())


def test_support_adjusts_with_a_reason_and_it_is_audited(support, account):
    response = support.post(
        action_url(account.customer, "adjust"),
        {"account": account.pk, "points": "25", "reason": "Goodwill", "token": TOKEN},
    )
    assert response.status_code == 302
    op = Operation.objects.get(kind=OperationKind.ADJUST)
    assert (op.points, op.reason, op.created_by.username) == (Decimal("25"), "Goodwill", "support")
    assert Account.objects.get(pk=account.pk).available == Decimal("125")
    log = LogEntry.objects.get(object_id=str(account.customer.pk))
    assert log.user.username == "support" and "Goodwill" in log.change_message
    assert_consistent(timezone.now())


def test_an_analyst_may_not_adjust(analyst, account):
    response = analyst.post(
        action_url(account.customer, "adjust"),
        {"account": account.pk, "points": "25", "reason": "Goodwill", "token": TOKEN},
    )
    assert response.status_code == 403
    assert not Operation.objects.filter(kind=OperationKind.ADJUST).exists()
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"points": "25", "reason": ""}, "reason", "This field is required."),
        ({"points": "abc", "reason": "x"}, "points", "Enter a number."),
        ({"points": "0", "reason": "x"}, "points", "Must not be zero."),
        ({"points": "-500", "reason": "x"}, "points", "Cannot take 500"),
    ],
)
def test_a_bad_adjustment_names_the_field_and_writes_nothing(
    support, account, data, field, message
):
    response = support.post(
        action_url(account.customer, "adjust"), {"account": account.pk, "token": TOKEN, **data}
    )
    assert response.status_code == 400
    assert message in str(response.context["form"].errors[field])
    assert not Operation.objects.filter(kind=OperationKind.ADJUST).exists()
    assert not LogEntry.objects.exists()
    assert Account.objects.get(pk=account.pk).available == Decimal("100")


def test_an_account_of_another_customer_cannot_be_adjusted(support, account):
    other = AccountFactory(program=account.program)
    response = support.post(
        action_url(account.customer, "adjust"),
        {"account": other.pk, "points": "5", "reason": "x", "token": TOKEN},
    )
    assert response.status_code == 400
    assert "account" in response.context["form"].errors
    assert not Operation.objects.filter(kind=OperationKind.ADJUST).exists()


# --- block / unblock --------------------------------------------------------------------------


def test_support_blocks_with_a_reason_and_unblocks(support, account):
    customer = account.customer
    response = support.post(action_url(customer, "block"), {"reason": "Fraud at the till"})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.is_blocked and customer.blocked_reason == "Fraud at the till"
    assert customer.history.first().history_user.username == "support"
    html = support.get(card_url(customer)).content.decode()
    assert "Fraud at the till" in html and "Unblock the customer" in html

    assert support.post(action_url(customer, "unblock"), {"reason": "Checked"}).status_code == 302
    customer.refresh_from_db()
    assert not customer.is_blocked
    messages = list(LogEntry.objects.order_by("pk").values_list("change_message", flat=True))
    assert messages == ["Blocked: Fraud at the till", "Unblocked: Checked"]


def test_a_block_needs_a_reason_and_a_permission(support, analyst, account):
    customer = account.customer
    response = support.post(action_url(customer, "block"), {"reason": "  "})
    assert response.status_code == 400
    assert "reason" in response.context["form"].errors
    assert analyst.post(action_url(customer, "block"), {"reason": "x"}).status_code == 403
    assert not Customer.objects.get(pk=customer.pk).is_blocked
    assert not LogEntry.objects.exists()


# --- enrol ------------------------------------------------------------------------------------


def test_support_enrols_a_customer_with_the_welcome_bonus(support, account):
    clinic = ProgramFactory(code="clinic", name="Клиника")
    outlet = OutletFactory(program=clinic, code="c1")
    TriggerConfigFactory(program=clinic, welcome_points=Decimal("300"))
    customer = account.customer
    response = support.post(
        action_url(customer, "enrol"), {"program": clinic.pk, "outlet": outlet.pk}
    )
    assert response.status_code == 302
    new = Account.objects.get(customer=customer, program=clinic)
    assert new.enrolled_outlet == outlet
    assert new.available == Decimal("300")
    assert LogEntry.objects.get().change_message == "Enrolled into clinic"
    assert_consistent(timezone.now())


def test_enrolment_refuses_a_programme_already_joined_or_another_programmes_outlet(
    support, account
):
    customer = account.customer
    response = support.post(action_url(customer, "enrol"), {"program": account.program.pk})
    assert response.status_code == 400
    assert "program" in response.context["form"].errors
    clinic = ProgramFactory(code="clinic")
    response = support.post(
        action_url(customer, "enrol"),
        {"program": clinic.pk, "outlet": OutletFactory(program=account.program).pk},
    )
    assert response.status_code == 400
    assert "outlet" in response.context["form"].errors
    assert Account.objects.filter(customer=customer).count() == 1
    assert not LogEntry.objects.exists()


def test_a_customer_without_a_phone_is_not_enrolled(support):
    customer = CustomerFactory(phone=None, card_number="CARD-1")
    clinic = ProgramFactory(code="clinic")
    response = support.post(action_url(customer, "enrol"), {"program": clinic.pk})
    assert response.status_code == 400
    assert "no phone" in str(response.context["form"].errors["program"])
    assert not Account.objects.filter(customer=customer).exists()


def test_an_analyst_may_not_enrol(analyst, account):
    clinic = ProgramFactory(code="clinic")
    response = analyst.post(action_url(account.customer, "enrol"), {"program": clinic.pk})
    assert response.status_code == 403
    assert not Account.objects.filter(program=clinic).exists()


# --- till code --------------------------------------------------------------------------------


def test_support_issues_a_till_code_shown_once_and_never_logged(support, account):
    customer = account.customer
    response = support.post(action_url(customer, "till_code"))
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    code = response.context["till_code"].code
    assert code in response.content.decode()
    log = LogEntry.objects.get()
    assert code not in log.change_message and log.user.username == "support"
    assert OneTimeCode.objects.filter(customer=customer, purpose=CodePurpose.TILL).count() == 1
    found = one_time_code_consume(code=code, purpose=CodePurpose.TILL, now=timezone.now())
    assert found == customer


def test_a_till_code_is_refused_to_an_analyst_and_for_a_blocked_customer(support, analyst, account):
    customer = account.customer
    Customer.objects.filter(pk=customer.pk).update(is_blocked=True, blocked_reason="x")
    response = support.post(action_url(customer, "till_code"))
    assert response.status_code == 400
    assert "customer: The customer is blocked." in str(response.context["form"].non_field_errors())
    assert analyst.post(action_url(customer, "till_code")).status_code == 403
    assert not OneTimeCode.objects.exists()
    assert not LogEntry.objects.exists()


def test_the_card_offers_no_action_without_permission(analyst, account):
    html = analyst.get(card_url(account.customer)).content.decode()
    assert 'name="points"' not in html and "Issue a till code" not in html


def test_an_unknown_action_is_refused(support, account):
    assert support.post(action_url(account.customer, "delete_all")).status_code == 403
