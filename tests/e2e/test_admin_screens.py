"""The marketer's admin and the public pages in Chromium at a desktop width, RU and EN.

Screenshots go to test-artifacts/screenshots/admin-*.png for a person to look at; the test
asserts what a look would catch: nothing wider than the window, no English in the Russian
admin's navigation, the theme's own assets loaded.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.e2e.admin_pages import PASSWORD, WIDTH, sign_in, width

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PAGES = {
    "admin-index": "/admin/",
    "admin-changelist": "/admin/rules/program/",
    "admin-beat": "/admin/django_celery_beat/periodictask/",
    "landing": "/",
    "api-guide": "/api/guide/",
}


@pytest.fixture
def desktop(browser, live_server):
    def open_context(locale: str):
        context = browser.new_context(
            viewport={"width": WIDTH, "height": 900}, locale=locale, base_url=live_server.url
        )
        context.set_default_timeout(15_000)
        return context

    return open_context


@pytest.fixture
def marketer(db):
    return get_user_model().objects.create_superuser("marketer", "m@example.com", PASSWORD)


@pytest.mark.parametrize(("language", "prefix"), [("ru", ""), ("en", "/en")])
def test_admin_and_public_pages_fit_a_desktop_window(
    desktop, marketer, program, shot, language, prefix
):
    context = desktop("ru-RU" if language == "ru" else "en-US")
    page = context.new_page()
    failed = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    sign_in(page, prefix)
    for name, path in PAGES.items():
        page.goto(prefix + path)
        page.wait_for_load_state("networkidle")
        shot(page, f"{name}-{language}")
        assert width(page) <= WIDTH, (name, width(page))
    page.goto("/api/docs/")
    page.locator(".swagger-ui .info").wait_for()
    shot(page, f"api-docs-{language}")
    assert width(page) <= WIDTH
    assert not failed, failed

    page.goto(prefix + "/admin/")
    sidebar = page.locator("#nav-sidebar-inner").inner_text()
    if language == "ru":
        for group in ("Программа и правила", "Акции и сегменты", "Настройки"):
            assert group in sidebar
        for english in ("Programme and rules", "Settings", "Crontab", "Periodic"):
            assert english not in sidebar
        assert "Состояние программ" in page.locator("#content").inner_text()
    else:
        assert "Programme and rules" in sidebar
        assert "Programme health" in page.locator("#content").inner_text()
    context.close()


@pytest.mark.parametrize(
    ("language", "prefix", "label"), [("ru", "", "Удержано"), ("en", "/en", "Held")]
)
def test_an_account_shows_its_held_points(desktop, marketer, shot, language, prefix, label):
    from decimal import Decimal

    from django.utils import timezone

    from loyalty.ledger.services import account_open, check_reserve
    from loyalty.rules.engine import LineInput
    from tests.factories import (
        CustomerFactory,
        OutletFactory,
        ProgramFactory,
        RedemptionPolicyFactory,
        TierFactory,
    )
    from tests.ledger.helpers import grant

    now = timezone.now()
    program = ProgramFactory(code="coffee-held", lifetime_days=365)
    TierFactory(program=program, code="base", rank=0, threshold=Decimal(0), earn_percent=5)
    RedemptionPolicyFactory(program=program, max_share=Decimal("0.30"))
    outlet = OutletFactory(program=program, code="msk-9")
    customer = CustomerFactory(phone="+79990001199", first_name="Анна")
    account = account_open(program=program, customer=customer, now=now, outlet=outlet)
    grant(account, 1000, now, key="seed")
    line = LineInput("LATTE", "coffee", "Latte", Decimal(2), Decimal(250), Decimal(500), False)
    check_reserve(
        program=program,
        outlet=outlet,
        customer=customer,
        lines=[line],
        redeem=Decimal(100),
        receipt_number="A-1",
        source="test",
        idempotency_key="reserve",
        now=now,
    )
    context = desktop("ru-RU" if language == "ru" else "en-US")
    page = context.new_page()
    sign_in(page, prefix)
    page.goto(f"{prefix}/admin/ledger/account/{account.pk}/change/")
    page.wait_for_load_state("networkidle")
    shot(page, f"admin-account-held-{language}")
    content = page.locator("#content").inner_text()
    assert label in content and "100" in content and "900" in content
    assert width(page) <= WIDTH
    context.close()
