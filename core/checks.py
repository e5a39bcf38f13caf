"""Production readiness: what Kopilka refuses to serve without when ``DEBUG`` is off.

Registered as deployment checks (``manage.py check --deploy`` fails on them) and run again by
``config/wsgi.py`` and ``config/asgi.py``, so gunicorn or uvicorn refuse to start a production
process that would run on development defaults. ``DEBUG`` off means production here
(docs/security.md); ``make run`` starts its web server with ``DEBUG=1``.
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks

LOCAL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)
CONSOLE_EMAIL = (
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
)


def production_problems() -> list[checks.CheckMessage]:
    if settings.DEBUG:
        return []
    problems = []
    if not getattr(settings, "KOPILKA_SECRET_KEY_FROM_ENV", True):
        problems.append(
            checks.Error(
                "SECRET_KEY is not set: with DEBUG off Kopilka will not use its development key.",
                hint="Set SECRET_KEY in the environment (50+ random characters).",
                id="kopilka.E001",
            )
        )
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if backend in LOCAL_CACHES:
        problems.append(
            checks.Error(
                "The default cache is local to each process: rate limits, throttling and "
                "login lockouts would count per worker.",
                hint="Set CACHE_URL to a shared cache, e.g. redis://127.0.0.1:6379/1.",
                id="kopilka.E002",
            )
        )
    if settings.EMAIL_BACKEND in CONSOLE_EMAIL and not getattr(
        settings, "KOPILKA_EMAIL_BACKEND_FROM_ENV", False
    ):
        problems.append(
            checks.Error(
                "Email goes to the console: password-reset links would be printed to the logs.",
                hint="Set EMAIL_HOST (and EMAIL_* credentials) for SMTP, or EMAIL_BACKEND "
                "explicitly.",
                id="kopilka.E003",
            )
        )
    return problems


@checks.register(checks.Tags.security, deploy=True)
def production_settings_check(app_configs=None, **kwargs):
    return production_problems()


def refuse_to_start_unless_ready() -> None:
    """Raise ImproperlyConfigured naming every problem (the web server's entry points)."""
    from django.core.exceptions import ImproperlyConfigured

    problems = production_problems()
    if problems:
        raise ImproperlyConfigured(
            "Kopilka refuses to start with DEBUG off: "
            + "; ".join(f"{p.id}: {p.msg} {p.hint}" for p in problems)
        )
