"""A marketer's afternoon in Chromium: a clinic programme by hand, a customer card, a segment
built with the form, a campaign launched to it; every main page shot in RU and EN.

The programme is built on the constructor form as it is today (programme fields, tier and
redemption inlines); selectors are field names and labels, not layout. Screenshots go to
test-artifacts/screenshots/marketer-*.png; no page may be wider than the 1400-px window.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from campaigns.models import Campaign, CampaignMember, CampaignStatus, Segment
from customers.models import Customer
from loyalty.ledger.models import Account
from loyalty.rules.models import EarnRule, Program
from tests.e2e.admin_pages import PASSWORD, WIDTH, sign_in, width
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def desktop(browser, live_server):
    contexts = []

    def open_page(locale: str):
        context = browser.new_context(
            viewport={"width": WIDTH, "height": 900}, locale=locale, base_url=live_server.url
        )
        context.set_default_timeout(20_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def marketer(db):
    return get_user_model().objects.create_superuser("marketer", "m@example.com", PASSWORD)


def add_inline_row(page, prefix: str) -> None:
    """Click the inline group's "add another" link (Django's inlines.js)."""
    before = int(page.locator(f"input[name={prefix}-TOTAL_FORMS]").input_value())
    page.locator(f"#{prefix}-group .add-row a, #{prefix}-group a.add-row").first.click()
    page.wait_for_function(
        f"document.querySelector('input[name={prefix}-TOTAL_FORMS]').value > {before}"
    )


def save(page) -> None:
    page.locator("button[name=_continue], input[name=_continue]").first.click()
    page.wait_for_load_state("networkidle")


def errors(page) -> str:
    return page.locator(".errorlist, .errornote").all_inner_texts().__str__()


def open_tab(page, href: str) -> None:
    """A tab of the programme page (clicked from script: unfold moves tabs that do not fit
    into a "more" menu)."""
    page.evaluate(f"document.querySelector('#tabs-items a[href=\"{href}\"]').click()")


def open_general_part(page, label: str) -> None:
    """A part of the programme's "General" tab (its fieldsets are tabs of their own)."""
    open_tab(page, "#general")
    page.locator('[x-data^="{ activeFieldsetTab"] nav > a', has_text=label).click()


def build_clinic(page) -> None:
    page.goto("/en/admin/rules/program/add/")
    page.locator("input[name=code]").fill("clinic")
    page.locator("input[name=name]").fill("Клиника «Здоровье»")
    open_general_part(page, "Points and expiry")
    page.locator("input[name=lifetime_days]").fill("365")
    open_general_part(page, "Tier qualification")
    page.locator("select[name=tier_metric]").select_option("spend")
    open_tab(page, "#tiers")
    tiers = [("base", "Базовый", "0", "5"), ("silver", "Серебро", "100000", "10")]
    tiers.append(("gold", "Золото", "200000", "20"))
    for n, (code, name, threshold, percent) in enumerate(tiers):
        add_inline_row(page, "tiers")
        page.locator(f"input[name=tiers-{n}-rank]").fill(str(n))
        page.locator(f"input[name=tiers-{n}-code]").fill(code)
        page.locator(f"input[name=tiers-{n}-name]").fill(name)
        page.locator(f"input[name=tiers-{n}-threshold]").fill(threshold)
        page.locator(f"input[name=tiers-{n}-earn_percent]").fill(percent)
    open_tab(page, "#redemption_policy")
    # Shares are typed in percent: 30 means 30 % (stored as 0.30).
    page.locator("input[name=redemption_policy-0-max_share]").fill("30")
    open_tab(page, "#outlets")
    add_inline_row(page, "outlets")
    page.locator("input[name=outlets-0-code]").fill("clinic-1")
    page.locator("input[name=outlets-0-name]").fill("Клиника на Тверской")
    save(page)
    assert "/change/" in page.url, errors(page)


def test_a_marketer_builds_a_programme_a_segment_and_a_campaign(desktop, marketer, shot):
    page = desktop("en-US")
    failed = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page_errors = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    sign_in(page, "/en")

    # 1. The clinic programme, by hand.
    build_clinic(page)
    clinic = Program.objects.get(code="clinic")
    tiers = list(clinic.tiers.order_by("rank").values_list("code", "threshold", "earn_percent"))
    assert tiers == [
        ("base", Decimal("0.00"), Decimal("5.00")),
        ("silver", Decimal("100000.00"), Decimal("10.00")),
        ("gold", Decimal("200000.00"), Decimal("20.00")),
    ]
    assert clinic.lifetime_days == 365
    assert clinic.redemption_policy.max_share == Decimal("0.30")

    # 2. A customer card: enrol the customer into the clinic from it.
    customer = CustomerFactory(first_name="Мария", last_name="Петрова", phone="+79161112233")
    page.goto(f"/en/admin/customers/customer/{customer.pk}/change/")
    page.locator("#customer-card").wait_for()
    enrol = page.locator("form[action$='/card/enrol/']")
    enrol.locator("select[name=program]").select_option(str(clinic.pk))
    enrol.locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    assert Account.objects.filter(customer=customer, program=clinic).exists(), errors(page)
    assert "Клиника «Здоровье»" in page.locator("#customer-card .card-accounts").inner_text()

    # 3. A segment built with the form; the count follows the edits.
    page.goto("/en/admin/campaigns/segment/add/")
    page.locator("select[name=program]").select_option(str(clinic.pk))
    page.locator("input[name=code]").fill("new-patients")
    page.locator("input[name=name]").fill("Новые пациенты")
    page.locator(".segment-builder .sb-add-condition").last.click()
    row = page.locator(".segment-builder .sb-row").first
    row.locator("select.sb-field").select_option("registration_days")
    row.locator("select.sb-op").select_option("lte")
    row.locator("input.sb-value").fill("30")
    page.locator(".segment-builder .sb-count").filter(has_text="Members now in").wait_for()
    page.wait_for_function(
        "document.querySelector('.segment-builder .sb-count').textContent.includes(': 1')"
    )
    stored = json.loads(page.locator("textarea[name=conditions]").input_value())
    assert stored == {"all": [{"field": "registration_days", "op": "lte", "value": 30}]}
    save(page)
    segment = Segment.objects.get(code="new-patients")
    assert segment.conditions == stored, errors(page)

    # 4. The campaign's own rule, then the campaign to the segment, launched.
    page.goto("/en/admin/rules/earnrule/add/")
    page.locator("select[name=program]").select_option(str(clinic.pk))
    page.locator("input[name=code]").fill("first-visit-bonus")
    page.locator("select[name=kind]").select_option("threshold")
    page.locator("input[name=min_amount]").fill("1000")
    page.locator("input[name=points]").fill("300")
    save(page)
    assert "/change/" in page.url, errors(page)
    page.goto("/en/admin/campaigns/campaign/add/")
    page.locator("select[name=program]").select_option(str(clinic.pk))
    page.locator("input[name=code]").fill("welcome-patients")
    page.locator("input[name=name]").fill("Первый визит")
    page.locator("input[name=starts_at_0]").fill("2026-01-01")
    page.locator("input[name=starts_at_1]").fill("00:00:00")
    page.locator("select[name=segment]").select_option(str(segment.pk))
    page.locator("input[name=control_percent]").fill("10")
    rule = EarnRule.objects.get(program=clinic, code="first-visit-bonus")
    page.locator("select[name=links-0-rule]").select_option(str(rule.pk))
    save(page)
    campaign = Campaign.objects.filter(code="welcome-patients").first()
    assert campaign is not None, errors(page)
    page.locator("button[name=transition][value=launch]").click()
    page.wait_for_load_state("networkidle")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING, errors(page)
    assert CampaignMember.objects.filter(campaign=campaign).count() == 1
    assert not failed, failed
    assert not page_errors, page_errors

    # 5. Every main page, in Russian and English, no wider than the window.
    pages = {
        "programme": f"/admin/rules/program/{clinic.pk}/change/",
        "customer-card": f"/admin/customers/customer/{customer.pk}/change/",
        "account": f"/admin/ledger/account/{Account.objects.get(program=clinic).pk}/change/",
        "segment": f"/admin/campaigns/segment/{segment.pk}/change/",
        "segments": "/admin/campaigns/segment/",
        "campaign": f"/admin/campaigns/campaign/{campaign.pk}/change/",
        "campaigns": "/admin/campaigns/campaign/",
    }
    for language, prefix in (("ru", ""), ("en", "/en")):
        page = desktop("ru-RU" if language == "ru" else "en-US")
        sign_in(page, prefix)
        for name, path in pages.items():
            page.goto(prefix + path)
            page.wait_for_load_state("networkidle")
            shot(page, f"marketer-{name}-{language}")
            assert width(page) <= WIDTH, (name, language, width(page))
        if language == "ru":
            page.goto(prefix + pages["segment"])
            builder = page.locator(".segment-builder").inner_text()
            assert "дней с вступления" in builder and "Добавить условие" in builder
            count = "document.querySelector('.segment-builder .sb-count').textContent"
            page.wait_for_function(f"{count}.includes('Сейчас')")


def test_the_demo_shows_the_product(desktop, marketer, shot, settings, tmp_path):
    """`setup_demo`'s data on the pages a marketer opens first: a customer with history."""
    from io import StringIO

    from django.core.management import call_command

    settings.VAR_DIR = tmp_path
    call_command("setup_demo", customers=12, stdout=StringIO())
    customer = Customer.objects.get(phone="+79160000000")
    pages = {
        "demo-customer-card": f"/admin/customers/customer/{customer.pk}/change/",
        "demo-campaigns": "/admin/campaigns/campaign/",
        "demo-segments": "/admin/campaigns/segment/",
        "demo-dashboard": "/admin/reports/dashboard/?preset=90",
    }
    for language, prefix in (("ru", ""), ("en", "/en")):
        page = desktop("ru-RU" if language == "ru" else "en-US")
        sign_in(page, prefix)
        for name, path in pages.items():
            page.goto(prefix + path)
            page.wait_for_load_state("networkidle")
            shot(page, f"marketer-{name}-{language}")
            assert width(page) <= WIDTH, (name, language, width(page))
        page.goto(prefix + pages["demo-customer-card"])
        card = page.locator("#customer-card")
        assert card.locator(".card-table tbody tr").count() > 3  # recent checks and the ledger
        assert page.locator(".card-pages").count() == 1  # the ledger has more than one page


ROUND_TRIP = {
    "any": [
        {"field": "recency_days", "op": "between", "value": [30, 90]},
        {
            "all": [
                {"field": "monetary", "op": "gte", "value": "1500.50", "period_days": 365},
                {"field": "frequency", "op": "gt", "value": 2, "period_days": None},
                {"field": "tier", "op": "in", "value": ["gold", "silver"]},
                {"field": "birthday_month", "op": "current"},
                {"field": "consent_email", "op": "is", "value": False},
            ]
        },
    ]
}


def test_the_builder_writes_back_the_json_it_read(desktop, marketer):
    """Existing JSON → the builder → JSON: the same conditions, after an edit and its undo."""
    program = Program.objects.create(code="coffee", name="Кофейня")
    segment = Segment.objects.create(program=program, code="mix", name="Mix", conditions=ROUND_TRIP)
    page = desktop("en-US")
    sign_in(page, "/en")
    page.goto(f"/en/admin/campaigns/segment/{segment.pk}/change/")
    assert page.locator(".segment-builder .sb-row").count() == 6
    page.locator(".segment-builder .sb-add-condition").last.click()  # the top group's button
    assert page.locator(".segment-builder .sb-row").count() == 7
    page.locator(".segment-builder .sb-row").last.locator(".sb-remove").click()
    assert json.loads(page.locator("textarea[name=conditions]").input_value()) == ROUND_TRIP
    save(page)
    segment.refresh_from_db()
    assert segment.conditions == ROUND_TRIP
