"""Rewards and coupons in a period: extra figures beside the KPIs of docs/reports.md.

The KPI contract defines no key for them, so ``program_kpis`` and ``report_kpis`` are
unchanged: these figures are their own selector, shown in the dashboard's "Rewards and coupons"
section (CSV and XLSX like every table). Points a claim burns
are ``redeemed`` entries, so ``points.redeemed`` already counts them; ``points_spent`` here
says how much of that went on rewards.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce

from loyalty.ledger.models import Check, CheckStatus, Coupon, Operation, OperationKind
from loyalty.rules.models import Program
from reports.periods import Period, day_start, money, points

ZERO = Decimal("0")


def _bounds(program: Program, period: Period) -> tuple[datetime, datetime]:
    return day_start(program, period.first), day_start(program, period.last + timedelta(days=1))


def rewards_kpis(*, program: Program, period: Period) -> dict:
    """Coupons claimed and used, points spent on rewards and money taken off by coupons, in
    the programme's local days of ``period``; and the same per reward. Four queries.

    * ``claimed``: coupons issued (claims) in the period; ``points_spent``: their points;
    * ``used``: coupons used in the period, at the till or (gifts) handed out by staff; a
      coupon a cancel gave back is not counted;
    * ``coupon_discount``: money off by coupons on the period's checks, cancelled ones
      excluded.
    """
    start, end = _bounds(program, period)
    claims = Operation.objects.filter(
        program=program, kind=OperationKind.REWARD, occurred_at__gte=start, occurred_at__lt=end
    )
    spent = -(claims.aggregate(s=Coalesce(Sum("points"), ZERO))["s"])
    claimed_rows = (
        Coupon.objects.filter(program=program, created_at__gte=start, created_at__lt=end)
        .values("reward__code")
        .annotate(n=Count("id"), spent=Coalesce(Sum("points_cost"), ZERO))
        .order_by("reward__code")
    )
    used_rows = (
        Coupon.objects.filter(program=program, used_at__gte=start, used_at__lt=end)
        .values("reward__code")
        .annotate(n=Count("id"), at_till=Count("id", filter=Q(used_check__isnull=False)))
        .order_by("reward__code")
    )
    discount = (
        Check.objects.filter(program=program, occurred_at__gte=start, occurred_at__lt=end)
        .exclude(status=CheckStatus.CANCELLED)
        .aggregate(s=Coalesce(Sum("coupon_discount"), ZERO))["s"]
    )
    by_reward: dict[str, dict] = {}
    for row in claimed_rows:
        item = by_reward.setdefault(row["reward__code"], _empty(program))
        item["claimed"] = row["n"]
        item["points_spent"] = points(program, row["spent"])
    for row in used_rows:
        item = by_reward.setdefault(row["reward__code"], _empty(program))
        item["used"] = row["n"]
        item["used_at_till"] = row["at_till"]
    return {
        "program": program.code,
        "from": period.first,
        "to": period.last,
        "claimed": sum(item["claimed"] for item in by_reward.values()),
        "used": sum(item["used"] for item in by_reward.values()),
        "points_spent": points(program, spent),
        "coupon_discount": money(discount),
        "by_reward": dict(sorted(by_reward.items())),
    }


def _empty(program: Program) -> dict:
    return {"claimed": 0, "used": 0, "used_at_till": 0, "points_spent": points(program, ZERO)}
