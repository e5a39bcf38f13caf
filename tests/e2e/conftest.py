"""Browser tests: Playwright's sync API driving Debian's Chromium against live_server.

Playwright's sync API runs an asyncio event loop in the test's thread while a browser is open;
Django then refuses ORM calls from that thread (SynchronousOnlyOperation), although the calls
are plain synchronous code that never touches the loop. DJANGO_ALLOW_ASYNC_UNSAFE is set for
exactly as long as the browser lives (module scope), and restored afterwards, so the rest of
the suite keeps Django's protection.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.cache import cache

from tests.cabinet.conftest import member, outlet, program  # noqa: F401  (shared fixtures)

CHROMIUM = os.environ.get("KOPILKA_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
MOBILE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (set KOPILKA_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(autouse=True)
def _shipped_templates(transactional_db):
    """live_server tests empty the database after each test, the rows the migrations shipped
    with it; put the shipped message templates back as a migrated database has them."""
    from notifications.defaults import install_default_templates

    install_default_templates()


@pytest.fixture
def page(browser, live_server):
    cache.clear()  # attempt counters: the live server shares this process's cache
    context = browser.new_context(viewport=MOBILE, locale="en-US", base_url=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def shot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
