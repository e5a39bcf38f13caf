"""The rewards page in a real browser, in English and Russian: claim with confirmation, then
the coupon with its QR code; used and expired coupons greyed out."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from loyalty.ledger.models import Account, Coupon
from loyalty.ledger.services import ledger_reconcile, points_grant
from tests.e2e.test_cabinet import sign_in
from tests.factories import RewardFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def catalogue(program, member):
    account = Account.objects.get(customer=member)
    points_grant(
        account=account,
        points=Decimal(860),
        source="test",
        idempotency_key="seed",
        now=timezone.now(),
    )
    coffee = program.product_sets.get(code="coffee")
    free = RewardFactory(
        program=program,
        code="coffee-free",
        name="Любой кофе бесплатно",
        kind="free_product",
        amount=None,
        points_cost=Decimal(300),
        description="Одна чашка любого кофе.",
    )
    free.include.add(coffee)
    RewardFactory(
        program=program,
        code="minus-200",
        name="200 ₽ на любой заказ",
        points_cost=Decimal(500),
        amount=Decimal("200.00"),
        stock=20,
    )
    RewardFactory(
        program=program,
        code="mug",
        name="Фирменная кружка",
        kind="gift",
        amount=None,
        points_cost=Decimal(1500),
    )
    silver = RewardFactory(
        program=program,
        code="silver",
        name="Скидка 10 % для Silver",
        kind="discount_percent",
        amount=None,
        percent=Decimal(10),
        points_cost=Decimal(100),
    )
    silver.tiers.add(program.tiers.get(code="silver"))
    return account


def test_claim_a_reward_and_see_the_coupon_in_both_languages(page, member, catalogue, shot):
    sign_in(page)
    page.goto("/en/cabinet/rewards/")
    expect(page.get_by_test_id("reward")).to_have_count(4)
    shot(page, "rewards-en")
    page.get_by_test_id("reward").filter(has_text="Любой кофе").get_by_role("button").click()
    expect(page.get_by_test_id("confirm-claim")).to_be_visible()
    expect(page.locator("main")).to_contain_text("It costs 300 points.")
    shot(page, "reward-confirm-en")
    page.get_by_test_id("confirm-claim").click()
    page.wait_for_url("**/en/cabinet/rewards/?coupon=*")
    coupon = Coupon.objects.get()
    expect(page.get_by_test_id("coupon-code")).to_have_text(coupon.code)
    expect(page.locator(".coupon.fresh svg.qr")).to_be_visible()
    shot(page, "rewards-claimed-en")
    # Earlier coupons, one used and one expired, shown greyed out and without a QR code.
    page.goto("/en/cabinet/rewards/")
    page.get_by_test_id("reward").filter(has_text="200 ₽").get_by_role("button").click()
    page.get_by_test_id("confirm-claim").click()
    page.wait_for_url("**/en/cabinet/rewards/?coupon=*")
    second = Coupon.objects.exclude(pk=coupon.pk).get()
    Coupon.objects.filter(pk=second.pk).update(used_at=timezone.now())
    Coupon.objects.filter(pk=coupon.pk).update(expires_at=timezone.now() - timedelta(days=1))
    RewardFactory(program=catalogue.program, code="tea", name="Чай", points_cost=Decimal(10))
    page.goto("/cabinet/rewards/")
    page.get_by_test_id("reward").filter(has_text="Чай").get_by_role("button").click()
    expect(page.locator("main")).to_contain_text("Стоимость: 10 баллов.")
    shot(page, "reward-confirm-ru")
    page.get_by_test_id("confirm-claim").click()
    page.wait_for_url("**/cabinet/rewards/?coupon=*")
    expect(page.locator("h1")).to_have_text("Награды")
    expect(page.locator("[data-state=used]")).to_contain_text("Использован")
    expect(page.locator("[data-state=expired]")).to_contain_text("Истёк")
    expect(page.locator("svg.qr")).to_have_count(1)
    shot(page, "rewards-ru")
    assert ledger_reconcile(now=timezone.now()) == []
