"""The programme page (each tab) and the simulator in Chromium at a 1400-px window, RU and EN.

Screenshots go to test-artifacts/screenshots/constructor-*.png for a person to look at; the
test asserts what a look would catch: nothing wider than the window, every tab reachable, the
simulator's result for a real customer with rule names and lines numbered from 1.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from loyalty.ledger import services
from loyalty.rules.program_io import program_load
from tests.e2e.admin_pages import PASSWORD, WIDTH, width
from tests.e2e.admin_pages import sign_in as admin_sign_in
from tests.factories import AccountFactory, CustomerFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def coffee(db):
    data = json.loads(
        (Path(settings.BASE_DIR) / "examples/programs/coffee.json").read_text(encoding="utf-8")
    )
    program = program_load(data=data)
    customer = CustomerFactory(phone="+79991112233", first_name="Анна", last_name="Иванова")
    account = AccountFactory(
        program=program,
        customer=customer,
        tier=program.tiers.get(code="silver"),
        lifetime_visits=4,
    )
    from django.utils import timezone

    services.points_grant(
        account=account,
        points=Decimal("700"),
        source="test",
        idempotency_key="g1",
        now=timezone.now(),
    )
    return program


@pytest.fixture
def desktop(browser, live_server):
    def open_context(locale: str):
        context = browser.new_context(
            viewport={"width": WIDTH, "height": 900}, locale=locale, base_url=live_server.url
        )
        context.set_default_timeout(15_000)
        return context

    return open_context


def sign_in(page, prefix: str) -> None:
    get_user_model().objects.create_superuser("marketer", "m@example.com", PASSWORD)
    admin_sign_in(page, prefix)


def inner_overflow(page) -> list:
    """Visible tables that scroll sideways inside their box (the page itself may still fit)."""
    return page.evaluate(
        """[...document.querySelectorAll('.formset-wrapper, table')]
            .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
            .map(e => (e.id || e.className).slice(0, 60) + ':' + e.scrollWidth)"""
    )


@pytest.mark.parametrize(("language", "prefix"), [("ru", ""), ("en", "/en")])
def test_the_programme_page_and_the_simulator_fit_1400_px(desktop, coffee, shot, language, prefix):
    context = desktop("ru-RU" if language == "ru" else "en-US")
    page = context.new_page()
    sign_in(page, prefix)
    page.goto(f"{prefix}/admin/rules/program/{coffee.pk}/change/")
    page.wait_for_load_state("networkidle")
    hrefs = page.eval_on_selector_all("#tabs-items > a", "els => els.map(e => e.hash)")
    # General + tiers, product sets, earn rules, redemption, outlets, categories, rewards.
    assert len(hrefs) == 8, hrefs
    names = hrefs
    for i, href in enumerate(hrefs):
        # Clicked from script: unfold moves tabs that do not fit into a "more" menu.
        page.evaluate(f"document.querySelector('a[href=\"{href}\"]').click()")
        page.wait_for_timeout(200)
        if i == 0:
            inner = page.locator('[x-data^="{ activeFieldsetTab"] nav > a')
            for j in range(inner.count()):
                inner.nth(j).click()
                page.wait_for_timeout(150)
                shot(page, f"constructor-{language}-general-{j}")
                assert width(page) <= WIDTH, ("general", j, width(page))
                assert not inner_overflow(page), ("general", j, inner_overflow(page))
        else:
            shot(page, f"constructor-{language}-tab-{i}")
            assert width(page) <= WIDTH, (names[i], width(page))
            assert not inner_overflow(page), (names[i], inner_overflow(page))

    page.goto(f"{prefix}/admin/rules/program/simulator/?program={coffee.pk}")
    page.locator("#id_customer").fill("+7 999 111-22-33")
    page.locator("#id_redeem").fill("max")
    for i, (sku, category, qty, price) in enumerate(
        [("LATTE", "coffee", "2", "250"), ("CROISSANT", "bakery", "1", "180")]
    ):
        page.locator(f"#id_lines-{i}-sku").fill(sku)
        page.locator(f"#id_lines-{i}-category").fill(category)
        page.locator(f"#id_lines-{i}-quantity").fill(qty)
        page.locator(f"#id_lines-{i}-price").fill(price)
    page.locator("#simulator-form button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    shot(page, f"constructor-{language}-simulator")
    page.locator("#simulation-result").wait_for()
    shot(page, f"constructor-{language}-simulator")
    assert width(page) <= WIDTH, ("simulator", width(page))
    assert not inner_overflow(page), inner_overflow(page)
    html = page.content()
    assert "tier:" not in page.locator("#content-main").inner_text()
    assert "Иванова" in html
    assert page.locator("td.line-number").first.inner_text() == "1"
    context.close()
