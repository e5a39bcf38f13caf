from datetime import UTC, datetime

import pytest
from django.db import connection

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def now():
    """A fixed instant; services take ``now`` explicitly, tests never read the clock."""
    return NOW


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
