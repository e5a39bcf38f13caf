"""Fuzz the POS API from its own OpenAPI schema, in process through the WSGI app.

A fixed number of examples per operation, derandomised, with no deadline per example (the
run as a whole stays within a few seconds per operation). Asserts no 5xx, and that every
status, content type and body conforms to the schema.
"""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.specs.openapi import checks as openapi_checks

from tests.factories import CustomerFactory

MAX_EXAMPLES = 25

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture
def keep_test_connection():
    """Calling the WSGI app directly fires request_finished, which closes the DB connection and
    with it the test's transaction; Django's own test client disconnects it the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def auth_headers(api_key, program, keep_test_connection):
    from loyalty.ledger.services import account_open
    from tests.conftest import NOW

    # A member the fuzzer can find by phone, so success paths are exercised too.
    account_open(program=program, customer=CustomerFactory(phone="+79991234567"), now=NOW)
    return {"Authorization": f"Api-Key {api_key}"}


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, auth_headers):
    case.call_and_validate(
        headers=auth_headers,
        checks=[
            checks.not_a_server_error,
            openapi_checks.status_code_conformance,
            openapi_checks.content_type_conformance,
            openapi_checks.response_schema_conformance,
        ],
    )
