"""Production serving: /health/, the gunicorn config, whitenoise and the production settings.

The health checks probe real services: the database of the test run, Redis when
CELERY_TEST_BROKER_URL names one (CI), and a closed port for the failures.
"""

from __future__ import annotations

import os
import runpy
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import kombu.pools
import pytest
from django.core.cache import caches

from config.celery import app

ROOT = Path(__file__).resolve().parents[2]
GUNICORN_CONF = ROOT / "config" / "gunicorn.conf.py"


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def broker():
    """Point the Celery app at a broker URL for one test (tasks use memory:// otherwise)."""
    saved = (app.conf.broker_url, app.conf.broker_transport_options)

    def use(url: str) -> None:
        app.conf.broker_url, app.conf.broker_transport_options = url, {}
        app._pool = None
        app.amqp._producer_pool = None

    yield use
    kombu.pools.reset()
    use(saved[0])
    app.conf.broker_transport_options = saved[1]


def health(client, **headers):
    response = client.get("/health/", **headers)
    return response, response.json() if "json" in response["Content-Type"] else None


@pytest.mark.django_db(transaction=True)
def test_health_is_200_json_when_database_cache_and_broker_answer(client, broker):
    redis_url = os.environ.get("CELERY_TEST_BROKER_URL")
    if redis_url:
        broker(redis_url)  # a real broker over the network (CI)
    response, body = health(client)
    assert response.status_code == 200, body
    assert response["Content-Type"] == "application/json"
    assert body == {
        "Database(alias='default')": "OK",
        "Cache(alias='default')": "OK",
        "Broker()": "OK",
    }
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db(transaction=True)
def test_health_is_503_naming_the_broker_when_it_cannot_be_reached(client, broker):
    broker(f"redis://127.0.0.1:{closed_port()}/0")
    response, body = health(client)
    assert response.status_code == 503
    assert body["Broker()"] == "Unavailable: cannot reach the Celery broker"
    assert body["Database(alias='default')"] == "OK"
    assert body["Cache(alias='default')"] == "OK"


@pytest.mark.django_db(transaction=True)
def test_health_is_503_naming_the_cache_when_it_cannot_be_reached(client, settings):
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
        },
    }
    try:
        response, body = health(client)
    finally:
        caches["default"].close()
    assert response.status_code == 503
    assert body["Cache(alias='default')"].startswith("Unexpected Result")
    assert body["Broker()"] == "OK"


@pytest.mark.django_db(transaction=True)
def test_health_answers_a_browser_with_html(client):
    response = client.get("/health/", HTTP_ACCEPT="text/html,application/xhtml+xml")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db(transaction=True)
def test_health_is_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    response, _ = health(client)
    assert response.status_code == 200
    assert client.get("/api/schema/").status_code == 301


# --- gunicorn ----------------------------------------------------------------------------------


def load_gunicorn_conf(monkeypatch, **env) -> dict:
    for name in ("WEB_CONCURRENCY", "HOST", "PORT", "GUNICORN_MAX_REQUESTS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(GUNICORN_CONF))


def test_gunicorn_config_names_only_known_settings(monkeypatch):
    from gunicorn.config import KNOWN_SETTINGS

    known = {setting.name for setting in KNOWN_SETTINGS}
    conf = load_gunicorn_conf(monkeypatch)
    names = {
        name
        for name, value in conf.items()
        if not name.startswith("_") and not callable(value) and not hasattr(value, "__file__")
    }
    assert names <= known, names - known
    assert {"workers", "timeout", "graceful_timeout", "max_requests_jitter"} <= names


def test_gunicorn_workers_follow_cpus_unless_web_concurrency_says(monkeypatch):
    conf = load_gunicorn_conf(monkeypatch)
    assert conf["workers"] == (os.cpu_count() or 1) * 2 + 1
    assert load_gunicorn_conf(monkeypatch, WEB_CONCURRENCY="3")["workers"] == 3
    conf = load_gunicorn_conf(monkeypatch, HOST="0.0.0.0", PORT="9000")
    assert conf["bind"] == ["0.0.0.0:9000"]


def test_gunicorn_timeouts_and_recycling_are_sane(monkeypatch):
    conf = load_gunicorn_conf(monkeypatch)
    assert conf["worker_class"] == "sync"
    assert 10 <= conf["timeout"] <= 120
    assert 0 < conf["graceful_timeout"] <= conf["timeout"]
    assert conf["max_requests"] > 0
    assert 0 < conf["max_requests_jitter"] < conf["max_requests"]


def test_gunicorn_access_log_keeps_query_strings_and_referers_out(monkeypatch):
    """GET …/lookup?phone=… must not write the phone (or a one-time code) into the log."""
    fmt = load_gunicorn_conf(monkeypatch)["access_log_format"]
    # %(r)s is the request line with its query, %(q)s the query, %(f)s the referer.
    for atom in ("%(r)s", "%(q)s", "%(f)s", "%({query_string}e)s"):
        assert atom not in fmt
    assert "%(U)s" in fmt and "%(s)s" in fmt


def test_gunicorn_check_config_loads_the_application(tmp_path):
    # Production refuses a per-process cache and the console mail backend (docs/security.md).
    env = {
        **production_env(tmp_path),
        "DEBUG": "0",
        "CACHE_URL": os.environ.get("CACHE_URL", "redis://127.0.0.1:6379/5"),
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
    }
    result = subprocess.run(
        [str(Path(sys.executable).with_name("gunicorn")), "--check-config", "-c",
         str(GUNICORN_CONF), "config.wsgi:application"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


# --- production settings and static files ------------------------------------------------------


def production_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "STATIC_MANIFEST")}
    env.update(
        SECRET_KEY=secrets.token_urlsafe(50),
        KOPILKA_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    return env


def run_python(code: str, env: dict) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_production_settings_serve_hashed_compressed_static_files_via_whitenoise(tmp_path):
    """DEBUG off: collectstatic writes hashed and gzipped files, templates link the hashed
    name, and whitenoise answers it from the app with a far-future cache header."""
    env = production_env(tmp_path)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT, env=env, check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    code = """
import django
django.setup()
from django.conf import settings
from django.templatetags.static import static
from django.test import Client
assert settings.DEBUG is False
assert settings.STORAGES["staticfiles"]["BACKEND"] == (
    "whitenoise.storage.CompressedManifestStaticFilesStorage"), settings.STORAGES
assert "whitenoise.middleware.WhiteNoiseMiddleware" in settings.MIDDLEWARE
url = static("cabinet/cabinet.css")
assert url != "/static/cabinet/cabinet.css" and url.endswith(".css"), url
response = Client().get(url, HTTP_ACCEPT_ENCODING="gzip")
print(response.status_code, response["Content-Encoding"], response["Cache-Control"])
"""
    status, encoding, cache_control = run_python(code, env).split(maxsplit=2)
    assert (status, encoding) == ("200", "gzip")
    assert "immutable" in cache_control


def test_serve_refuses_the_embedded_default(tmp_path):
    env = {
        k: v
        for k, v in production_env(tmp_path).items()
        if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY")
    }
    result = subprocess.run(
        [str(ROOT / "bin" / "serve"), "web"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert "production needs PostgreSQL" in result.stderr
    assert "CELERY_BROKER_URL is the filesystem broker" in result.stderr
    assert "SECRET_KEY is the development key" in result.stderr
    assert "make run" in result.stderr
