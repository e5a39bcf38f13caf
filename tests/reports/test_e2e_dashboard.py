"""The dashboard in Chromium, in Russian and English; screenshots for the pull request."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from reports.services import aggregates_rebuild
from tests.e2e.conftest import SCREENSHOTS, browser, page, shot  # noqa: F401  (fixtures)
from tests.reports.dataset import build

pytestmark = [pytest.mark.e2e, pytest.mark.russian, pytest.mark.django_db(transaction=True)]

NOVEMBER = "?preset=custom&first=2026-11-01&last=2026-11-30"


@pytest.fixture
def boss():
    from datetime import date

    from django.utils import timezone

    data = build()
    aggregates_rebuild(
        program=data.program, first=date(2026, 9, 1), last=date(2026, 11, 30), now=timezone.now()
    )
    User.objects.create_superuser("boss", password="boss-pass-1")
    return data


def sign_in(page, prefix):  # noqa: F811
    page.goto(f"{prefix}/admin/login/")
    page.locator("input[name=username]").fill("boss")
    page.locator("input[name=password]").fill("boss-pass-1")
    page.locator("form [type=submit]").first.click()
    page.wait_for_url(f"**{prefix}/admin/")


@pytest.mark.parametrize(
    ("lang", "prefix", "title"), [("ru", "", "Отчёты"), ("en", "/en", "Reports")]
)
def test_dashboard_in_the_browser(page, shot, boss, lang, prefix, title):  # noqa: F811
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, prefix)
    page.goto(f"{prefix}/admin/reports/dashboard/{NOVEMBER}")
    expect(page.locator("h1")).to_contain_text(title)
    expect(page.locator(".report-card").first).to_be_visible()
    assert page.locator("svg.report-chart").count() == 5
    assert page.locator(".report-card .value").nth(0).inner_text().strip()
    text = page.locator("#content-main").inner_text()
    assert ("3 400,00" in text.replace("\xa0", " ")) if lang == "ru" else ("3,400.00" in text)
    shot(page, f"reports-dashboard-{lang}")
    page.goto(f"{prefix}/admin/campaigns/campaign/{boss.campaign.pk}/change/")
    expect(page.locator("body")).to_contain_text("ROI")
    shot(page, f"reports-campaign-{lang}")
    # The results render with the admin theme's table styles (no report stylesheet there):
    # a bordered, rounded card, bold header cells, figures right-aligned with padding.
    results = page.locator(".campaign-results table").first
    results.scroll_into_view_if_needed()
    style = results.evaluate(
        """t => {
            const card = getComputedStyle(t.parentElement);
            const th = getComputedStyle(t.querySelector("thead th"));
            const td = getComputedStyle(t.querySelector("tbody td"));
            return {radius: card.borderTopLeftRadius, border: card.borderTopWidth,
                    weight: th.fontWeight, align: td.textAlign, padding: td.paddingLeft};
        }"""
    )
    assert style["radius"] != "0px" and style["border"] == "1px", style
    assert int(style["weight"]) >= 600 and style["align"] == "right", style
    assert style["padding"] != "0px", style
    header = page.locator(".campaign-results thead").first.inner_text()
    assert ("Целевая группа" in header) if lang == "ru" else ("Target" in header)
    page.locator(".campaign-results").first.screenshot(
        path=str(SCREENSHOTS / f"reports-campaign-results-{lang}.png")
    )
