"""Sign-up SMS are limited per phone (whatever its spelling), per IP and per programme
(issue 13, item 7). The POS API sends no codes; the cabinet's sign-up is the only door."""

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import translation

from notifications.models import Message
from tests.cabinet.conftest import enrol

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


def signup_url() -> str:
    with translation.override("en"):
        return reverse("cabinet:signup")


def sent() -> int:
    return Message.objects.filter(event="signup_code").count()


SPELLINGS = [
    "8 (999) 000-99-98",
    "+7 999 000 99 98",
    "89990009998",
    "+79990009998",
    "9990009998",
    "8-999-000-99-98",
]


def test_the_per_phone_limit_counts_every_spelling_of_the_number(client, program, outlet):
    enrol(program, outlet, "+79990009998")
    for raw in SPELLINGS:
        client.post(signup_url(), {"phone": raw})
    assert sent() == 3


def test_the_same_spelling_six_times_sends_three_codes(client, program, outlet):
    enrol(program, outlet, "+79990009998")
    for _ in range(6):
        client.post(signup_url(), {"phone": "8 (999) 000-99-98"})
    assert sent() == 3


def test_the_per_ip_limit_counts_different_phones(client, program, outlet):
    phones = [f"+7999111{i:04d}" for i in range(12)]
    for phone in phones:
        enrol(program, outlet, phone)
    for phone in phones:
        client.post(signup_url(), {"phone": phone})
    assert sent() == 10


def test_the_per_programme_limit_counts_every_ip(program, outlet, settings, django_user_model):
    from django.test import Client

    settings.CABINET_SIGNUP_SMS_PER_PROGRAM = 4
    phones = [f"+7999222{i:04d}" for i in range(6)]
    for phone in phones:
        enrol(program, outlet, phone)
    for i, phone in enumerate(phones):
        response = Client(REMOTE_ADDR=f"10.0.0.{i + 1}").post(signup_url(), {"phone": phone})
        # The same answer either way: the limit does not tell who is enrolled.
        assert response.status_code == 302
    assert sent() == 4


def test_the_login_limit_counts_every_spelling_of_the_phone(client, program, outlet):
    from tests.cabinet.conftest import PASSWORD, give_password

    customer, _account = enrol(program, outlet, "+79990009998")
    give_password(customer)
    with translation.override("en"):
        login = reverse("cabinet:login")
    for i in range(8):
        client.post(login, {"username": SPELLINGS[i % len(SPELLINGS)], "password": "wrong-pass"})
    response = client.post(login, {"username": "+79990009998", "password": PASSWORD})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
