"""Step 1: the redemption limit, the errors, and the discount spread over redeemable lines."""

import pytest

from core import errors
from loyalty.rules import engine
from tests.rules.engine_builders import NOW, D, calc, line, program, state


def test_limit_is_the_share_of_redeemable_lines():
    # 30 % of 500.00; the tobacco line is not payable with points.
    result = calc(
        program(),
        [line(qty=2, price="250.00"), line("CIG", "tobacco", price="300.00")],
        state(available=1000),
        redeem="max",
    )
    assert result.redeemable_amount == D(500)
    assert (result.max_redeemable, result.redeemed_points, result.discount) == (D(150),) * 3
    assert result.payable == D(650)
    assert [ln.redeemed_points for ln in result.lines] == [D(150), D(0)]


@pytest.mark.parametrize(
    ("available", "cap", "expected"),
    [(40, None, 40), (1000, 100, 100), (1000, None, 150), (-20, None, 0)],
)
def test_limit_is_the_smallest_of_balance_share_and_cap(available, cap, expected):
    spec = program(redemption={"max_points_per_check": None if cap is None else D(cap)})
    result = calc(spec, [line(qty=5)], state(available=available))
    assert result.max_redeemable == D(expected)
    assert result.redeemed_points == D(0)  # nothing asked, nothing redeemed


def test_limit_divides_by_the_point_value():
    # A point pays 0.50: 30 % of 500.00 is 150.00 of money, 300 points.
    result = calc(
        program(point_value=D("0.50")), [line(qty=5)], state(available=1000), redeem="max"
    )
    assert (result.max_redeemable, result.discount, result.payable) == (D(300), D(150), D(350))


def test_tier_max_share_overrides_the_policy():
    result = calc(program(), [line(qty=5)], state("gold", available=1000))
    assert result.max_redeemable == D(250)


def test_nothing_redeemable_below_min_order_or_min_balance():
    spec = program(redemption={"min_order_amount": D(1000), "min_balance": D(0)})
    assert calc(spec, [line(qty=5)], state(available=1000)).max_redeemable == D(0)
    with pytest.raises(errors.RedeemNotAllowed, match=r"1000\.00"):
        calc(spec, [line(qty=5)], state(available=1000), redeem=D(10))
    spec = program(redemption={"min_balance": D(500)})
    assert calc(spec, [line(qty=5)], state(available=499)).max_redeemable == D(0)
    with pytest.raises(errors.RedeemNotAllowed):
        calc(spec, [line(qty=5)], state(available=499), redeem=D(10))
    # "max" is a wish, not a demand: it redeems zero instead of failing.
    assert calc(spec, [line(qty=5)], state(available=499), redeem="max").redeemed_points == 0


def test_promo_lines_are_redeemable_only_when_allowed():
    lines = [line(qty=1), line("CAKE", "pastry", price="100.00", promo=True)]
    assert calc(program(), lines, state(available=1000)).max_redeemable == D(30)
    allowed = program(redemption={"allow_promo_items": True})
    assert calc(allowed, lines, state(available=1000)).max_redeemable == D(60)


def test_only_excluded_lines_cannot_redeem():
    with pytest.raises(errors.RedeemNotAllowed, match="No line"):
        calc(program(), [line("CIG", "tobacco")], state(available=100), redeem=D(1))


def test_over_the_limit_names_the_maximum():
    with pytest.raises(errors.RedeemLimitExceeded) as exc:
        calc(program(), [line(qty=5)], state(available=1000), redeem=D(151))
    assert "150" in exc.value.detail


def test_over_the_balance_is_insufficient_points():
    with pytest.raises(errors.InsufficientPoints):
        calc(program(), [line(qty=5)], state(available=50), redeem=D(60))


@pytest.mark.parametrize("bad", [D(-1), "lots", D("1.5")])
def test_bad_redeem_values_are_validation_errors(bad):
    with pytest.raises(errors.ValidationFailed) as exc:
        calc(program(), [line(qty=5)], state(available=1000), redeem=bad)
    assert "redeem_points" in exc.value.fields


def test_hundredths_programme_accepts_fractional_points():
    result = calc(program(precision=2), [line(qty=5)], state(available=1000), redeem=D("10.55"))
    assert (result.redeemed_points, result.discount) == (D("10.55"), D("10.55"))


def test_anonymous_check_redeems_nothing():
    spec = program()
    anonymous = engine.calculate(spec, None, engine.CheckInput(lines=(line(),), now=NOW))
    assert anonymous.max_redeemable == D(0) and anonymous.earned_points == D(0)
    assert anonymous.breakdown == () and anonymous.tier_code is None
    with pytest.raises(errors.RedeemNotAllowed):
        engine.calculate(spec, None, engine.CheckInput(lines=(line(),), now=NOW, redeem=D(1)))


def test_discount_spreads_by_largest_remainder():
    # 100 points over 3 equal lines: 33, 33, 34 — never 99 or 101.
    lines = [line("A", price="100.00"), line("B", price="100.00"), line("C", price="100.00")]
    spec = program(redemption={"max_share": D(1)})
    result = calc(spec, lines, state(available=1000), redeem=D(100))
    shares = [ln.redeemed_points for ln in result.lines]
    assert sorted(shares) == [D(33), D(33), D(34)] and sum(shares) == D(100)
    assert sum(ln.discount for ln in result.lines) == D(100)


def test_discount_follows_amounts():
    lines = [line("A", price="300.00"), line("B", price="100.00")]
    spec = program(redemption={"max_share": D(1)})
    result = calc(spec, lines, state(available=1000), redeem=D(100))
    assert [ln.discount for ln in result.lines] == [D(75), D(25)]


def test_negative_amounts_are_rejected_naming_the_line():
    with pytest.raises(errors.ValidationFailed) as exc:
        calc(program(), [line(), line(price="-1.00")])
    assert "lines[1].price" in exc.value.fields
