from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import override_settings
from django.urls import clear_url_caches
from django.utils import translation

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def now():
    """A fixed instant; services take ``now`` explicitly, tests never read the clock."""
    return NOW


# The cabinet is written and tested as customers meet it: Russian by default, /en/ for English.
RUSSIAN_BY_DEFAULT = ("cabinet", "e2e")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.parent.name in RUSSIAN_BY_DEFAULT:
            item.add_marker(pytest.mark.russian)


@pytest.fixture(autouse=True)
def _english_unless_russian(request, settings):
    """Tests read English messages: the product's default language is Russian (LANGUAGE_CODE),
    and a test that is about that default opts in with ``@pytest.mark.russian``."""
    if request.node.get_closest_marker("russian"):
        yield
        return
    settings.LANGUAGE_CODE = "en"
    # Resolvers cache reversed URLs per active language with the i18n prefix worked out under
    # the default language of the time ("en/" while Russian was the default): start afresh.
    clear_url_caches()
    with translation.override("en"):
        yield
    clear_url_caches()


@pytest.fixture
def on_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks (CI runs this on PostgreSQL)")
    return True


@pytest.fixture(autouse=True, scope="session")
def _celery_memory_broker():
    """Tasks queued on commit during tests go to an in-memory broker, never to the embedded
    filesystem queue under var/ that a running `make run` worker reads. Tests that need a real
    broker (tests/notifications/test_worker.py) point the app at Redis themselves."""
    import kombu.pools

    from config.celery import app

    saved = (app.conf.broker_url, app.conf.broker_transport_options)
    app.conf.broker_url, app.conf.broker_transport_options = "memory://", {}
    app._pool = None
    app.amqp._producer_pool = None
    yield
    kombu.pools.reset()
    app._pool = None
    app.amqp._producer_pool = None
    app.conf.broker_url, app.conf.broker_transport_options = saved


@pytest.fixture(autouse=True, scope="session")
def _static_without_collectstatic():
    """Production settings (DEBUG off) want hashed names from a collectstatic manifest; the
    tests render pages without running collectstatic, so they use plain names, as DEBUG does.
    tests/core/test_serving.py checks the production storage in a subprocess of its own."""
    with override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
        STATIC_MANIFEST=False,
    ):
        yield
