"""Sign-in by email or phone, sign-up by SMS code to an enrolled customer, reset, limits."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse
from django.utils import translation

from customers.models import Customer
from notifications.models import Message
from tests.cabinet.conftest import PASSWORD, enrol

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Brand-new-pass-5512"


def url(name: str, lang: str = "en", **kwargs) -> str:
    with translation.override(lang):
        return reverse(f"cabinet:{name}", kwargs=kwargs or None)


def signed_in_user(client):
    return client.session.get("_auth_user_id")


@pytest.mark.parametrize(
    "login", ["anna@example.com", "ANNA@example.com", "+79990001122", "8 (999) 000-11-22"]
)
def test_sign_in_by_email_or_phone(client, member, login):
    response = client.post(url("login"), {"username": login, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == url("dashboard")
    assert signed_in_user(client) == str(member.user.pk)


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(client, member):
    response = client.post(url("login"), {"username": "+79990001122", "password": "nope"})
    assert response.status_code == 200
    assert "Wrong email, phone or password." in response.content.decode()
    assert signed_in_user(client) is None


def test_sign_in_attempts_are_limited_per_identifier(client, member):
    for _ in range(8):
        client.post(url("login"), {"username": "+79990001122", "password": "wrong"})
    response = client.post(url("login"), {"username": "+79990001122", "password": PASSWORD})
    assert "Too many attempts" in response.content.decode()
    assert signed_in_user(client) is None


def test_sign_in_attempts_are_limited_per_ip(client, member):
    for n in range(30):
        client.post(url("login"), {"username": f"guess{n}@example.com", "password": "x"})
    response = client.post(url("login"), {"username": "anna@example.com", "password": PASSWORD})
    assert "Too many attempts" in response.content.decode()


def test_logout_is_post_only(client, member):
    client.force_login(member.user)
    assert client.get(url("logout")).status_code == 405
    assert signed_in_user(client) is not None
    response = client.post(url("logout"))
    assert response.status_code == 302
    assert signed_in_user(client) is None


def test_password_reset_by_email(client, member):
    response = client.post(url("password_reset"), {"email": "anna@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/\S+)", mail.outbox[0].body).group(1)
    response = client.get(link, follow=True)
    form_url = response.redirect_chain[-1][0]
    response = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert (
        client.post(
            url("login"), {"username": "anna@example.com", "password": NEW_PASSWORD}
        ).status_code
        == 302
    )


def test_password_reset_for_an_unknown_email_looks_the_same_and_sends_nothing(client, member):
    response = client.post(url("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302 and response["Location"] == url("password_reset_done")
    assert mail.outbox == []


def _sent_code(customer) -> str:
    message = Message.objects.filter(customer=customer, event="signup_code").latest("pk")
    assert message.channel == "sms"
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def test_sign_up_links_the_enrolled_customer_without_a_duplicate(client, program, outlet):
    customer, _account = enrol(program, outlet, "+79995550011", email="vera@example.com")
    customers_before = Customer.objects.count()
    response = client.post(url("signup"), {"phone": "8 999 555-00-11"})
    assert response.status_code == 302 and response["Location"] == url("signup_confirm")
    # The phone travels in the session, never in a URL.
    assert "999" not in response["Location"]
    code = _sent_code(customer)
    confirm = client.get(url("signup_confirm")).content.decode()
    assert "+7999***0011" in confirm
    response = client.post(
        url("signup_confirm"),
        {"code": code, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302 and response["Location"] == url("dashboard")
    customer.refresh_from_db()
    assert customer.user is not None and customer.user.email == "vera@example.com"
    assert signed_in_user(client) == str(customer.user.pk)
    assert Customer.objects.count() == customers_before
    # The code is single use.
    client.logout()
    client.post(url("signup"), {"phone": "+79995550011"})
    response = client.post(
        url("signup_confirm"),
        {"code": code, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert "The code is wrong or has expired." in response.content.decode()


def test_sign_up_code_sms_is_not_held_by_quiet_hours(client, program, outlet, settings):
    settings.NOTIFICATIONS_QUIET_HOURS = "00:00-23:59"
    customer, _account = enrol(program, outlet, "+79995550012")
    client.post(url("signup"), {"phone": "+79995550012"})
    message = Message.objects.get(customer=customer, event="signup_code")
    assert message.status == "pending"
    assert message.scheduled_for <= message.created_at


def test_sign_up_again_sets_a_new_password_on_the_same_user(client, member):
    user_id = member.user.pk
    client.post(url("signup"), {"phone": "+79990001122"})
    code = _sent_code(member)
    client.post(
        url("signup_confirm"),
        {"code": code, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    member.refresh_from_db()
    assert member.user.pk == user_id
    assert get_user_model().objects.count() == 1
    assert member.user.check_password(NEW_PASSWORD)


def test_a_phone_not_enrolled_gets_the_same_answer_and_no_sms(client, program):
    customers_before = Customer.objects.count()
    response = client.post(url("signup"), {"phone": "+79990009999"})
    assert response.status_code == 302 and response["Location"] == url("signup_confirm")
    assert not Message.objects.filter(event="signup_code").exists()
    response = client.post(
        url("signup_confirm"),
        {"code": "123456", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert "The code is wrong or has expired." in response.content.decode()
    assert Customer.objects.count() == customers_before
    assert not get_user_model().objects.exists()


def test_sign_up_rejects_a_malformed_phone_naming_the_field(client, program):
    response = client.post(url("signup"), {"phone": "12"})
    assert response.status_code == 200
    assert "phone" in response.context["form"].errors


def test_sign_up_validates_the_password(client, program, outlet):
    enrol(program, outlet, "+79995550013")
    client.post(url("signup"), {"phone": "+79995550013"})
    response = client.post(
        url("signup_confirm"), {"code": "000000", "password1": "123", "password2": "123"}
    )
    assert "password1" in response.context["form"].errors


def test_wrong_codes_are_limited_per_phone(client, program, outlet):
    customer, _account = enrol(program, outlet, "+79995550014")
    client.post(url("signup"), {"phone": "+79995550014"})
    code = _sent_code(customer)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        client.post(
            url("signup_confirm"),
            {"code": wrong, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        )
    response = client.post(
        url("signup_confirm"), {"code": code, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert "Too many attempts" in response.content.decode()
    customer.refresh_from_db()
    assert customer.user is None


def test_sign_up_codes_per_phone_are_limited(client, program, outlet):
    customer, _account = enrol(program, outlet, "+79995550015")
    for _ in range(5):
        client.post(url("signup"), {"phone": "+79995550015"})
    assert Message.objects.filter(customer=customer, event="signup_code").count() == 3


def test_cookies_are_http_only_and_csrf_is_enforced(member):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(url("login"), {"username": "anna@example.com", "password": PASSWORD})
    assert response.status_code == 403
    page = strict.get(url("login"))
    token = page.cookies["csrftoken"].value
    response = strict.post(
        url("login"),
        {"username": "anna@example.com", "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    assert response.cookies["sessionid"]["httponly"]
    assert response.cookies["sessionid"]["samesite"] == "Lax"


# --- the sign-up SMS event and its shipped templates ------------------------------------------


def test_the_sign_up_event_is_known_at_startup_before_any_url_loads():
    """The notifications registry knows the event after django.setup() alone (a worker or beat
    that never loads the cabinet's URLconf renders and dispatches these messages)."""
    import os
    import subprocess
    import sys

    from django.conf import settings

    script = (
        "import sys, django; django.setup()\n"
        "from notifications.events import event_get\n"
        "event = event_get('signup_code')\n"
        "assert 'cabinet.urls' not in sys.modules\n"
        "print(event.code, event.urgent)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["signup_code", "True"]


def test_the_sign_up_templates_ship_with_the_migrations_and_edits_survive(client, program, outlet):
    from notifications.defaults import install_default_templates
    from notifications.models import Template

    shipped = Template.objects.filter(event="signup_code", program=None, is_active=True)
    assert sorted(shipped.values_list("channel", "language")) == [("sms", "en"), ("sms", "ru")]
    # Sending uses the row as the marketer left it; nothing is (re)created on first use.
    shipped.filter(language="en").update(body="Code {{ code }}, {{ minutes }} min.")
    shipped.filter(language="ru").delete()
    customer, _account = enrol(program, outlet, "+79995550013")
    client.post(url("signup"), {"phone": "+79995550013"})
    message = Message.objects.get(customer=customer, event="signup_code")
    assert re.fullmatch(r"Code \d{6}, 5 min\.", message.body)
    assert not Template.objects.filter(event="signup_code", language="ru").exists()
    # A later migration's install fills in only what is missing.
    assert install_default_templates() == 1
    assert shipped.get(language="en").body == "Code {{ code }}, {{ minutes }} min."
