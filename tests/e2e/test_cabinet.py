"""The cabinet in a real browser: sign up, sign in, balance, explanation, consent, till code."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from customers.models import Customer
from loyalty.api.models import OutletAPIKey
from loyalty.ledger.models import MemberProfile
from notifications.models import Message
from tests.cabinet.conftest import PASSWORD, enrol

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in(page, login: str = "+7 999 000-11-22", lang: str = "en") -> None:
    prefix = "/en" if lang == "en" else ""
    page.goto(f"{prefix}/cabinet/login/")
    page.locator("input[name=username]").fill(login)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit].primary").click()
    page.wait_for_url(f"**{prefix}/cabinet/")


def test_sign_in_and_read_the_balance(page, member, shot):
    page.goto("/en/cabinet/login/")
    shot(page, "login")
    sign_in(page)
    expect(page.get_by_test_id("available")).to_have_text("40")
    expect(page.get_by_test_id("tier")).to_have_text("Base")
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "4")
    shot(page, "dashboard")
    page.set_viewport_size({"width": 1280, "height": 900})
    shot(page, "dashboard-desktop")


def test_open_a_checks_explanation(page, member, shot):
    sign_in(page)
    page.get_by_role("navigation").get_by_role("link", name="History").click()
    check = page.get_by_test_id("check").first
    reasons = check.get_by_test_id("reasons")
    expect(reasons).to_be_hidden()
    check.locator("summary").click()
    expect(reasons).to_be_visible()
    expect(reasons).to_contain_text("5% of 400.00 = 20")
    expect(reasons).to_contain_text("10 per item × 2 = 20")
    shot(page, "history")


def test_toggle_a_consent(page, member, shot):
    sign_in(page)
    page.get_by_role("navigation").get_by_role("link", name="Profile").click()
    sms = page.get_by_test_id("consent-sms")
    expect(sms).to_contain_text("off")
    sms.get_by_role("switch").click()
    expect(page.get_by_test_id("consent-sms")).to_contain_text("on")
    expect(page.get_by_test_id("consent-sms")).to_contain_text("changed")
    # Consents are given to the programme: its member profile keeps them.
    profile = MemberProfile.objects.get(account__customer=member)
    assert profile.consent_sms and profile.consent_sms_at is not None
    shot(page, "profile")


def test_till_code_is_accepted_by_the_pos_lookup(page, member, outlet, live_server, shot):
    _, api_key = OutletAPIKey.objects.create_key(outlet=outlet, name="till 1")
    sign_in(page)
    page.get_by_role("navigation").get_by_role("link", name="Code for the till").click()
    page.get_by_role("button", name="Get a code").click()
    code_box = page.get_by_test_id("till-code")
    expect(code_box).to_have_text(re.compile(r"^\d{6}$"))
    expect(page.locator(".qrbox svg")).to_be_visible()
    expect(page.locator("#countdown")).to_contain_text("Valid for 4:")
    code = code_box.inner_text()
    shot(page, "till-code")

    def lookup():
        request = urllib.request.Request(
            f"{live_server.url}/api/v1/customers/lookup?code={code}",
            headers={"Authorization": f"Api-Key {api_key}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    status, body = lookup()
    assert status == 200, body
    assert body["id"] == str(member.accounts.get().profile.public_id)
    assert body["balance"]["available"] in ("40", "40.00")
    status, body = lookup()  # single use
    assert status == 404 and body["code"] == "customer_not_found"


def test_sign_up_at_home_after_enrolling_at_the_till(page, program, outlet, shot):
    customer, _account = enrol(program, outlet, "+79995550101", first_name="Вера")
    page.goto("/en/cabinet/signup/")
    page.get_by_label("Phone number").fill("8 999 555-01-01")
    shot(page, "signup")
    page.get_by_role("button", name="Send the code").click()
    page.wait_for_url("**/en/cabinet/signup/confirm/")
    body = Message.objects.get(customer=customer, event="signup_code").body
    code = re.search(r"\b(\d{6})\b", body).group(1)
    page.get_by_label("Code from the SMS").fill(code)
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("New password again").fill(PASSWORD)
    page.get_by_role("button", name="Create the cabinet").click()
    page.wait_for_url("**/en/cabinet/")
    expect(page.get_by_text("Welcome! Your cabinet is ready.")).to_be_visible()
    customer.refresh_from_db()
    assert customer.user_id is not None
    assert Customer.objects.filter(phone="+79995550101").count() == 1


def test_switch_language_and_capture_the_other_pages(page, member, shot):
    sign_in(page)
    for name, path in (
        ("offers", "/en/cabinet/offers/"),
        ("referral", "/en/cabinet/referral/"),
        ("inbox", "/en/cabinet/inbox/"),
        ("rules", "/en/cabinet/rules/"),
    ):
        page.goto(path)
        shot(page, name)
    page.goto("/en/cabinet/")
    page.locator("button[data-lang=ru]").click()
    page.wait_for_url(re.compile(r"^https?://[^/]+/cabinet/$"))
    assert "/en/" not in page.url
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.get_by_test_id("available")).to_have_text("40")
    shot(page, "dashboard-ru")
    page.goto("/cabinet/history/")
    page.get_by_test_id("check").first.locator("summary").click()
    expect(page.get_by_test_id("reasons").first).to_contain_text("400,00 = 20")
    shot(page, "history-ru")
