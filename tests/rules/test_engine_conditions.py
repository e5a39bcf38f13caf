"""Step 5: the conditions every rule kind shares."""

from datetime import UTC, datetime, time

import pytest

from tests.rules.engine_builders import NOW, D, calc, line, points, program, rule, state


def applies(customer=None, lines=None, **conditions) -> bool:
    bonus = rule("bonus", "threshold", min_amount=D(1), points=D(7), **conditions)
    return "bonus" in points(calc(program(bonus), lines or [line()], customer))


def test_validity_window_is_from_inclusive_until_exclusive():
    assert applies(valid_from=NOW)
    assert not applies(valid_from=datetime(2026, 6, 15, 12, 0, 1, tzinfo=UTC))
    assert not applies(valid_until=NOW)
    assert applies(valid_until=datetime(2026, 6, 15, 12, 0, 1, tzinfo=UTC))


def _at(conditions, moment):
    bonus = rule("bonus", "threshold", min_amount=D(1), points=D(7), **conditions)
    return "bonus" in points(calc(program(bonus), [line()], now=moment))


def test_days_of_week_use_the_programme_time_zone():
    # Sunday 22:30 UTC is already Monday 01:30 in Moscow.
    late_sunday = datetime(2026, 6, 14, 22, 30, tzinfo=UTC)
    assert _at({"days_of_week": (1,)}, late_sunday)
    assert not _at({"days_of_week": (7,)}, late_sunday)
    assert _at({"days_of_week": (6, 7)}, datetime(2026, 6, 13, 10, 0, tzinfo=UTC))  # Saturday


def test_hours_windows_use_the_programme_time_zone():
    happy = {"hours": ((time(8), time(11)),)}
    assert _at(happy, datetime(2026, 6, 15, 5, 0, tzinfo=UTC))  # 08:00 in Moscow
    assert not _at(happy, datetime(2026, 6, 15, 8, 0, tzinfo=UTC))  # 11:00, end excluded
    night = {"hours": ((time(22), time(2)),)}
    assert _at(night, datetime(2026, 6, 15, 22, 30, tzinfo=UTC))  # 01:30 next day
    assert not _at(night, NOW)


def test_outlets_and_channels():
    bonus = rule("bonus", "threshold", min_amount=D(1), points=D(7), outlets=("msk-2",))
    assert "bonus" not in points(calc(program(bonus), [line()]))
    assert "bonus" in points(calc(program(bonus), [line()], outlet="msk-2"))
    online = rule("bonus", "threshold", min_amount=D(1), points=D(7), channels=("online",))
    assert "bonus" not in points(calc(program(online), [line()]))
    assert "bonus" in points(calc(program(online), [line()], channel="online"))


def test_tiers_segments_and_offers():
    assert not applies(tiers=("gold",))
    assert applies(state("gold"), tiers=("gold",))
    assert not applies(segments=("vip",))
    assert applies(state(segments=frozenset({"vip", "new"})), segments=("vip", "sleeping"))
    assert not applies(offer="coffee-week")
    assert applies(state(offers=frozenset({"coffee-week"})), offer="coffee-week")


def test_min_order_amount_uses_the_whole_check():
    assert not applies(min_order_amount=D("100.01"))
    assert applies(min_order_amount=D(100))


def test_include_and_exclude_product_sets():
    assert not applies(lines=[line("CAKE", "pastry")], include=("coffee",))
    assert applies(lines=[line("CAKE", "pastry"), line()], include=("coffee",))
    assert not applies(exclude=("coffee",))


@pytest.mark.parametrize(("used", "ok"), [(0, True), (1, True), (2, False)])
def test_limit_per_customer(used, ok):
    assert applies(state(rule_usage={"bonus": used}), limit_per_customer=2) is ok


def test_priority_orders_the_breakdown():
    low = rule("a-low", "threshold", min_amount=D(1), points=D(1), priority=1)
    high = rule("z-high", "threshold", min_amount=D(1), points=D(1), priority=2)
    result = calc(program(low, high), [line()])
    assert [r.rule for r in result.breakdown] == ["tier:base", "z-high", "a-low"]


def test_a_window_up_to_24_00_ends_at_midnight():
    from loyalty.rules.loader import parse_hours

    evening = {"hours": parse_hours(["22:00-24:00"])}
    assert evening["hours"] == ((time(22), time(0)),)
    assert _at(evening, datetime(2026, 6, 15, 20, 59, tzinfo=UTC))  # 23:59 in Moscow
    assert not _at(evening, datetime(2026, 6, 15, 21, 0, tzinfo=UTC))  # 00:00
