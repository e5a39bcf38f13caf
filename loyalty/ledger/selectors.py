"""Reads of the ledger shared by the API, the cabinet, the admin and reports."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Min, Q, Sum
from django.db.models.functions import Coalesce

from loyalty.ledger.models import Account, Lot

ZERO = Decimal("0")


@dataclass(frozen=True)
class Balance:
    available: Decimal
    pending: Decimal

    @property
    def total(self) -> Decimal:
        return self.available + self.pending


def lots_balance(
    *, account_ids, now: datetime
) -> dict[int, tuple[Decimal, Decimal, datetime | None]]:
    """(available, pending, next release) per account, computed from lots in one query."""
    rows = (
        Lot.objects.filter(account_id__in=account_ids)
        .exclude(remaining=0)
        .values("account_id")
        .annotate(
            available=Coalesce(Sum("remaining", filter=Q(available_at__lte=now)), ZERO),
            pending=Coalesce(Sum("remaining", filter=Q(available_at__gt=now)), ZERO),
            release=Min("available_at", filter=Q(available_at__gt=now)),
        )
        .order_by("account_id")
    )
    result = {account_id: (ZERO, ZERO, None) for account_id in account_ids}
    for row in rows:
        result[row["account_id"]] = (row["available"], row["pending"], row["release"])
    return result


def account_balance(account: Account, *, now: datetime) -> Balance:
    """The balance at ``now``: the cached one, unless a pending lot has matured since.

    Pending points become available by time alone; the cache records when the next pending
    lot matures, and only after that moment is the split recomputed (one query).
    """
    if account.pending_release_at is None or now < account.pending_release_at:
        return Balance(available=account.available, pending=account.pending)
    available, pending, _ = lots_balance(account_ids=[account.pk], now=now)[account.pk]
    return Balance(available=available, pending=pending)


def expiring_lots(account: Account, *, now: datetime, limit: int = 3) -> list[Lot]:
    """The next lots to expire (remaining > 0), soonest first."""
    return list(
        Lot.objects.filter(account=account, remaining__gt=0, expires_at__gt=now).order_by(
            "expires_at", "id"
        )[:limit]
    )
