"""A customer reaches only their own data; hot pages run a bounded number of queries."""

from __future__ import annotations

import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from loyalty.ledger.models import Account
from tests.cabinet.conftest import PASSWORD, buy, enrol
from tests.factories import OutletFactory, ProgramFactory

pytestmark = pytest.mark.django_db

PAGES = ("dashboard", "history", "offers", "till_code", "referral", "profile", "inbox", "rules")


def url(name: str, lang: str = "en") -> str:
    with translation.override(lang):
        return reverse(f"cabinet:{name}")


def test_no_page_shows_another_customers_data(signed_in, member, stranger):
    for name in PAGES:
        html = signed_in.get(url(name)).content.decode()
        assert "SECRET-B-77" not in html, name
        assert "999.00" not in html and "999,00" not in html, name
        assert stranger.referral_code not in html, name
        assert "boris@example.com" not in html, name
        assert "Борис" not in html, name


def test_the_stranger_sees_only_his_own_check(client, member, stranger):
    client.force_login(stranger.user)
    html = client.get(url("history")).content.decode()
    assert "SECRET-B-77" in html and "A-1" not in html


def test_switching_to_a_programme_the_customer_is_not_in_is_ignored(signed_in, member, stranger):
    other = ProgramFactory(code="tea", name="Tea House")
    tea_outlet = OutletFactory(program=other, code="tea-1")
    enrol(other, tea_outlet, stranger.phone)
    signed_in.post(reverse("cabinet:program_switch"), {"program": "tea"})
    html = signed_in.get(url("dashboard")).content.decode()
    assert "Tea House" not in html and "Кофе Клуб" in html


def test_a_member_of_two_programmes_switches_between_them(signed_in, member):
    other = ProgramFactory(code="tea", name="Tea House")
    tea_outlet = OutletFactory(program=other, code="tea-1")
    enrol(other, tea_outlet, member.phone)
    before = signed_in.get(url("dashboard")).content.decode()
    assert 'id="program-switch"' in before and "Tea House" in before
    signed_in.post(reverse("cabinet:program_switch"), {"program": "tea"})
    html = signed_in.get(url("dashboard")).content.decode()
    assert '<a class="brand" href="/en/cabinet/">Tea House</a>' in html
    assert 'data-testid="available">0<' in html


def test_no_cabinet_url_names_an_object_by_id():
    from cabinet import urls

    parameters = {name for pattern in urls.urlpatterns for name in pattern.pattern.converters}
    # Only the public invitation code and Django's signed reset token appear in URLs.
    assert parameters == {"code", "uidb64", "token"}


def test_no_phone_or_email_in_logs_or_redirects(client, program, outlet, member, caplog):
    enrol(program, outlet, "+79995557788")
    with caplog.at_level(logging.DEBUG):
        signup = client.post(url("signup"), {"phone": "+79995557788"})
        login = client.post(url("login"), {"username": "anna@example.com", "password": PASSWORD})
        client.post(url("login"), {"username": "+79990001122", "password": "wrong"})
    text = caplog.text
    for secret in ("79995557788", "anna@example.com", "79990001122"):
        assert secret not in text
        assert secret not in signup["Location"] and secret not in login["Location"]


def _count(client, path, **params) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, params)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_dashboard_query_count_is_bounded(
    signed_in, program, outlet, member, django_assert_max_num_queries
):
    for n in range(5):
        buy(program, outlet, member, receipt=f"Q-{n}")
    # session, user, customer, account, tiers, expiring lots, accounts, unread count (+1 if a
    # pending lot matured and the balance is recomputed)
    with django_assert_max_num_queries(9):
        signed_in.get(url("dashboard"))


def test_history_query_count_does_not_grow_with_the_page(
    signed_in, program, outlet, member, django_assert_max_num_queries
):
    few = _count(signed_in, url("history"))
    for n in range(19):
        buy(program, outlet, member, receipt=f"H-{n}")
    many = _count(signed_in, url("history"))
    assert many == few
    with django_assert_max_num_queries(9):
        signed_in.get(url("history"), {"kind": "check", "page": "1"})


def test_account_of_another_customer_is_never_the_current_one(signed_in, member, stranger):
    response = signed_in.get(url("dashboard"))
    assert response.context["account"] == Account.objects.get(customer=member)
