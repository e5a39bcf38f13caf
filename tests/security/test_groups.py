"""The predefined staff groups can do their job in the admin and nothing else
(issue 13, item 14). Every request goes through the admin over HTTP."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from loyalty.ledger.services import account_open
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(program, outlet):
    customer = CustomerFactory(phone="+79991234567")
    account = account_open(program=program, customer=customer, now=timezone.now(), outlet=outlet)
    return {"program": program, "customer": customer, "account": account}


def staff_client(client, django_user_model, group: str):
    user = django_user_model.objects.create_user(group, f"{group}@example.com", "x", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    return client


def status(client, name: str, *args) -> int:
    return client.get(reverse(f"admin:{name}", args=args)).status_code


def test_the_groups_exist_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= {"marketer", "support", "analyst"}


def test_marketer_builds_programmes_campaigns_and_templates(client, django_user_model, data):
    c = staff_client(client, django_user_model, "marketer")
    for name in (
        "rules_program_changelist",
        "rules_program_add",
        "rules_earnrule_add",
        "campaigns_campaign_add",
        "campaigns_segment_add",
        "notifications_template_add",
    ):
        assert status(c, name) == 200, name
    assert status(c, "rules_program_change", data["program"].pk) == 200
    for name in (
        "customers_customer_changelist",
        "ledger_account_changelist",
        "ledger_operation_changelist",
        "auth_user_changelist",
        "pos_api_outletapikey_changelist",
        "notifications_message_changelist",
    ):
        assert status(c, name) == 403, name


def test_support_finds_customers_and_adjusts_points(client, django_user_model, data):
    c = staff_client(client, django_user_model, "support")
    assert status(c, "customers_customer_changelist") == 200
    assert status(c, "customers_customer_change", data["customer"].pk) == 200
    assert status(c, "ledger_account_changelist") == 200
    assert status(c, "ledger_operation_changelist") == 200
    assert status(c, "ledger_check_changelist") == 200
    page = c.get(reverse("admin:ledger_account_changelist")).content.decode()
    assert 'value="adjust_points"' in page  # the adjust-points action is offered
    for name in (
        "customers_customer_add",
        "rules_program_changelist",
        "campaigns_campaign_changelist",
        "notifications_template_changelist",
        "auth_user_changelist",
    ):
        assert status(c, name) == 403, name
    response = c.post(
        reverse("admin:customers_customer_delete", args=[data["customer"].pk]), {"post": "yes"}
    )
    assert response.status_code == 403


def test_analyst_only_reads(client, django_user_model, data):
    c = staff_client(client, django_user_model, "analyst")
    assert status(c, "rules_program_changelist") == 200
    assert status(c, "rules_program_change", data["program"].pk) == 200  # read-only view
    assert status(c, "ledger_operation_changelist") == 200
    assert status(c, "campaigns_campaign_changelist") == 200
    for name in (
        "rules_program_add",
        "campaigns_campaign_add",
        "notifications_template_add",
        "customers_customer_changelist",
        "auth_user_changelist",
    ):
        assert status(c, name) == 403, name
    program = data["program"]
    response = c.post(reverse("admin:rules_program_change", args=[program.pk]), {"name": "Hacked"})
    assert response.status_code == 403
    program.refresh_from_db()
    assert program.name != "Hacked"
