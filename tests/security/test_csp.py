"""A Content-Security-Policy on the cabinet and the admin; inline scripts carry its nonce
(issue 13, item 14)."""

import re

import pytest
from django.urls import reverse
from django.utils import translation

pytestmark = pytest.mark.django_db


def policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


@pytest.mark.parametrize("name", ["cabinet:login", "cabinet:signup", "admin:login"])
def test_pages_send_a_strict_policy(client, name):
    with translation.override("en"):
        response = client.get(reverse(name))
    assert response.status_code == 200
    directives = policy(response)
    assert directives["default-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    # A page without inline scripts gets no nonce: only our own script files run. The admin's
    # theme (Alpine.js) also needs 'unsafe-eval'; nothing else does.
    expected = "'self' 'unsafe-eval'" if name.startswith("admin:") else "'self'"
    assert directives["script-src"] == expected


def test_the_till_code_script_carries_the_nonce(client, program, outlet):
    from tests.cabinet.conftest import enrol, give_password

    customer, _account = enrol(program, outlet, "+79990001122")
    client.force_login(give_password(customer))
    with translation.override("en"):
        response = client.post(reverse("cabinet:till_code"))
    assert response.status_code == 200
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
    assert f'<script nonce="{nonce}">' in response.content.decode()
