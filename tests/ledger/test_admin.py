"""The ledger in the admin: read-only lots and entries; manual adjustment via points_adjust."""

from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from loyalty.ledger.models import Account, Entry, Operation, OperationKind
from tests.factories import AccountFactory, ProgramFactory
from tests.ledger.helpers import assert_consistent, grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(now):
    account = AccountFactory(program=ProgramFactory(code="coffee", lifetime_days=365))
    grant(account, 100, now, key="g1")
    return account


def adjust(client, accounts, **data):
    return client.post(
        reverse("admin:ledger_account_changelist"),
        {
            "action": "adjust_points",
            ACTION_CHECKBOX_NAME: [a.pk for a in accounts],
            **data,
        },
        follow=True,
    )


def test_the_account_page_shows_balances_lots_and_entries_read_only(admin_client, account):
    page = admin_client.get(reverse("admin:ledger_account_change", args=[account.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "100" in html
    # Inline rows are shown without inputs: the ledger cannot be edited here.
    assert 'name="lots-0-remaining"' not in html
    assert 'name="entries-0-amount"' not in html
    assert admin_client.get(reverse("admin:ledger_account_add")).status_code == 403
    assert admin_client.get(reverse("admin:ledger_entry_add")).status_code == 403
    entry = Entry.objects.first()
    response = admin_client.post(
        reverse("admin:ledger_entry_change", args=[entry.pk]), {"amount": "999"}
    )
    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.amount == Decimal("100")


def test_the_action_first_asks_for_points_and_a_reason(admin_client, account):
    page = adjust(admin_client, [account])
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="points"' in html and 'name="reason"' in html
    assert not Operation.objects.filter(kind=OperationKind.ADJUST).exists()


def test_the_action_adjusts_through_the_ledger_with_the_acting_user(
    admin_client, admin_user, account, now
):
    other = AccountFactory(program=account.program)
    page = adjust(admin_client, [account, other], apply="1", points="25", reason="Goodwill")
    assert "2" in page.content.decode()

    ops = Operation.objects.filter(kind=OperationKind.ADJUST).order_by("account_id")
    assert [(o.account_id, o.points, o.reason, o.created_by) for o in ops] == [
        (account.pk, Decimal("25"), "Goodwill", admin_user),
        (other.pk, Decimal("25"), "Goodwill", admin_user),
    ]
    assert Account.objects.get(pk=account.pk).available == Decimal("125")
    assert_consistent(timezone.now())  # the admin acts at the real time


def test_a_refused_adjustment_changes_no_account(admin_client, account, now):
    poor = AccountFactory(program=account.program)
    page = adjust(admin_client, [account, poor], apply="1", points="-50", reason="Fraud")
    assert "Cannot take 50" in page.content.decode()
    assert not Operation.objects.filter(kind=OperationKind.ADJUST).exists()
    assert Account.objects.get(pk=account.pk).available == Decimal("100")


def test_a_reason_is_required_and_points_must_fit_the_precision(admin_client, account):
    adjust(admin_client, [account], apply="1", points="10", reason="")
    page = adjust(admin_client, [account], apply="1", points="1.5", reason="x")
    assert "points" in page.content.decode()
    assert not Operation.objects.filter(kind=OperationKind.ADJUST).exists()


def test_support_without_the_change_permission_cannot_adjust(client, django_user_model, account):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("support", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_account"))
    client.force_login(user)
    adjust(client, [account], apply="1", points="10", reason="x")
    assert not Operation.objects.filter(kind=OperationKind.ADJUST).exists()
