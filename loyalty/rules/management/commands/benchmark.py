"""Measure the check calculation engine: a 50-line basket against 100 active rules.

    manage.py benchmark [--runs 2000] [--lines 50] [--rules 100]
    manage.py benchmark --expiry --expiry-lots 100000 --segments --segment-customers 100000

The engine part is pure (no database, no clock inside ``calculate``): the command builds a
synthetic programme spec in memory, warms up, then times ``engine.calculate`` many times and
prints the median, p95 and mean. ``--expiry`` and ``--segments`` then run the existing
``benchmark_expiry`` and ``benchmark_segments`` commands (they need a database and take time).
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime
from datetime import time as dtime
from decimal import Decimal

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from loyalty.rules import engine

# A Saturday, 12:00 in Moscow: inside every rule's day and hour window below.
NOW = datetime(2026, 6, 13, 9, 0, tzinfo=UTC)
CATEGORIES = [f"cat-{i}" for i in range(20)]
KINDS = ["multiplier", "fixed_per_item", "threshold", "nth_purchase", "first_purchase", "event"]


def build_spec(*, rules: int, seed: int) -> engine.ProgramSpec:
    """A programme whose rules mostly apply, so every one of them is fully evaluated."""
    rnd = random.Random(seed)
    sets = {
        f"set-{i}": engine.ProductSetSpec(
            code=f"set-{i}",
            categories=frozenset(rnd.sample(CATEGORIES, 3)),
            skus=frozenset(f"SKU-{rnd.randrange(500)}" for _ in range(5)),
            exclude_skus=frozenset({f"SKU-{rnd.randrange(500)}"}),
        )
        for i in range(20)
    }
    specs = []
    for i in range(rules):
        kind = KINDS[i % len(KINDS)]
        params: dict = {
            "multiplier": {"factor": Decimal(rnd.choice(["1.5", "2", "3"]))},
            "fixed_per_item": {"points": Decimal(rnd.randrange(1, 20))},
            "threshold": {"min_amount": Decimal(rnd.randrange(100, 5000)), "points": Decimal(50)},
            "nth_purchase": {"every": rnd.choice([1, 2, 5]), "points": Decimal(30)},
            "first_purchase": {"points": Decimal(100)},
            "event": {"event": "review", "points": Decimal(50)},
        }[kind]
        specs.append(
            engine.RuleSpec(
                code=f"rule-{i:03d}",
                kind=kind,
                priority=rnd.randrange(10),
                exclusive=rnd.random() < 0.05,
                valid_from=datetime(2026, 1, 1, tzinfo=UTC),
                valid_until=datetime(2027, 1, 1, tzinfo=UTC),
                days_of_week=(6, 7) if rnd.random() < 0.3 else (),
                hours=((dtime(8), dtime(22)),) if rnd.random() < 0.3 else (),
                outlets=("msk-1", "msk-2") if rnd.random() < 0.3 else (),
                channels=("offline",) if rnd.random() < 0.2 else (),
                tiers=("base", "silver") if rnd.random() < 0.2 else (),
                segments=("regular",) if rnd.random() < 0.2 else (),
                include=tuple(rnd.sample(sorted(sets), 2)) if rnd.random() < 0.6 else (),
                exclude=(rnd.choice(sorted(sets)),) if rnd.random() < 0.3 else (),
                min_order_amount=Decimal(100) if rnd.random() < 0.3 else None,
                budget_left=Decimal(rnd.randrange(100, 100_000)) if rnd.random() < 0.3 else None,
                campaign=f"camp-{i % 5}" if rnd.random() < 0.2 else None,
                limit_per_customer=10 if rnd.random() < 0.1 else None,
                **params,
            )
        )
    return engine.ProgramSpec(
        code="bench",
        timezone="Europe/Moscow",
        precision=0,
        rounding="down",
        point_value=Decimal("1.00"),
        lifetime_days=365,
        accrual_exclude=("set-19",),
        redemption=engine.RedemptionSpec(
            max_share=Decimal("0.30"), exclude=("set-18",), earn_on_redeemed=False
        ),
        product_sets=sets,
        tiers=(
            engine.TierSpec(code="base", rank=0, earn_percent=Decimal(5)),
            engine.TierSpec(
                code="silver", rank=1, threshold=Decimal(10000), earn_percent=Decimal(10)
            ),
        ),
        rules=tuple(specs),
    )


def build_check(*, lines: int, seed: int) -> engine.CheckInput:
    rnd = random.Random(seed + 1)
    basket = []
    for i in range(lines):
        quantity = Decimal(rnd.randrange(1, 4))
        price = Decimal(rnd.randrange(5000, 150_000)) / 100
        basket.append(
            engine.LineInput(
                sku=f"SKU-{rnd.randrange(500)}",
                category=rnd.choice(CATEGORIES),
                name=f"Item {i}",
                quantity=quantity,
                price=price,
                amount=quantity * price,
                is_promo=rnd.random() < 0.1,
            )
        )
    return engine.CheckInput(
        lines=tuple(basket), now=NOW, outlet="msk-1", channel="offline", redeem="max"
    )


class Command(BaseCommand):
    help = "Time the check engine (50 lines × 100 rules); optionally chain the other benchmarks."

    def add_arguments(self, parser):
        parser.add_argument("--runs", type=int, default=2000, help="timed calculations")
        parser.add_argument("--lines", type=int, default=50, help="lines in the basket")
        parser.add_argument("--rules", type=int, default=100, help="active rules")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--expiry", action="store_true", help="then run benchmark_expiry")
        parser.add_argument("--expiry-lots", type=int, default=100_000)
        parser.add_argument("--segments", action="store_true", help="then run benchmark_segments")
        parser.add_argument("--segment-customers", type=int, default=100_000)

    def handle(self, *args, **options):
        runs, lines, rules = options["runs"], options["lines"], options["rules"]
        if runs < 20 or lines < 1 or rules < 0:
            raise CommandError("--runs must be at least 20, --lines at least 1, --rules ≥ 0.")
        spec = build_spec(rules=rules, seed=options["seed"])
        check = build_check(lines=lines, seed=options["seed"])
        state = engine.CustomerState(
            tier_code="base",
            available=Decimal(100_000),
            purchases_count=4,
            segments=frozenset({"regular"}),
        )
        for _ in range(max(20, runs // 10)):  # warm-up
            result = engine.calculate(spec, state, check)
        samples = []
        for _ in range(runs):
            started = time.perf_counter_ns()
            engine.calculate(spec, state, check)
            samples.append((time.perf_counter_ns() - started) / 1e6)
        p95 = statistics.quantiles(samples, n=20)[-1]
        self.stdout.write(
            f"engine: {lines} lines × {rules} rules ({len(result.breakdown)} breakdown rows, "
            f"{result.earned_points} points earned, {result.redeemed_points} redeemed), "
            f"{runs} runs"
        )
        self.stdout.write(
            f"  median {statistics.median(samples):.2f} ms · p95 {p95:.2f} ms · "
            f"mean {statistics.fmean(samples):.2f} ms · min {min(samples):.2f} ms"
        )
        if options["expiry"]:
            call_command("benchmark_expiry", lots=options["expiry_lots"], stdout=self.stdout)
        if options["segments"]:
            call_command(
                "benchmark_segments", customers=options["segment_customers"], stdout=self.stdout
            )
