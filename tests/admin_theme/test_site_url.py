"""SITE_URL: the public base of links in messages; by default what `make run` serves."""

import subprocess
import sys

import pytest

from config.site_url import public_url
from core.links import absolute_reverse, absolute_url
from notifications.models import Template
from notifications.services import message_enqueue
from tests.factories import CustomerFactory, ProgramFactory, TemplateFactory


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("", 8000, "http://127.0.0.1:8000"),
        ("127.0.0.1", 8000, "http://127.0.0.1:8000"),
        ("0.0.0.0", 9000, "http://127.0.0.1:9000"),
        ("192.168.1.20", 8123, "http://192.168.1.20:8123"),
        ("::1", 8000, "http://[::1]:8000"),
        ("kopilka.local", 80, "http://kopilka.local:80"),
    ],
)
def test_public_url_of_a_bound_host(host, port, url):
    assert public_url(host, port) == url


def _site_url_with(env: dict) -> str:
    code = (
        "import django; django.setup(); from django.conf import settings; print(settings.SITE_URL)"
    )
    base = {"DJANGO_SETTINGS_MODULE": "config.settings", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_site_url_defaults_to_the_served_host_and_port(tmp_path):
    var = {"KOPILKA_VAR_DIR": str(tmp_path)}
    assert _site_url_with(var) == "http://127.0.0.1:8000"
    assert _site_url_with({**var, "HOST": "0.0.0.0", "PORT": "8123"}) == "http://127.0.0.1:8123"
    assert _site_url_with({**var, "SITE_URL": "https://bonus.shop.ru/"}) == "https://bonus.shop.ru"


def test_absolute_links_use_site_url(settings):
    settings.SITE_URL = "https://bonus.shop.ru"
    assert absolute_url("/cabinet/") == "https://bonus.shop.ru/cabinet/"
    assert absolute_reverse("cabinet:dashboard") == "https://bonus.shop.ru/cabinet/"


@pytest.mark.django_db
def test_a_notifications_cabinet_link_is_built_on_site_url(settings, now):
    settings.SITE_URL = "https://bonus.shop.ru"
    settings.NOTIFICATIONS_QUIET_HOURS = ""
    program = ProgramFactory(code="coffee", name="Кофе Клуб")
    customer = CustomerFactory(email="anna@example.com")
    Template.objects.filter(event="points_earned").delete()  # the shipped ones
    TemplateFactory(event="points_earned", channel="email", body="{{ cabinet_url }}")
    (message,) = message_enqueue(
        customer=customer,
        event="points_earned",
        context={"points": 5},
        idempotency_key="k1",
        now=now,
        program=program,
        channels=["email"],
        dispatch=False,
    )
    assert message.body == "https://bonus.shop.ru/cabinet/"
