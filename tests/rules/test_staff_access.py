"""A staff user limited to programme A neither sees nor changes programme B (StaffProgramAccess)."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from loyalty.rules.models import StaffProgramAccess, Tier
from tests.factories import (
    AccountFactory,
    CampaignFactory,
    CheckFactory,
    EarnRuleFactory,
    OutletFactory,
    ProgramFactory,
    SegmentFactory,
    TierFactory,
)

pytestmark = pytest.mark.django_db

APPS = ("rules", "ledger", "notifications", "pos_api", "reports")


@pytest.fixture
def programmes():
    a, b = ProgramFactory(code="a", name="Alpha"), ProgramFactory(code="b", name="Beta")
    for p in (a, b):
        TierFactory(program=p, code=f"{p.code}-base", name=f"{p.name} base")
        OutletFactory(program=p, code=f"{p.code}-shop")
        EarnRuleFactory(program=p, code=f"{p.code}-rule")
    return a, b


@pytest.fixture
def marketer(client, programmes):
    user = get_user_model().objects.create_user("marketer-a", password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=APPS))
    StaffProgramAccess.objects.create(user=user, program=programmes[0])
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "name",
    ["program", "tier", "earnrule", "outlet"],
)
def test_another_programmes_change_history_and_delete_pages_answer_404(marketer, programmes, name):
    a, b = programmes
    obj_b = (
        b
        if name == "program"
        else getattr(
            b, {"tier": "tiers", "earnrule": "earn_rules", "outlet": "outlets"}[name]
        ).get()
    )
    for view in ("change", "history", "delete"):
        assert (
            marketer.get(reverse(f"admin:rules_{name}_{view}", args=[obj_b.pk])).status_code == 404
        )
    obj_a = (
        a
        if name == "program"
        else getattr(
            a, {"tier": "tiers", "earnrule": "earn_rules", "outlet": "outlets"}[name]
        ).get()
    )
    assert marketer.get(reverse(f"admin:rules_{name}_change", args=[obj_a.pk])).status_code == 200


def test_lists_and_pickers_hold_only_the_users_programmes(marketer, programmes):
    a, _b = programmes
    html = marketer.get(reverse("admin:rules_program_changelist")).content.decode()
    assert "Alpha" in html and "Beta" not in html
    response = marketer.get(reverse("admin:rules_tier_changelist"))
    assert [t.program_id for t in response.context["cl"].result_list] == [a.pk]
    response = marketer.get(reverse("admin:rules_earnrule_add"))
    form = response.context["adminform"].form
    assert list(form.fields["program"].queryset) == [a]
    assert {o.program_id for o in form.fields["outlets"].queryset} == {a.pk}
    assert {t.program_id for t in form.fields["tiers"].queryset} == {a.pk}
    response = marketer.get(reverse("admin:rules_program_simulator"))
    assert list(response.context["form"].fields["program"].queryset) == [a]
    assert {o.program_id for o in response.context["form"].fields["outlet"].queryset} == {a.pk}
    response = marketer.get(reverse("admin:reports_dashboard_changelist"))
    assert list(response.context["form"].fields["program"].queryset) == [a]


def test_a_post_to_another_programme_changes_nothing(marketer, programmes):
    _a, b = programmes
    tier_b = b.tiers.get()
    before = (tier_b.code, tier_b.earn_percent)
    response = marketer.post(
        reverse("admin:rules_tier_change", args=[tier_b.pk]),
        {
            "program": b.pk,
            "rank": "0",
            "code": "hacked",
            "name": "Hacked",
            "threshold": "0",
            "earn_percent": "50",
            "max_share": "",
        },
    )
    assert response.status_code == 404
    tier_b.refresh_from_db()
    assert (tier_b.code, tier_b.earn_percent) == before == ("b-base", tier_b.earn_percent)
    assert tier_b.earn_percent != Decimal("50")
    # Nor can a new row be put into B: B is not among the choices.
    response = marketer.post(
        reverse("admin:rules_tier_add"),
        {
            "program": b.pk,
            "rank": "5",
            "code": "new",
            "name": "New",
            "threshold": "0",
            "earn_percent": "1",
            "max_share": "",
        },
    )
    assert response.status_code == 200
    assert "program" in response.context["adminform"].form.errors
    assert not Tier.objects.filter(code="new").exists()
    # The simulator refuses B too.
    url = reverse("admin:rules_program_simulator")
    assert marketer.get(f"{url}?program={b.pk}").status_code == 404


def test_the_ledger_lists_hold_only_the_users_programmes(marketer, programmes):
    a, b = programmes
    for p in programmes:
        CheckFactory(program=p, outlet=p.outlets.get(), account=AccountFactory(program=p))
    response = marketer.get(reverse("admin:ledger_check_changelist"))
    assert [c.program_id for c in response.context["cl"].result_list] == [a.pk]
    from loyalty.ledger.models import Check

    check_b = Check.objects.get(program=b)
    url = reverse("admin:ledger_check_change", args=[check_b.pk])
    assert marketer.get(url).status_code == 404
    response = marketer.get(reverse("admin:ledger_operation_changelist"))
    assert response.status_code == 200


def test_a_user_without_rows_and_a_superuser_see_every_programme(client, admin_client, programmes):
    user = get_user_model().objects.create_user("marketer-all", password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=APPS))
    client.force_login(user)
    for c in (client, admin_client):
        response = c.get(reverse("admin:rules_program_changelist"))
        assert len(response.context["cl"].result_list) == 2


def test_only_a_user_who_sees_every_programme_grants_access(marketer, programmes):
    url = reverse("admin:rules_staffprogramaccess_add")
    assert marketer.get(url).status_code == 403


def test_the_home_page_shows_only_the_users_programmes_health(marketer, programmes):
    response = marketer.get(reverse("admin:index"))
    assert [p.code for p in response.context["health"].programmes] == ["a"]


@pytest.fixture
def card_marketer(client, programmes):
    """Limited to A, with the customer, account and campaign permissions a marketer may get."""
    user = get_user_model().objects.create_user("marketer-a2", password="x", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=(*APPS, "customers", "campaigns"),
        )
    )
    StaffProgramAccess.objects.create(user=user, program=programmes[0])
    client.force_login(user)
    return client


def test_customers_accounts_and_campaigns_of_another_programme_are_out_of_reach(
    card_marketer, programmes
):
    a, b = programmes
    account_a, account_b = AccountFactory(program=a), AccountFactory(program=b)
    segment_a, segment_b = SegmentFactory(program=a), SegmentFactory(program=b)
    campaign_b = CampaignFactory(program=b, segment=segment_b)

    response = card_marketer.get(reverse("admin:customers_customer_changelist"))
    assert [c.pk for c in response.context["cl"].result_list] == [account_a.customer_id]
    response = card_marketer.get(reverse("admin:ledger_account_changelist"))
    assert [acc.pk for acc in response.context["cl"].result_list] == [account_a.pk]
    response = card_marketer.get(reverse("admin:campaigns_segment_changelist"))
    assert [s.pk for s in response.context["cl"].result_list] == [segment_a.pk]
    for url in (
        reverse("admin:customers_customer_change", args=[account_b.customer_id]),
        reverse("admin:ledger_account_change", args=[account_b.pk]),
        reverse("admin:campaigns_segment_change", args=[segment_b.pk]),
        reverse("admin:campaigns_campaign_change", args=[campaign_b.pk]),
    ):
        assert card_marketer.get(url).status_code == 404, url
    # A's own customer card still opens.
    url = reverse("admin:customers_customer_change", args=[account_a.customer_id])
    assert card_marketer.get(url).status_code == 200
