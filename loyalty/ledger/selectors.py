"""Reads of the ledger shared by the API, the cabinet, the admin and reports."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from django.db.models import Min, Q, Sum
from django.db.models.functions import Coalesce

from loyalty.ledger.models import Account, Lot, LotKind

ZERO = Decimal("0")


@dataclass(frozen=True)
class Balance:
    available: Decimal
    pending: Decimal
    held: Decimal = ZERO  # held by reserved checks (two-phase payment); not in the API's body

    @property
    def total(self) -> Decimal:
        return self.available + self.pending + self.held


class LotsBalance(NamedTuple):
    available: Decimal
    pending: Decimal
    release: datetime | None  # the next moment a pending lot matures or a hold ends
    held: Decimal


def lots_balance(*, account_ids, now: datetime) -> dict[int, LotsBalance]:
    """(available, pending, next release, held) per account, computed from lots in one query.

    A lot is available once its ``available_at`` has passed. Before that an earned lot is
    pending and a hold lot (kind ``hold``, ``available_at`` = the end of its reservation) is
    held: a reservation neither confirmed nor cancelled is released by time alone.
    """
    future = Q(available_at__gt=now)
    hold = Q(kind=LotKind.HOLD)
    rows = (
        Lot.objects.filter(account_id__in=account_ids)
        .exclude(remaining=0)
        .values("account_id")
        .annotate(
            available=Coalesce(Sum("remaining", filter=Q(available_at__lte=now)), ZERO),
            pending=Coalesce(Sum("remaining", filter=future & ~hold), ZERO),
            held=Coalesce(Sum("remaining", filter=future & hold), ZERO),
            release=Min("available_at", filter=future),
        )
        .order_by("account_id")
    )
    result = {account_id: LotsBalance(ZERO, ZERO, None, ZERO) for account_id in account_ids}
    for row in rows:
        result[row["account_id"]] = LotsBalance(
            row["available"], row["pending"], row["release"], row["held"]
        )
    return result


def account_balance(account: Account, *, now: datetime) -> Balance:
    """The balance at ``now``: the cached one, unless a pending lot has matured since.

    Pending points become available by time alone, and so do the points of a reservation
    whose time is up; the cache records when the next of them matures
    (``pending_release_at``), and only after that moment is the split recomputed (one query).
    """
    if account.pending_release_at is None or now < account.pending_release_at:
        return Balance(available=account.available, pending=account.pending, held=account.held)
    split = lots_balance(account_ids=[account.pk], now=now)[account.pk]
    return Balance(available=split.available, pending=split.pending, held=split.held)


def expiring_lots(account: Account, *, now: datetime, limit: int = 3) -> list[Lot]:
    """The next lots to expire (remaining > 0), soonest first."""
    return list(
        Lot.objects.filter(account=account, remaining__gt=0, expires_at__gt=now).order_by(
            "expires_at", "id"
        )[:limit]
    )


@dataclass(frozen=True)
class ExpiringPoints:
    account_id: int
    customer_id: int
    items: tuple[tuple[datetime, Decimal], ...]  # (expires_at, points), soonest first

    @property
    def total(self) -> Decimal:
        return sum((points for _, points in self.items), ZERO)


def expiring_points(
    *,
    program_id: int,
    windows: Iterable[tuple[datetime, datetime]],
    after_account_id: int = 0,
    limit: int = 1000,
) -> list[ExpiringPoints]:
    """Accounts of a programme with points expiring inside any of ``windows`` [start, end).

    Per account the lots (remaining > 0) grouped by expiry instant; keyset-paged by account id
    (pass the last ``account_id`` as ``after_account_id``).
    """
    in_window = Q()
    for start, end in windows:
        in_window |= Q(expires_at__gte=start, expires_at__lt=end)
    lots = Lot.objects.filter(
        in_window,
        account__program_id=program_id,
        remaining__gt=0,
        account_id__gt=after_account_id,
    )
    account_ids = list(
        lots.order_by("account_id").values_list("account_id", flat=True).distinct()[:limit]
    )
    if not account_ids:
        return []
    per_account: dict[int, dict[datetime, Decimal]] = defaultdict(dict)
    for account_id, expires_at, total in (
        lots.filter(account_id__in=account_ids)
        .values("account_id", "expires_at")
        .annotate(total=Sum("remaining"))
        .order_by("account_id", "expires_at")
        .values_list("account_id", "expires_at", "total")
    ):
        per_account[account_id][expires_at] = total
    customers = dict(
        Account.objects.filter(pk__in=account_ids).values_list("pk", "customer_id").order_by()
    )
    return [
        ExpiringPoints(
            account_id=account_id,
            customer_id=customers[account_id],
            items=tuple(sorted(per_account[account_id].items())),
        )
        for account_id in account_ids
    ]
