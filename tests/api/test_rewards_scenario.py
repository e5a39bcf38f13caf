"""The whole story with numbers worked out by hand: enrol, earn, claim a reward in the cabinet,
pay with its coupon and points, refund half, cancel another check (its coupon comes back)."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from customers.models import Customer
from loyalty.ledger.models import Account, Coupon
from loyalty.ledger.services import ledger_reconcile
from reports.periods import Period, local_today
from reports.selectors.rewards import rewards_kpis
from tests.api.conftest import latte
from tests.factories import RewardFactory

pytestmark = pytest.mark.django_db

PHONE = "+79991234567"


def D(value) -> Decimal:
    return Decimal(str(value))


def post(client, url, body, key):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_enrol_earn_claim_pay_refund_cancel(client, program):
    RewardFactory(
        program=program,
        code="minus-100",
        name="100 off",
        kind="discount_amount",
        amount=D("100.00"),
        points_cost=D(150),
    )
    # Enrol at the till: no welcome bonus in this programme.
    enrolled = post(client, "/api/v1/customers", {"phone": PHONE, "first_name": "Анна"}, "e1")
    assert enrolled.status_code == 201, enrolled.content
    customer = Customer.objects.get(phone=PHONE)
    account = Account.objects.get(customer=customer)

    def available():
        return Account.objects.get(pk=account.pk).available

    def check(receipt, lines, key, coupons=(), redeem=None):
        body = {
            "customer": {"phone": PHONE},
            "lines": lines,
            "receipt_number": receipt,
            "coupons": list(coupons),
        }
        if redeem:
            body["redeem_points"] = redeem
        response = post(client, "/api/v1/checks", body, key)
        assert response.status_code == 201, response.content
        return response.json()

    # 1. Earn: 20 lattes at 250.00 = 5000.00 → 5 % = 250 and 10 per latte = 200: 450. The
    # 5000.00 spent lifts Anna to Silver (10 %, from 1000.00) right after the check.
    first = check("A-1", [latte(qty="20")], "k1")
    assert first["earned_points"] == "450"
    assert available() == D(450)

    # 2. Claim the reward in the cabinet (150 points): confirmation, then the claim.
    user = get_user_model().objects.create_user(username="anna", password="Kopilka-test-9431")
    customer.user = user
    customer.save(update_fields=["user"])
    cabinet = Client()
    cabinet.force_login(user)
    with translation.override("en"):
        claim_url = reverse("cabinet:reward_claim")
    confirm = cabinet.post(claim_url, {"reward": "minus-100"})
    assert confirm.status_code == 200 and b"It costs 150 points." in confirm.content
    done = cabinet.post(
        claim_url,
        {"reward": "minus-100", "token": "6f1a0c1e-8a5b-4a8e-9d0c-7b0c1c2d3e4f", "confirm": "on"},
    )
    assert done.status_code == 302
    first_coupon = Coupon.objects.get().code
    assert available() == D(300)
    # A second coupon of the same reward, claimed at the till: 150 left.
    second = post(client, "/api/v1/rewards/minus-100/claim", {"customer": {"phone": PHONE}}, "c2")
    assert second.status_code == 201, second.content
    second_coupon = second.json()["coupon"]["code"]
    assert second.json()["balance"]["available"] == "150"

    # 3. Pay with the coupon and points: 2 lattes = 500.00; the coupon takes 100.00 off;
    # points: min(150, 30 % of 400.00 = 120) = 120 → 120.00; payable 500 − 100 − 120 = 280.00;
    # earned 10 % (Silver) of 280.00 = 28, plus 10 × 2 = 20: 48. Balance 150 − 120 + 48 = 78.
    paid = check("A-2", [latte()], "k2", coupons=[first_coupon], redeem="max")
    assert paid["coupons"] == [
        {
            "code": first_coupon,
            "status": "applied",
            "reason": "100.00 off all products",
            "discount": "100.00",
        }
    ]
    assert (paid["subtotal"], paid["redeemed_points"], paid["discount"], paid["payable"]) == (
        "500.00",
        "120",
        "120.00",
        "280.00",
    )
    assert paid["tier"] == {"code": "silver", "name": "Silver"}
    assert paid["earned_points"] == "48"
    assert available() == D(78)

    # 4. Refund one of the two lattes: claw back 28/2 = 14 and 20/2 = 10; give back 120/2 = 60.
    # Balance 78 − 24 + 60 = 114. The coupon stays used.
    refund = post(
        client,
        f"/api/v1/checks/{paid['id']}/refunds",
        {"lines": [{"index": 0, "quantity": "1"}]},
        "k3",
    )
    assert refund.status_code == 201, refund.content
    assert (refund.json()["clawed_back_points"], refund.json()["restored_points"]) == ("24", "60")
    assert available() == D(114)
    assert Coupon.objects.get(code=first_coupon).used_at is not None

    # 5. Another check with the second coupon: 250.00 − 100.00 = 150.00; earns 10 % = 15 and
    # 10: 25 → 139. Cancelled: the 25 go back out (114) and the coupon comes back.
    other = check("A-3", [latte(qty="1")], "k4", coupons=[second_coupon])
    assert (other["payable"], other["earned_points"]) == ("150.00", "25")
    assert available() == D(139)
    cancelled = post(client, f"/api/v1/checks/{other['id']}/cancel", {}, "k5")
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["clawed_back_points"] == "25"
    assert available() == D(114)
    assert Coupon.objects.get(code=second_coupon).used_at is None

    assert ledger_reconcile(now=timezone.now()) == []
    # The report: two coupons claimed for 300 points; one used (the other given back);
    # 100.00 off on checks that stand (the cancelled one does not count).
    today = local_today(program, timezone.now())
    figures = rewards_kpis(program=program, period=Period(today, today))
    assert (figures["claimed"], figures["used"], figures["points_spent"]) == (2, 1, D(300))
    assert figures["coupon_discount"] == D("100.00")
    assert figures["by_reward"]["minus-100"]["used_at_till"] == 1
