import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # API throttling and unfold's search cache
    yield
    cache.clear()
