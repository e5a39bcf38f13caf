"""Personal offers: eligibility, activation, and what their rules require of the engine."""

from datetime import timedelta

import pytest

from campaigns import services
from campaigns.models import OfferActivation, OfferRule
from campaigns.providers import customer_state, eligible_offers, rule_overrides
from campaigns.segments import segment_refresh
from loyalty.rules.models import EarnRule
from tests.factories import (
    AccountFactory,
    EarnRuleFactory,
    OfferFactory,
    ProgramFactory,
    SegmentFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def program():
    return ProgramFactory(code="coffee")


@pytest.fixture
def vip(program, now):
    segment = SegmentFactory(
        program=program,
        code="big",
        conditions={"all": [{"field": "monetary", "op": "gte", "value": "1000"}]},
    )
    account = AccountFactory(program=program, lifetime_spend=1500)
    AccountFactory(program=program, lifetime_spend=10)
    segment_refresh(segment, program=program, now=now)
    return segment, account


def test_offer_applies_only_after_activation(program, vip, now):
    segment, account = vip
    offer = OfferFactory(program=program, code="coffee-x3", segment=segment)
    assert list(eligible_offers(account, now=now)) == [offer]
    assert customer_state(account, now)["offers"] == set()
    services.offer_activate(customer=account.customer, offer=offer, now=now)
    services.offer_activate(customer=account.customer, offer=offer, now=now)  # idempotent
    assert OfferActivation.objects.filter(offer=offer).count() == 1
    assert customer_state(account, now)["offers"] == {"coffee-x3"}


def test_offer_without_activation_applies_to_its_audience(program, vip, now):
    segment, account = vip
    OfferFactory(program=program, code="auto", segment=segment, requires_activation=False)
    assert customer_state(account, now)["offers"] == {"auto"}


def test_not_eligible_customers_cannot_activate(program, vip, now):
    segment, account = vip
    outsider = program.accounts.exclude(pk=account.pk).get()
    offer = OfferFactory(program=program, segment=segment)
    with pytest.raises(services.OfferNotAvailable):
        services.offer_activate(customer=outsider.customer, offer=offer, now=now)
    expired = OfferFactory(program=program, segment=segment, valid_until=now - timedelta(days=1))
    with pytest.raises(services.OfferNotAvailable):
        services.offer_activate(customer=account.customer, offer=expired, now=now)
    other_programme = OfferFactory(program=ProgramFactory(), segment=None)
    other_programme.customers.add(account.customer)
    with pytest.raises(services.OfferNotAvailable):
        services.offer_activate(customer=account.customer, offer=other_programme, now=now)


def test_chosen_customers_and_validity_window(program, vip, now):
    _segment, account = vip
    chosen = program.accounts.exclude(pk=account.pk).get()
    offer = OfferFactory(
        program=program,
        code="just-you",
        requires_activation=False,
        valid_from=now - timedelta(days=1),
        valid_until=now + timedelta(days=6),
    )
    offer.customers.add(chosen.customer)
    assert customer_state(chosen, now)["offers"] == {"just-you"}
    assert customer_state(account, now)["offers"] == set()
    assert customer_state(chosen, now + timedelta(days=7))["offers"] == set()
    offer.is_active = False
    offer.save()
    assert customer_state(chosen, now)["offers"] == set()


def test_offer_rules_require_the_offer_code(program, now):
    rule = EarnRuleFactory(program=program, code="coffee-x3-rule", kind="multiplier", factor=3)
    plain = EarnRuleFactory(program=program, code="plain")
    offer = OfferFactory(
        program=program,
        code="coffee-x3",
        valid_from=now,
        valid_until=now + timedelta(days=7),
    )
    OfferRule.objects.create(offer=offer, rule=rule)
    got = rule_overrides(program, list(EarnRule.objects.filter(program=program)))
    assert plain.pk not in got
    assert got[rule.pk] == {
        "offer": "coffee-x3",
        "valid_from": now,
        "valid_until": now + timedelta(days=7),
    }
    offer.is_active = False
    offer.save()
    assert rule_overrides(program, [rule]) == {rule.pk: None}


def test_cabinet_selector_lists_visible_offers(program, vip, now):
    from campaigns.selectors import offers_for_account

    segment, account = vip
    later = OfferFactory(program=program, code="later", segment=segment)
    soon = OfferFactory(
        program=program, code="soon", segment=segment, valid_until=now + timedelta(days=2)
    )
    OfferFactory(program=program, code="hidden", segment=None)
    services.offer_activate(customer=account.customer, offer=later, now=now)
    views = offers_for_account(account, now=now)
    assert [(v.code, v.activated, v.applies) for v in views] == [
        ("soon", False, False),
        ("later", True, True),
    ]
    assert soon.title == views[0].title
