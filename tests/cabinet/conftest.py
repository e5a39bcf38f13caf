"""A programme, a member with a cabinet password and a check committed through the ledger.

The cabinet's views read the clock, so the data here is laid out around the real ``now``.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.utils import timezone

from campaigns.enrolment import member_enrol as customer_enrol
from loyalty.ledger.models import MemberProfile
from loyalty.ledger.services import check_commit
from loyalty.rules.engine import LineInput
from tests.factories import (
    EarnRuleFactory,
    OutletFactory,
    ProductSetFactory,
    ProgramFactory,
    RedemptionPolicyFactory,
    TierFactory,
)

PASSWORD = "Kopilka-test-9431"


@pytest.fixture(autouse=True)
def _clean_cache():
    # Attempt counters live in the cache; every test starts with none.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def program(db):
    program = ProgramFactory(
        code="coffee",
        name="Кофе Клуб",
        currency="RUB",
        lifetime_days=20,
        hold_days=0,
        timezone="Europe/Moscow",
    )
    TierFactory(
        program=program,
        code="base",
        name="Base",
        rank=0,
        threshold=Decimal("0"),
        earn_percent=Decimal("5"),
    )
    TierFactory(
        program=program,
        code="silver",
        name="Silver",
        rank=1,
        threshold=Decimal("10000"),
        earn_percent=Decimal("10"),
        perks="Free refill",
    )
    RedemptionPolicyFactory(program=program, max_share=Decimal("0.30"))
    coffee = ProductSetFactory(program=program, code="coffee", name="Coffee", categories=["coffee"])
    rule = EarnRuleFactory(
        program=program,
        code="latte",
        name="Latte bonus",
        kind="fixed_per_item",
        points=Decimal("10"),
    )
    rule.include.set([coffee])
    return program


@pytest.fixture
def outlet(program):
    return OutletFactory(program=program, code="msk-1", name="Tverskaya 1")


def enrol(program, outlet, phone, **extra):
    customer, account, _created = customer_enrol(
        program=program, outlet=outlet, phone=phone, now=timezone.now(), **extra
    )
    return customer, account


def give_password(customer, password=PASSWORD):
    # As the cabinet's sign-up does: the reset email is one the person gave a programme.
    profile = MemberProfile.objects.filter(account__customer=customer).order_by("pk").first()
    user = get_user_model().objects.create_user(
        username=f"customer-{customer.public_id.hex}",
        email=profile.email if profile else "",
        password=password,
    )
    customer.user = user
    customer.save(update_fields=["user"])
    return user


def buy(program, outlet, customer, *, receipt, amount="400.00", quantity="2", redeem=None, at=None):
    """Commit a check through the ledger exactly as the POS API does."""
    now = at or timezone.now()
    quantity = Decimal(quantity)
    return check_commit(
        program=program,
        outlet=outlet,
        customer=customer,
        lines=[
            LineInput(
                sku="LATTE",
                category="coffee",
                name="Latte",
                quantity=quantity,
                price=Decimal(amount) / quantity,
                amount=Decimal(amount),
            )
        ],
        redeem=redeem,
        receipt_number=receipt,
        source="test",
        idempotency_key=f"test-{receipt}",
        now=now,
    )


@pytest.fixture
def member(program, outlet):
    """Anna: enrolled at the till, signed up to the cabinet, one purchase of 400.00."""
    customer, _account = enrol(
        program, outlet, "+79990001122", email="anna@example.com", first_name="Анна"
    )
    give_password(customer)
    buy(program, outlet, customer, receipt="A-1")
    return customer


@pytest.fixture
def stranger(program, outlet):
    """Boris: another member with his own purchase, which Anna must never see."""
    customer, _account = enrol(
        program, outlet, "+79990003344", email="boris@example.com", first_name="Борис"
    )
    give_password(customer)
    buy(program, outlet, customer, receipt="SECRET-B-77", amount="999.00", quantity="1")
    return customer


@pytest.fixture
def signed_in(client, member):
    client.force_login(member.user)
    return client


def days_ago(n: int):
    return timezone.now() - timedelta(days=n)
