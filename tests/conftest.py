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
