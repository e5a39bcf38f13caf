"""Rewards and coupons through the HTTP stack: GET /rewards, POST /rewards/{code}/claim, and
coupons on calculate, commit, refund and cancel (docs/api.md "Rewards and coupons")."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import CampaignRule, CampaignStatus, PromoCodeUse
from loyalty.ledger.models import Account, Check, Coupon, Operation, OperationKind
from loyalty.ledger.services import account_open, ledger_reconcile
from loyalty.rules.models import Reward
from tests.api.conftest import latte
from tests.factories import CampaignFactory, CustomerFactory, EarnRuleFactory, RewardFactory
from tests.ledger.helpers import grant

pytestmark = pytest.mark.django_db

PHONE = "+79991234567"
OTHER = "+79997654321"
CODE = re.compile(r"^[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}$")


def D(value) -> Decimal:
    return Decimal(str(value))


def enrol(program, outlet, phone, points):
    customer = CustomerFactory(phone=phone)
    account = account_open(program=program, customer=customer, now=timezone.now(), outlet=outlet)
    if points:
        grant(account, points, timezone.now(), key=f"seed-{phone}")
    return account


@pytest.fixture
def member(program, outlet):
    return enrol(program, outlet, PHONE, 1000)


@pytest.fixture
def rewards(program):
    coffee = program.product_sets.get(code="coffee")
    free = RewardFactory(
        program=program,
        code="coffee-free",
        name="Free coffee",
        kind="free_product",
        amount=None,
        points_cost=D(300),
    )
    free.include.add(coffee)
    minus = RewardFactory(
        program=program,
        code="minus-100",
        name="100 off",
        kind="discount_amount",
        amount=D("100.00"),
        points_cost=D(200),
        stock=5,
        valid_until=timezone.now() + timedelta(days=10),
    )
    percent = RewardFactory(
        program=program,
        code="ten",
        name="10 %",
        kind="discount_percent",
        amount=None,
        percent=D(10),
        max_amount=D("30.00"),
        points_cost=D(100),
    )
    percent.tiers.add(program.tiers.get(code="silver"))
    gift = RewardFactory(
        program=program,
        code="mug",
        name="A mug",
        kind="gift",
        amount=None,
        points_cost=D(50),
        limit_per_customer=1,
    )
    RewardFactory(program=program, code="sold-out", stock=1, claimed=1)
    RewardFactory(program=program, code="later", valid_from=timezone.now() + timedelta(days=1))
    RewardFactory(program=program, code="off", is_active=False)
    return {"free": free, "minus": minus, "percent": percent, "gift": gift}


def post(client, url, body, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(url, body, format="json", **headers)


def claim(client, code, key="claim-1", phone=PHONE):
    return post(client, f"/api/v1/rewards/{code}/claim", {"customer": {"phone": phone}}, key)


def available(account):
    return Account.objects.get(pk=account.pk).available


# --- the catalogue ------------------------------------------------------------------------------


def test_list_shows_the_active_catalogue_in_stock_cheapest_first(client, rewards):
    response = client.get("/api/v1/rewards")
    assert response.status_code == 200, response.content
    body = response.json()
    assert [r["code"] for r in body] == ["mug", "ten", "minus-100", "coffee-free"]
    by_code = {r["code"]: r for r in body}
    assert by_code["coffee-free"] == {
        "code": "coffee-free",
        "name": "Free coffee",
        "kind": "free_product",
        "points_cost": "300",
        "tiers": [],
    }
    assert by_code["minus-100"]["available"] == 5
    assert by_code["minus-100"]["valid_until"]
    assert by_code["ten"]["tiers"] == ["silver"]


def test_list_needs_a_key(anon_client, rewards):
    response = anon_client.get("/api/v1/rewards")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


# --- claiming -----------------------------------------------------------------------------------


def test_claim_debits_points_as_its_own_operation_and_issues_a_coupon(client, member, rewards):
    response = claim(client, "minus-100")
    assert response.status_code == 201, response.content
    body = response.json()
    assert CODE.match(body["coupon"]["code"])
    assert body["coupon"]["reward"] == "minus-100"
    assert body["balance"] == {"available": "800", "pending": "0"}
    coupon = Coupon.objects.get(code=body["coupon"]["code"])
    assert coupon.account_id == member.pk
    assert coupon.expires_at - coupon.created_at == timedelta(days=30)
    op = coupon.operation
    assert (op.kind, op.points) == (OperationKind.REWARD, D(-200))
    assert Reward.objects.get(code="minus-100").claimed == 1
    assert ledger_reconcile(now=timezone.now()) == []


def test_claim_replay_returns_the_first_coupon_and_moves_nothing(client, member, rewards):
    first = claim(client, "minus-100", key="k")
    again = claim(client, "minus-100", key="k")
    assert again.status_code == 201
    assert again.json() == first.json()
    assert Coupon.objects.count() == 1
    assert available(member) == D(800)
    reused = post(client, "/api/v1/rewards/coffee-free/claim", {"customer": {"phone": PHONE}}, "k")
    assert reused.status_code == 409
    assert reused.json()["code"] == "idempotency_key_reused"


def test_claim_without_enough_points_is_422_and_writes_nothing(client, program, outlet, rewards):
    poor = enrol(program, outlet, OTHER, 100)
    response = claim(client, "coffee-free", phone=OTHER)
    assert response.status_code == 422
    assert response.json()["code"] == "insufficient_points"
    assert "300" in response.json()["detail"]
    assert not Coupon.objects.exists()
    assert available(poor) == D(100)


@pytest.mark.parametrize(
    ("code", "detail"),
    [
        ("sold-out", "out of stock"),
        ("later", "not available yet"),
        ("off", "no such reward"),
        ("nothing-like-it", "no such reward"),
        ("ten", "not available for your tier"),
    ],
)
def test_claim_refusals_are_reward_unavailable(client, member, rewards, code, detail):
    response = claim(client, code)
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "reward_unavailable"
    assert detail in response.json()["detail"].lower()
    assert not Coupon.objects.exists()
    assert available(member) == D(1000)


def test_claim_over_the_per_customer_limit_is_refused(client, member, rewards):
    assert claim(client, "mug", key="a").status_code == 201
    second = claim(client, "mug", key="b")
    assert second.status_code == 422
    assert second.json()["code"] == "reward_unavailable"
    assert available(member) == D(950)


def test_claim_bad_body_unknown_customer_and_missing_key(client, member, rewards):
    bad = post(client, "/api/v1/rewards/mug/claim", {"customer": {"phone": PHONE}, "x": 1}, "k1")
    assert bad.status_code == 400 and "x" in bad.json()["fields"]
    missing = post(client, "/api/v1/rewards/mug/claim", {}, "k2")
    assert missing.status_code == 400 and "customer" in missing.json()["fields"]
    unknown = claim(client, "mug", key="k3", phone="+79990000000")
    assert unknown.status_code == 404 and unknown.json()["code"] == "customer_not_found"
    no_key = post(client, "/api/v1/rewards/mug/claim", {"customer": {"phone": PHONE}})
    assert no_key.status_code == 400 and "Idempotency-Key" in no_key.json()["fields"]
    assert not Coupon.objects.exists()


# --- coupons at the till --------------------------------------------------------------------------


def coupon_of(client, reward, key):
    response = claim(client, reward, key=key)
    assert response.status_code == 201, response.content
    return response.json()["coupon"]["code"]


def check_body(coupons, receipt=None, redeem=None, lines=None):
    body = {"customer": {"phone": PHONE}, "lines": lines or [latte()], "coupons": coupons}
    if receipt:
        body["receipt_number"] = receipt
    if redeem:
        body["redeem_points"] = redeem
    return body


def test_calculate_applies_a_free_product_and_explains_it(client, member, rewards):
    code = coupon_of(client, "coffee-free", "c1")  # balance 700
    response = post(client, "/api/v1/checks/calculate", check_body([code.lower()]))
    assert response.status_code == 200, response.content
    body = response.json()
    # Two lattes at 250: one free. Base 5 % of 250 = 12 (12.5 down), latte 10 × 2 = 20.
    assert body["coupons"] == [
        {"code": code, "status": "applied", "reason": "One Latte free", "discount": "250.00"}
    ]
    assert body["subtotal"] == "500.00"
    assert body["discount"] == "0.00"
    assert body["payable"] == "250.00"
    assert body["earned_points"] == "32"
    assert body["breakdown"][0] == {
        "rule": f"coupon:{code}",
        "points": "0",
        "reason": "One Latte free",
    }
    assert not Check.objects.exists()
    assert Coupon.objects.get(code=code).used_at is None


def test_calculate_reports_rejected_codes_and_still_answers_200(
    client, member, program, outlet, rewards
):
    enrol(program, outlet, OTHER, 1000)
    theirs = claim(client, "coffee-free", key="theirs", phone=OTHER).json()["coupon"]["code"]
    expired = coupon_of(client, "minus-100", "c-exp")
    Coupon.objects.filter(code=expired).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = post(client, "/api/v1/checks/calculate", check_body(["NOPE", theirs, expired]))
    assert response.status_code == 200, response.content
    assert [
        (c["code"], c["status"], c["reason"], c["discount"]) for c in response.json()["coupons"]
    ] == [
        ("NOPE", "rejected", "Unknown code.", "0.00"),
        (theirs, "rejected", "This coupon belongs to another customer.", "0.00"),
        (expired, "rejected", "This coupon has expired.", "0.00"),
    ]
    assert response.json()["payable"] == "500.00"


def test_commit_uses_the_coupon_once_and_refuses_it_after(client, member, rewards):
    code = coupon_of(client, "minus-100", "c1")  # 1000 − 200 = 800
    response = post(client, "/api/v1/checks", check_body([code], "A-1", redeem="100"), "k1")
    assert response.status_code == 201, response.content
    body = response.json()
    # 500 − 100 coupon = 400; 100 points (≤ 30 % of 400 = 120); pays 300; earns 5 % of 300 = 15
    # plus latte 20.
    assert (body["subtotal"], body["discount"], body["payable"]) == ("500.00", "100.00", "300.00")
    assert body["coupons"][0]["discount"] == "100.00"
    assert body["earned_points"] == "35"
    assert body["balance"]["available_after"] == "735"
    coupon = Coupon.objects.get(code=code)
    check = Check.objects.get(receipt_number="A-1")
    assert (coupon.used_check_id, check.coupon_discount) == (check.pk, D("100.00"))
    replay = post(client, "/api/v1/checks", check_body([code], "A-1", redeem="100"), "k1")
    assert replay.json() == body
    again = post(client, "/api/v1/checks", check_body([code], "A-2"), "k2")
    assert again.status_code == 422
    assert again.json()["code"] == "coupon_invalid"
    assert again.json()["detail"] == f"coupons[0] ({code}): This coupon has already been used."
    assert not Check.objects.filter(receipt_number="A-2").exists()
    assert ledger_reconcile(now=timezone.now()) == []


def test_commit_with_a_gift_or_unknown_code_is_422_and_writes_nothing(client, member, rewards):
    gift = coupon_of(client, "mug", "g")
    for codes, key in (([gift], "k1"), (["NOPE"], "k2")):
        response = post(client, "/api/v1/checks", check_body(codes, f"R-{key}"), key)
        assert response.status_code == 422
        assert response.json()["code"] == "coupon_invalid"
        assert response.json()["detail"].startswith("coupons[0]")
    assert not Check.objects.exists()
    assert Coupon.objects.get(code=gift).used_at is None


def test_anonymous_check_cannot_use_a_reward_coupon(client, member, rewards):
    code = coupon_of(client, "minus-100", "c")
    body = {"lines": [latte()], "coupons": [code], "receipt_number": "ANON"}
    response = post(client, "/api/v1/checks", body, "k")
    assert response.status_code == 422 and response.json()["code"] == "coupon_invalid"


def test_cancel_gives_a_used_coupon_back_and_a_refund_does_not(client, member, rewards):
    first = coupon_of(client, "minus-100", "c1")
    second = coupon_of(client, "minus-100", "c2")  # 1000 − 400 = 600
    one = post(client, "/api/v1/checks", check_body([first], "A-1"), "k1").json()
    two = post(client, "/api/v1/checks", check_body([second], "A-2"), "k2").json()
    cancelled = post(client, f"/api/v1/checks/{one['id']}/cancel", {}, "k3")
    assert cancelled.status_code == 200, cancelled.content
    assert Coupon.objects.get(code=first).used_at is None
    refunded = post(client, f"/api/v1/checks/{two['id']}/refunds", {"full": True}, "k4")
    assert refunded.status_code == 201, refunded.content
    assert Coupon.objects.get(code=second).used_at is not None
    # The coupon given back pays again.
    again = post(client, "/api/v1/checks", check_body([first], "A-3"), "k5")
    assert again.status_code == 201, again.content
    assert ledger_reconcile(now=timezone.now()) == []


def test_coupons_field_is_validated(client, member):
    for coupons, field in (
        (["x" * 31], "coupons[0]"),
        ("SUMMER", "coupons"),
        ([1], "coupons[0]"),
        (["A"] * 11, "coupons"),
    ):
        response = post(client, "/api/v1/checks/calculate", check_body(coupons))
        assert response.status_code == 400, response.content
        assert field in response.json()["fields"], response.json()


# --- promo codes ----------------------------------------------------------------------------------


@pytest.fixture
def summer(program):
    campaign = CampaignFactory(
        program=program,
        code="summer",
        status=CampaignStatus.RUNNING,
        starts_at=timezone.now() - timedelta(days=1),
        promo_code="Summer",
        promo_limit_total=2,
        promo_limit_per_customer=1,
    )
    rule = EarnRuleFactory(program=program, code="summer-bonus", kind="fixed_per_item", points=D(5))
    CampaignRule.objects.create(campaign=campaign, rule=rule, requires_code=True)
    return campaign


def test_promo_code_switches_on_its_rules_and_counts_uses(client, program, outlet, member, summer):
    plain = post(client, "/api/v1/checks/calculate", check_body([])).json()
    assert "summer-bonus" not in [r["rule"] for r in plain["breakdown"]]
    quoted = post(client, "/api/v1/checks/calculate", check_body(["summer"])).json()
    assert quoted["coupons"] == [
        {
            "code": "SUMMER",
            "status": "applied",
            "reason": "Promo code SUMMER: the campaign's offers apply.",
            "discount": "0.00",
        }
    ]
    bonus = next(r for r in quoted["breakdown"] if r["rule"] == "summer-bonus")
    assert bonus["points"] == "10"  # 5 per item × 2
    done = post(client, "/api/v1/checks", check_body(["SUMMER"], "P-1"), "p1")
    assert done.status_code == 201, done.content
    summer.refresh_from_db()
    assert summer.promo_uses == 1
    # Once per customer: the second check of the same customer is refused.
    again = post(client, "/api/v1/checks", check_body(["SUMMER"], "P-2"), "p2")
    assert again.status_code == 422 and again.json()["code"] == "coupon_invalid"
    # A cancel uncounts the use.
    post(client, f"/api/v1/checks/{done.json()['id']}/cancel", {}, "p3")
    summer.refresh_from_db()
    assert summer.promo_uses == 0
    assert PromoCodeUse.objects.get().cancelled is True


def test_promo_code_total_limit_stops_at_the_limit(client, program, outlet, summer):
    phones = ["+79990000001", "+79990000002", "+79990000003"]
    for phone in phones:
        enrol(program, outlet, phone, 0)
    statuses = []
    for i, phone in enumerate(phones):
        body = {
            "customer": {"phone": phone},
            "lines": [latte()],
            "coupons": ["SUMMER"],
            "receipt_number": f"T-{i}",
        }
        statuses.append(post(client, "/api/v1/checks", body, f"t{i}").status_code)
    assert statuses == [201, 201, 422]
    summer.refresh_from_db()
    assert summer.promo_uses == 2


def test_promo_code_of_a_campaign_not_running_is_rejected(client, member, summer):
    type(summer).objects.filter(pk=summer.pk).update(status=CampaignStatus.PAUSED)
    body = post(client, "/api/v1/checks/calculate", check_body(["SUMMER"])).json()
    assert body["coupons"][0]["status"] == "rejected"
    assert body["coupons"][0]["reason"] == "This promo code is not valid now."


def test_calculate_with_coupons_runs_a_constant_number_of_queries(
    client, member, rewards, django_assert_max_num_queries
):
    code = coupon_of(client, "minus-100", "c")
    post(client, "/api/v1/checks/calculate", check_body([code]))  # the spec cached
    counts = []
    for n in (1, 10):
        with CaptureQueriesContext(connection) as ctx:
            response = post(
                client, "/api/v1/checks/calculate", check_body([code], lines=[latte()] * n)
            )
        assert response.status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
    with django_assert_max_num_queries(counts[0]):
        post(client, "/api/v1/checks/calculate", check_body([code], lines=[latte()] * 25))
    assert Operation.objects.filter(kind=OperationKind.REWARD).count() == 1


def test_commit_with_a_coupon_runs_a_constant_number_of_queries(client, member, rewards):
    codes = [coupon_of(client, "minus-100", f"c{i}") for i in range(3)]
    # Cheap lines: no check crosses a tier threshold (an upgrade writes more).
    cheap = latte(qty="1", price="20.00")
    post(client, "/api/v1/checks", check_body([codes[0]], "W-0", lines=[cheap]), "w0")
    counts = []
    for i, n in ((1, 1), (2, 10)):
        with CaptureQueriesContext(connection) as ctx:
            response = post(
                client,
                "/api/v1/checks",
                check_body([codes[i]], f"W-{i}", lines=[cheap] * n),
                f"w{i}",
            )
        assert response.status_code == 201, response.content
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts
