"""The rewards catalogue in the programme format: round trip, errors by path, removal."""

import copy
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from core import errors
from loyalty.rules.models import Program, Reward
from loyalty.rules.program_io import program_dump, program_load
from tests.factories import AccountFactory, CouponFactory

pytestmark = pytest.mark.django_db

EXAMPLE = Path(settings.BASE_DIR) / "examples" / "programs" / "coffee.json"


def coffee() -> dict:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


def test_rewards_load_with_every_field_and_dump_back_exactly():
    data = coffee()
    data["rewards"][2]["tiers"] = ["gold", "silver"]
    program = program_load(data=data)
    capped = program.rewards.get(code="minus-10")
    assert (capped.kind, capped.percent, capped.max_amount, capped.points_cost) == (
        "discount_percent",
        Decimal("10"),
        Decimal("200"),
        Decimal("400"),
    )
    assert sorted(t.code for t in capped.tiers.all()) == ["gold", "silver"]
    assert [ps.code for ps in capped.include.all()] == ["coffee"]
    gift = program.rewards.get(code="cake-gift")
    assert (gift.stock, gift.limit_per_customer, gift.coupon_days) == (50, 1, 14)
    assert program_dump(program=program)["rewards"] == data["rewards"]


def test_a_programme_without_rewards_dumps_no_rewards_key():
    data = coffee()
    del data["rewards"]
    assert "rewards" not in program_dump(program=program_load(data=data))


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda r: r.update(kind="free_product", include=[]), "rewards[0].include"),
        (lambda r: r.update(tiers=["platinum"]), "rewards[0].tiers[0]"),
        (lambda r: r.update(include=["tea"]), "rewards[0].include[0]"),
        (lambda r: r.update(points_cost=1.5), "rewards[0].points_cost"),
        (lambda r: r.update(colour="red"), "rewards[0].colour"),
        (lambda r: r.update(kind="discount_amount"), "rewards[0].amount"),
        (lambda r: r.update(kind="discount_percent", percent="120"), "rewards[0].percent"),
        (lambda r: r.update(coupon_days=0), "rewards[0].coupon_days"),
        (
            lambda r: r.update(
                valid_from="2026-02-01T00:00:00+03:00", valid_until="2026-01-01T00:00:00+03:00"
            ),
            "rewards[0].valid_until",
        ),
    ],
)
def test_invalid_rewards_are_named_by_path_and_nothing_is_written(mutate, path):
    data = coffee()
    mutate(data["rewards"][0])
    with pytest.raises(errors.ValidationFailed) as exc:
        program_load(data=data)
    assert path in exc.value.fields, exc.value.fields
    assert not Program.objects.exists()
    assert not Reward.objects.exists()


def test_a_reward_dropped_from_the_file_is_deleted_or_deactivated_if_it_issued_coupons():
    program = program_load(data=coffee())
    claimed = program.rewards.get(code="minus-200")
    CouponFactory(account=AccountFactory(program=program), reward=claimed)
    data = coffee()
    data["rewards"] = [r for r in data["rewards"] if r["code"] not in ("minus-200", "cake-gift")]
    program_load(data=data)
    assert not Reward.objects.filter(code="cake-gift").exists()
    claimed.refresh_from_db()
    assert claimed.is_active is False
    dumped = {r["code"]: r for r in program_dump(program=program)["rewards"]}
    assert dumped["minus-200"]["active"] is False


def test_reloading_the_same_file_changes_no_reward():
    program = program_load(data=coffee())
    before = list(Reward.objects.order_by("pk").values())
    program_load(data=copy.deepcopy(program_dump(program=program)))
    assert list(Reward.objects.order_by("pk").values()) == before
