"""A coffee shop programme, its outlet, an API key and a DRF client that uses it."""

from decimal import Decimal

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from loyalty.api.models import OutletAPIKey
from tests.factories import (
    EarnRuleFactory,
    OutletFactory,
    ProductSetFactory,
    ProgramFactory,
    RedemptionPolicyFactory,
    TierFactory,
)


def D(value) -> Decimal:
    return Decimal(str(value))


@pytest.fixture(autouse=True)
def _fresh_throttle_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def program(db):
    """Base 5 %, silver 10 % from 1000 spent; redeem up to 30 %; latte +10 per item."""
    program = ProgramFactory(code="coffee", lifetime_days=365, hold_days=0, region="RU")
    TierFactory(program=program, code="base", name="Base", rank=0, threshold=D(0), earn_percent=5)
    TierFactory(
        program=program, code="silver", name="Silver", rank=1, threshold=D(1000), earn_percent=10
    )
    RedemptionPolicyFactory(program=program, max_share=D("0.30"))
    coffee = ProductSetFactory(program=program, code="coffee", categories=["coffee"])
    rule = EarnRuleFactory(program=program, code="latte", kind="fixed_per_item", points=D(10))
    rule.include.add(coffee)
    EarnRuleFactory(
        program=program,
        code="review",
        kind="event",
        event="review",
        points=D(50),
        limit_per_customer=1,
    )
    return program


@pytest.fixture
def outlet(program):
    return OutletFactory(program=program, code="msk-1", name="Tverskaya 1")


@pytest.fixture
def api_key(outlet):
    _, key = OutletAPIKey.objects.create_key(outlet=outlet, name="till 1")
    return key


@pytest.fixture
def client(api_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
    return client


@pytest.fixture
def anon_client():
    return APIClient()


def latte(qty="2", price="250.00", **extra):
    line = {"sku": "LATTE", "category": "coffee", "name": "Latte", "quantity": qty, "price": price}
    return {**line, **extra}
