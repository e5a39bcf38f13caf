"""Production (DEBUG off) refuses development defaults; `check --deploy` is clean with a
production environment; the admin's sign-in is locked after repeated failures
(issue 13, items 8, 13 and 14)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]


def production_env(tmp_path, **changes) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "SECURE_", "CACHE_", "EMAIL_", "SECRET_", "CSP_"))
    }
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="kopilka.example.com",
        CACHE_URL="redis://127.0.0.1:6379/10",
        EMAIL_HOST="smtp.example.com",
        SECURE_SSL_REDIRECT="1",
        SECURE_HSTS_SECONDS="31536000",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="1",
        SECURE_HSTS_PRELOAD="1",
        KOPILKA_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def check_deploy(env) -> subprocess.CompletedProcess:
    return run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)


def test_check_deploy_is_clean_with_the_production_environment(tmp_path):
    result = check_deploy(production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"SECRET_KEY": None}, "kopilka.E001"),
        ({"CACHE_URL": None}, "kopilka.E002"),
        ({"CACHE_URL": "locmemcache://"}, "kopilka.E002"),
        ({"EMAIL_HOST": None}, "kopilka.E003"),
        (
            {"EMAIL_HOST": None, "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"},
            None,
        ),
    ],
)
def test_production_refuses_development_defaults(tmp_path, changes, problem):
    env = production_env(tmp_path, **changes)
    result = check_deploy(env)
    started = run(["-c", "import config.wsgi"], env)
    if problem is None:  # an explicit choice is respected
        assert result.returncode == 0, result.stdout + result.stderr
        assert started.returncode == 0, started.stderr
        return
    assert result.returncode != 0
    assert problem in result.stdout + result.stderr
    # The web server's entry point refuses to start, too.
    assert started.returncode != 0
    assert "ImproperlyConfigured" in started.stderr and problem in started.stderr


def test_development_mode_needs_nothing(tmp_path):
    env = production_env(tmp_path, DEBUG="1", SECRET_KEY=None, CACHE_URL=None, EMAIL_HOST=None)
    assert run(["-c", "import config.wsgi"], env).returncode == 0


def test_production_security_settings(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS, s.SECURE_CONTENT_TYPE_NOSNIFF, s.SECURE_REFERRER_POLICY, "
        "s.CSRF_COOKIE_HTTPONLY, s.EMAIL_BACKEND)"
    )
    result = run(["-c", code], production_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "True",
        "True",
        "True",
        "31536000",
        "True",
        "same-origin",
        "True",
        "django.core.mail.backends.smtp.EmailBackend",
    ]


# --- the admin's sign-in (django-axes) ------------------------------------------------------


@pytest.mark.django_db
def test_admin_login_is_locked_after_repeated_failures(client, django_user_model, settings):
    django_user_model.objects.create_superuser("boss", "boss@example.com", "Right-pass-8812")
    url = reverse("admin:login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(url, {"username": "boss", "password": "wrong"})
        assert response.status_code in (200, 429)
    response = client.post(url, {"username": "boss", "password": "Right-pass-8812"})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    # Another address is not locked out by this one's failures.
    other = client_class_at("10.9.8.7")
    response = other.post(url, {"username": "boss", "password": "Right-pass-8812"})
    assert response.status_code == 302
    assert other.session.get("_auth_user_id")


def client_class_at(ip: str):
    from django.test import Client

    return Client(REMOTE_ADDR=ip)
