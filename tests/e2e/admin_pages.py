"""What the admin's browser tests share: the staff sign-in and the page-width probe."""

from __future__ import annotations

PASSWORD = "Kopilka-admin-5521"
WIDTH = 1400  # the window every admin page must fit


def sign_in(page, prefix: str, *, username: str = "marketer", password: str = PASSWORD) -> None:
    page.goto(f"{prefix}/admin/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"**{prefix}/admin/")


def width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")
