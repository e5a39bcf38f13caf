"""Reads of the ledger shared by the API, the cabinet, the admin and reports."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from django.db.models import F, Min, Q, Sum
from django.db.models.functions import Coalesce

from loyalty.ledger.models import Account, Lot, LotKind, MemberProfile

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
    release: datetime | None  # the next change by time alone (see lots_balance)
    held: Decimal


def live_lots_q(now: datetime) -> Q:
    """Lots that still count at ``now``: debts, holds of a standing reservation, and positive
    lots not yet past their expiry.

    A positive lot whose ``expires_at`` has passed is gone for every reader at once, as a
    pending lot is available at once when its hold ends; the expiry job only writes the
    entries that zero it (``services/expiry.py``). Until then its points are *expired,
    awaiting the job* (``awaiting_expiry``), and count in no balance. A hold lot keeps its
    source's expiry but stays held while its reservation stands (the expiry job leaves it
    alone too); once the reservation's time is up it is an ordinary lot again.
    """
    return (
        Q(remaining__lt=0)
        | Q(expires_at__isnull=True)
        | Q(expires_at__gt=now)
        | Q(kind=LotKind.HOLD, available_at__gt=now)
    )


def lots_balance(*, account_ids, now: datetime) -> dict[int, LotsBalance]:
    """(available, pending, next change, held) per account, computed from lots in one query.

    Only lots that still count at ``now`` (``live_lots_q``) are summed. A lot is available
    once its ``available_at`` has passed. Before that an earned lot is pending and a hold lot
    (kind ``hold``, ``available_at`` = the end of its reservation) is held: a reservation
    neither confirmed nor cancelled is released by time alone. The next change is the first
    moment after ``now`` when the split moves by time alone: a pending lot matures, a hold
    ends or a positive lot expires. It is what ``Account.pending_release_at`` caches.
    """
    live = live_lots_q(now)
    future = Q(available_at__gt=now)
    hold = Q(kind=LotKind.HOLD)
    rows = (
        Lot.objects.filter(account_id__in=account_ids)
        .exclude(remaining=0)
        .values("account_id")
        .annotate(
            available=Coalesce(Sum("remaining", filter=live & Q(available_at__lte=now)), ZERO),
            pending=Coalesce(Sum("remaining", filter=live & future & ~hold), ZERO),
            held=Coalesce(Sum("remaining", filter=live & future & hold), ZERO),
            release=Min("available_at", filter=live & future),
            expiry=Min("expires_at", filter=Q(remaining__gt=0, expires_at__gt=now)),
        )
        .order_by("account_id")
    )
    result = {account_id: LotsBalance(ZERO, ZERO, None, ZERO) for account_id in account_ids}
    for row in rows:
        changes = [t for t in (row["release"], row["expiry"]) if t is not None]
        result[row["account_id"]] = LotsBalance(
            row["available"], row["pending"], min(changes, default=None), row["held"]
        )
    return result


def awaiting_expiry(*, account_ids, now: datetime) -> dict[int, Decimal]:
    """Points per account in lots past their expiry that the expiry job has not zeroed yet."""
    return dict(
        Lot.objects.filter(account_id__in=account_ids, remaining__gt=0, expires_at__lte=now)
        .exclude(kind=LotKind.HOLD, available_at__gt=now)
        .values("account_id")
        .annotate(total=Sum("remaining"))
        .values_list("account_id", "total")
        .order_by()
    )


def expired_outside_cache(*, program_id: int, now: datetime) -> Decimal:
    """Points still in a programme's entries and lots but left out of its accounts' cached
    balances: positive lots past their expiry that the job has not zeroed yet, and that the
    cache had already dropped (expired before the cache's next change, ``pending_release_at``).
    Σ cached balances + this == Σ entries (ledger invariant 1, see ADR 0010)."""
    return (
        Lot.objects.filter(account__program_id=program_id, remaining__gt=0, expires_at__lte=now)
        .exclude(kind=LotKind.HOLD, available_at__gt=now)
        .filter(
            Q(account__pending_release_at__isnull=True)
            | Q(expires_at__lt=F("account__pending_release_at"))
        )
        .aggregate(s=Coalesce(Sum("remaining"), ZERO))["s"]
    )


def account_balance(account: Account, *, now: datetime) -> Balance:
    """The balance at ``now``: the cached one, unless it has changed by time since.

    Pending points become available, the points of a reservation whose time is up are
    released, and positive lots expire, all by time alone; the cache records the next such
    moment (``pending_release_at``), and only after it is the split recomputed from the lots
    (one query).
    """
    if account.pending_release_at is None or now < account.pending_release_at:
        return Balance(available=account.available, pending=account.pending, held=account.held)
    split = lots_balance(account_ids=[account.pk], now=now)[account.pk]
    return Balance(available=split.available, pending=split.pending, held=split.held)


def member_profile(account: Account) -> MemberProfile | None:
    """The account's member profile: the one already loaded with it if any, else read."""
    try:
        return account.profile
    except MemberProfile.DoesNotExist:
        return None


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
