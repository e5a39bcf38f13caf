"""Rewards figures of a period: claims, uses and points spent on the programme's local days."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from loyalty.ledger.models import Coupon
from loyalty.ledger.services import reward_claim
from reports.periods import Period
from reports.selectors.rewards import rewards_kpis
from tests.factories import AccountFactory, ProgramFactory, RewardFactory
from tests.ledger.helpers import grant

pytestmark = pytest.mark.django_db

# 23:30 UTC on 14 June is already 15 June in Moscow.
LATE = datetime(2026, 6, 14, 23, 30, tzinfo=UTC)


def test_claims_and_uses_count_on_local_days_and_per_reward():
    program = ProgramFactory(code="coffee", timezone="Europe/Moscow")
    account = AccountFactory(program=program)
    grant(account, 1000, LATE - timedelta(days=3), key="seed")
    cake = RewardFactory(
        program=program, code="cake", kind="gift", amount=None, points_cost=Decimal(100)
    )
    minus = RewardFactory(program=program, code="minus", points_cost=Decimal(250))

    def claim(reward, at, key):
        return reward_claim(
            program=program,
            customer=account.customer,
            reward_code=reward.code,
            source="test",
            idempotency_key=key,
            now=at,
        ).coupon

    claim(cake, LATE - timedelta(days=1), "before")  # 14 June in Moscow: outside
    first = claim(cake, LATE, "a")
    claim(minus, LATE + timedelta(hours=1), "b")
    Coupon.objects.filter(pk=first.pk).update(used_at=LATE + timedelta(hours=2))
    figures = rewards_kpis(program=program, period=Period(date(2026, 6, 15), date(2026, 6, 15)))
    assert (figures["claimed"], figures["used"]) == (2, 1)
    assert figures["points_spent"] == Decimal(350)
    assert figures["coupon_discount"] == Decimal("0.00")
    assert figures["by_reward"] == {
        "cake": {"claimed": 1, "used": 1, "used_at_till": 0, "points_spent": Decimal(100)},
        "minus": {"claimed": 1, "used": 0, "used_at_till": 0, "points_spent": Decimal(250)},
    }
    empty = rewards_kpis(program=program, period=Period(date(2026, 6, 1), date(2026, 6, 10)))
    assert (empty["claimed"], empty["used"], empty["points_spent"]) == (0, 0, Decimal(0))


def test_the_dashboard_shows_and_downloads_the_rewards_figures(admin_client):
    import csv
    import io

    from django.utils import timezone

    program = ProgramFactory(code="coffee", timezone="Europe/Moscow")
    account = AccountFactory(program=program)
    now = timezone.now()
    grant(account, 1000, now - timedelta(days=3), key="seed")
    minus = RewardFactory(program=program, code="minus", points_cost=Decimal(250))
    for key in ("a", "b"):
        reward_claim(
            program=program,
            customer=account.customer,
            reward_code=minus.code,
            source="test",
            idempotency_key=key,
            now=now - timedelta(hours=1),
        )
    url = "/admin/reports/dashboard/"
    page = admin_client.get(url, {"program": program.pk, "preset": "30"})
    assert page.status_code == 200
    rewards = page.context["rewards"]
    assert (rewards["claimed"], rewards["points_spent"]) == (2, Decimal(500))
    html = page.content.decode()
    assert 'class="rewards-claimed">2<' in html
    download = admin_client.get(
        url, {"program": program.pk, "preset": "30", "export": "rewards"}
    ).content.decode()
    rows = list(csv.DictReader(io.StringIO(download.lstrip("\ufeff"))))
    assert [(r["reward"], r["claimed"], r["points_spent"]) for r in rows] == [("minus", "2", "500")]
