"""The POS API fixtures (a programme, its outlet and key, an authenticated client) for the
security tests, which cross the API, the cabinet, the admin and the settings."""

from tests.api.conftest import (  # noqa: F401  (fixtures)
    _fresh_throttle_cache,
    anon_client,
    api_key,
    client,
    outlet,
    program,
)
