"""The rewards page: the catalogue with claim buttons, a confirmation, my coupons with QR."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from loyalty.ledger.models import Account, Coupon, Operation, OperationKind
from loyalty.ledger.services import ledger_reconcile, points_grant
from tests.factories import RewardFactory

pytestmark = pytest.mark.django_db


def url(name: str, lang: str = "ru") -> str:
    with translation.override(lang):
        return reverse(f"cabinet:{name}")


@pytest.fixture
def catalogue(program, member):
    """Anna has 40 points; grant her 500 more. Three rewards."""
    account = Account.objects.get(customer=member)
    points_grant(
        account=account,
        points=Decimal(500),
        source="test",
        idempotency_key="seed",
        now=timezone.now(),
    )
    cake = RewardFactory(
        program=program,
        code="cake",
        name="Cake",
        kind="gift",
        amount=None,
        points_cost=Decimal(100),
        stock=10,
    )
    minus = RewardFactory(
        program=program,
        code="minus",
        name="100 off",
        points_cost=Decimal(300),
        amount=Decimal("100.00"),
        coupon_days=10,
    )
    silver = RewardFactory(
        program=program, code="silver-only", name="For silver", points_cost=Decimal(50)
    )
    silver.tiers.add(program.tiers.get(code="silver"))
    RewardFactory(program=program, code="dear", name="Too dear", points_cost=Decimal(5000))
    return {"account": account, "cake": cake, "minus": minus}


def confirm_and_claim(client, code, token="6f1a0c1e-8a5b-4a8e-9d0c-7b0c1c2d3e4f", lang="en"):
    return client.post(url("reward_claim", lang), {"reward": code, "token": token, "confirm": "on"})


def test_catalogue_lists_rewards_with_buttons_and_reasons(signed_in, catalogue):
    html = signed_in.get(url("rewards", "en")).content.decode()
    assert "You have 540 points to spend." in html
    assert html.count('data-testid="reward"') == 4
    assert html.count('name="reward" value=') == 2  # cake and minus can be claimed
    assert "Not available for your tier." in html
    assert "4,460 more points needed." in html
    assert "10 left" in html
    assert "No coupons yet." in html


def test_catalogue_in_russian(signed_in, catalogue):
    html = signed_in.get(url("rewards", "ru")).content.decode()
    assert "Награды" in html
    assert "Мои купоны" in html
    assert "Получить" in html
    assert "Недоступно для вашего статуса." in html


def test_claim_asks_for_confirmation_first_and_writes_nothing(signed_in, catalogue):
    response = signed_in.post(url("reward_claim", "en"), {"reward": "minus"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "It costs 300 points." in html
    assert "Your balance after: 240." in html
    assert 'name="token"' in html and 'name="confirm"' in html
    assert not Coupon.objects.exists()


def test_confirmed_claim_issues_a_coupon_shown_with_its_qr(signed_in, catalogue):
    response = confirm_and_claim(signed_in, "minus")
    assert response.status_code == 302
    coupon = Coupon.objects.get()
    assert response["Location"].endswith(f"?coupon={coupon.code}")
    assert Account.objects.get(pk=catalogue["account"].pk).available == Decimal(240)
    page = signed_in.get(response["Location"])
    html = page.content.decode()
    assert f"“100 off” is yours: coupon {coupon.code}." in html
    assert f'data-testid="coupon-code">{coupon.code}<' in html
    assert 'class="coupon active fresh"' in html
    assert "<svg" in html and 'class="qr"' in html
    # The same confirmation submitted twice claims once.
    confirm_and_claim(signed_in, "minus")
    assert Coupon.objects.count() == 1
    assert Operation.objects.filter(kind=OperationKind.REWARD).count() == 1
    assert ledger_reconcile(now=timezone.now()) == []


def test_claim_errors_are_shown_and_nothing_moves(signed_in, catalogue):
    for i, (code, message) in enumerate(
        (
            ("dear", "The reward costs 5000 points, the balance is 540."),
            ("silver-only", "This reward is not available for your tier."),
            ("nothing", "There is no such reward."),
        )
    ):
        response = confirm_and_claim(
            signed_in, code, token=f"00000000-0000-4000-8000-0000000001{i:02d}"
        )
        assert response.status_code == 302
        page = signed_in.get(response["Location"]).content.decode()
        assert message in page, page
    assert not Coupon.objects.exists()
    assert Account.objects.get(pk=catalogue["account"].pk).available == Decimal(540)


def test_used_and_expired_coupons_show_their_state_without_qr(signed_in, catalogue):
    confirm_and_claim(signed_in, "cake", token="00000000-0000-4000-8000-000000000001")
    confirm_and_claim(signed_in, "minus", token="00000000-0000-4000-8000-000000000002")
    cake, minus = Coupon.objects.order_by("reward__code")
    Coupon.objects.filter(pk=cake.pk).update(used_at=timezone.now())
    Coupon.objects.filter(pk=minus.pk).update(expires_at=timezone.now() - timedelta(days=1))
    html = signed_in.get(url("rewards", "en")).content.decode()
    assert 'data-state="used"' in html and 'data-state="expired"' in html
    assert "Used on" in html and "Expired on" in html
    assert 'class="qr"' not in html


def test_claim_needs_a_post_with_csrf(member, catalogue):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member.user)
    assert client.get(url("reward_claim", "en")).status_code == 405
    assert confirm_and_claim(client, "minus").status_code == 403
    assert not Coupon.objects.exists()


def test_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get(url("rewards"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_rewards_page_reads_a_constant_number_of_queries(signed_in, program, catalogue):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert signed_in.get(url("rewards", "en")).status_code == 200
        return len(ctx.captured_queries)

    confirm_and_claim(signed_in, "cake", token="00000000-0000-4000-8000-000000000003")
    few = count()
    for i in range(5):
        RewardFactory(program=program, code=f"more-{i}", points_cost=Decimal(10))
    for i in range(3):
        confirm_and_claim(signed_in, f"more-{i}", token=f"00000000-0000-4000-8000-00000000001{i}")
    assert count() == few
