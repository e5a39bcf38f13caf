"""The rewards catalogue in the admin, the simulator with coupons, gifts handed out by staff."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from loyalty.ledger.models import Coupon
from loyalty.rules.models import Reward
from tests.factories import (
    AccountFactory,
    CouponFactory,
    OutletFactory,
    ProductSetFactory,
    ProgramFactory,
    RewardFactory,
    TierFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def program():
    program = ProgramFactory(code="coffee", timezone="Europe/Moscow")
    TierFactory(program=program, code="base", name="Base", rank=0, earn_percent=Decimal(5))
    ProductSetFactory(program=program, code="coffee", categories=["coffee"])
    OutletFactory(program=program, code="msk-1")
    return program


def reward_form(program, **fields):
    data = {
        "program": program.pk,
        "code": "free",
        "name": "Free coffee",
        "kind": "free_product",
        "is_active": "on",
        "points_cost": "300",
        "coupon_days": "30",
        "amount": "",
        "percent": "",
        "max_amount": "",
        "stock": "",
        "limit_per_customer": "",
    }
    data.update(fields)
    return data


def test_a_free_product_needs_its_products_and_other_kinds_params_are_dropped(
    admin_client, program
):
    url = reverse("admin:rules_reward_add")
    refused = admin_client.post(url, reward_form(program))
    assert refused.status_code == 200
    assert "include" in refused.context["adminform"].form.errors
    coffee = program.product_sets.get(code="coffee")
    saved = admin_client.post(url, reward_form(program, include=[coffee.pk], amount="50"))
    assert saved.status_code == 302, saved.context["adminform"].form.errors
    reward = Reward.objects.get(code="free")
    assert (reward.kind, reward.amount) == ("free_product", None)
    assert [ps.code for ps in reward.include.all()] == ["coffee"]


def test_a_percent_reward_checks_its_percent(admin_client, program):
    response = admin_client.post(
        reverse("admin:rules_reward_add"),
        reward_form(program, kind="discount_percent", percent="150"),
    )
    assert "percent" in response.context["adminform"].form.errors


def test_the_programme_page_holds_the_catalogue_inline(admin_client, program):
    RewardFactory(program=program, code="minus-50", name="50 off")
    html = admin_client.get(reverse("admin:rules_program_change", args=[program.pk])).content
    assert b"rewards-TOTAL_FORMS" in html
    assert b"minus-50" in html
    listing = admin_client.get(reverse("admin:rules_reward_changelist")).content.decode()
    assert "minus-50" in listing and "0 / ∞" in listing


def test_the_simulator_takes_reward_and_promo_codes(admin_client, program):
    RewardFactory(program=program, code="minus-50", amount=Decimal("50.00"))
    data = {
        "program": program.pk,
        "tier": "",
        "outlet": program.outlets.get().pk,
        "at": "2026-06-15 12:00",
        "available": "0",
        "purchases_count": "0",
        "segments": "",
        "coupons": "minus-50, summer",
        "redeem": "",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
        "lines-0-sku": "LATTE",
        "lines-0-category": "coffee",
        "lines-0-quantity": "1",
        "lines-0-price": "200.00",
    }
    response = admin_client.post(reverse("admin:rules_program_simulator"), data)
    simulation = response.context["simulation"]
    assert simulation is not None, response.context["form"].errors
    result = simulation.result
    assert [(c.code, c.status, c.discount) for c in result.coupons] == [
        ("MINUS-50", "applied", Decimal("50.00")),
        ("SUMMER", "applied", Decimal("0.00")),
    ]
    assert result.payable == Decimal("150.00")
    html = response.content.decode()
    # The admin shows money in its language's format (₽50 in English, 50 ₽ in Russian).
    assert re.search(r'<td class="coupon-discount">[^<]*\b50\b[^<]*</td>', html)
    assert "50.00 off all products" in html


def test_staff_hand_out_a_gift_and_nothing_else(admin_client, program):
    account = AccountFactory(program=program)
    gift = RewardFactory(program=program, code="mug", kind="gift", amount=None)
    money = RewardFactory(program=program, code="minus", amount=Decimal("10.00"))
    future = timezone.now() + timedelta(days=5)
    gift_coupon = CouponFactory(account=account, reward=gift, code="GIFT-0001", expires_at=future)
    money_coupon = CouponFactory(account=account, reward=money, code="MONY-0001", expires_at=future)
    url = reverse("admin:ledger_coupon_changelist")
    response = admin_client.post(
        url,
        {"action": "hand_out_gift", "_selected_action": [gift_coupon.pk, money_coupon.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert "Handed out 1 gift." in html
    assert "MONY-0001: Only a gift coupon is handed out by staff." in html
    gift_coupon.refresh_from_db()
    money_coupon.refresh_from_db()
    assert gift_coupon.used_at is not None
    assert gift_coupon.used_by == get_user_model().objects.get(username="admin")
    assert money_coupon.used_at is None
    again = admin_client.post(
        url, {"action": "hand_out_gift", "_selected_action": [gift_coupon.pk]}, follow=True
    )
    assert "GIFT-0001: This coupon has already been used." in again.content.decode()
    assert Coupon.objects.filter(used_at__isnull=False).count() == 1
