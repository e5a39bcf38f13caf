"""Reconciliation: the ledger invariants (DESIGN "The ledger"), checked. Reads only."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, F, Q, Sum

from loyalty.ledger.models import (
    Account,
    CheckStatus,
    Entry,
    EntryKind,
    Lot,
    LotKind,
    Operation,
    OperationKind,
)
from loyalty.ledger.selectors import Balance

ZERO = Decimal("0")


@dataclass(frozen=True)
class Discrepancy:
    account_id: int
    invariant: int
    detail: str

    def __str__(self) -> str:
        return f"account {self.account_id}: invariant {self.invariant}: {self.detail}"


_OUTGOING = {
    EntryKind.REDEEM,
    EntryKind.EXPIRE,
    EntryKind.CLAWBACK,
    EntryKind.ADJUST,
    EntryKind.REPAY,
    EntryKind.HOLD,  # into a hold lot of a reserved check
    EntryKind.RELEASE,  # back from a hold lot to its source
}


def ledger_reconcile(
    *, now: datetime, account_ids: Iterable[int] | None = None, chunk_size: int = 2000
) -> list[Discrepancy]:
    """Check the ledger invariants for some accounts (all by default). Reads only.

    1. cached available + pending == Σ entries == Σ lot.remaining, and the split by time.
       The stored cache is checked as of the last instant it is valid for: ``now``, or just
       before ``pending_release_at`` when that has passed (nothing changes by time alone
       between the write and that moment, so the lots must split there exactly as stored).
       Points in lots past their expiry that the job has not zeroed yet count in no balance
       but are still in the entries and the lots (the job writes their entries), so they
       are added to the cached side: ``available + pending + awaiting expiry``;
    2. only debt lots are negative, only where the programme allows, and never beside
       positive lots (credits repay debt first);
    3. at most one purchase operation per check (idempotency keys are unique in the schema);
    4. every lot: its first movement equals its amount and the rest only redeem, expire,
       claw back, adjust or repay it; Σ of its entries == remaining;
    5. every operation moves only its own account's lots (entry, lot and operation name the
       same account): an operation serialises on one account lock, so a movement across
       accounts would be a write no lock protected.

    Holds of two-phase payments (docs/adr/0007-two-phase-payment.md) are checked too: the
    cached ``held`` is what hold lots hold until their reservation ends (1); held points are
    spent only by their own check's confirmation while held, never by another check (2);
    an open reservation holds exactly its redeemed points, and no hold outlives its
    reservation's check (4).
    """
    accounts = Account.objects.select_related("program").order_by("pk")
    if account_ids is not None:
        accounts = accounts.filter(pk__in=list(account_ids))
    found: list[Discrepancy] = []
    last = 0
    while True:
        chunk = list(accounts.filter(pk__gt=last)[:chunk_size])
        if not chunk:
            return found
        last = chunk[-1].pk
        ids = [a.pk for a in chunk]
        entry_sums = dict(
            Entry.objects.filter(account_id__in=ids)
            .values("account_id")
            .annotate(s=Sum("amount"))
            .values_list("account_id", "s")
            .order_by()
        )
        lot_rows = defaultdict(list)
        for row in Lot.objects.filter(account_id__in=ids).values(
            "id", "account_id", "kind", "amount", "remaining", "available_at", "expires_at"
        ):
            lot_rows[row["account_id"]].append(row)
        per_lot = defaultdict(list)
        for lot_id, kind, amount in (
            Entry.objects.filter(account_id__in=ids)
            .order_by("lot_id", "id")
            .values_list("lot_id", "kind", "amount")
        ):
            per_lot[lot_id].append((kind, amount))
        double = (
            Operation.objects.filter(account_id__in=ids, kind=OperationKind.CHECK)
            .values("account_id", "check_obj_id")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .order_by()
        )
        for row in double:
            found.append(
                Discrepancy(row["account_id"], 3, f"check {row['check_obj_id']} committed twice")
            )
        crossing = (
            Entry.objects.filter(account_id__in=ids)
            .filter(~Q(lot__account_id=F("account_id")) | ~Q(operation__account_id=F("account_id")))
            .order_by("id")
            .values_list("account_id", "id", "operation_id")
        )
        for account_id, entry_id, operation_id in crossing:
            found.append(
                Discrepancy(
                    account_id,
                    5,
                    f"entry {entry_id} of operation {operation_id} moves another account's lot",
                )
            )
        for account_id, lot_id in (
            Lot.objects.filter(account_id__in=ids)
            .exclude(operation__account_id=F("account_id"))
            .order_by("id")
            .values_list("account_id", "id")
        ):
            found.append(
                Discrepancy(
                    account_id, 5, f"lot {lot_id} was created by another account's operation"
                )
            )
        found.extend(_reconcile_holds(ids, now=now))
        for account in chunk:
            found.extend(_reconcile_account(account, entry_sums, lot_rows, per_lot, now))


def _pts(value) -> str:
    """Points the same way whatever the database returned (SQLite sums drop the scale)."""
    return f"{Decimal(value):.2f}"


@dataclass(frozen=True)
class _AsOf:
    available: Decimal
    pending: Decimal
    awaiting: Decimal  # positive lots past their expiry, not zeroed by the job yet
    held: Decimal = ZERO  # hold lots of a reservation still standing at that instant


def _split_as_of_cache(account, lots, now: datetime) -> _AsOf:
    """The lots' split at the last instant the stored cache is valid for (see invariant 1):
    ``now``, or the instant just before ``pending_release_at`` once that has passed."""
    release = account.pending_release_at
    if release is not None and release <= now:

        def reached(moment):  # moment <= release - ε
            return moment < release
    else:

        def reached(moment):
            return moment <= now

    available = pending = awaiting = held = ZERO
    for r in lots:
        standing_hold = r["kind"] == LotKind.HOLD and not reached(r["available_at"])
        if standing_hold:
            held += r["remaining"]  # held while its reservation stands, past expiry or not
        elif r["remaining"] > 0 and r["expires_at"] is not None and reached(r["expires_at"]):
            awaiting += r["remaining"]
        elif reached(r["available_at"]):
            available += r["remaining"]
        else:
            pending += r["remaining"]
    return _AsOf(available, pending, awaiting, held)


def _reconcile_account(account, entry_sums, lot_rows, per_lot, now) -> list[Discrepancy]:
    out = []
    pk = account.pk
    stored = Balance(available=account.available, pending=account.pending, held=account.held)
    total_entries = entry_sums.get(pk) or ZERO
    total_lots = sum((r["remaining"] for r in lot_rows[pk]), ZERO)
    as_of = _split_as_of_cache(account, lot_rows[pk], now)
    if not (stored.total + as_of.awaiting == total_entries == total_lots):
        out.append(
            Discrepancy(
                pk,
                1,
                f"cached {_pts(stored.total)}"
                + (f" + awaiting expiry {_pts(as_of.awaiting)}" if as_of.awaiting else "")
                + f" vs entries {_pts(total_entries)} vs lots {_pts(total_lots)}",
            )
        )
    if (stored.available, stored.pending) != (as_of.available, as_of.pending):
        out.append(
            Discrepancy(
                pk,
                1,
                f"cached split {_pts(stored.available)}/{_pts(stored.pending)}"
                f" vs lots {_pts(as_of.available)}/{_pts(as_of.pending)}",
            )
        )
    if stored.held != as_of.held:
        out.append(
            Discrepancy(pk, 1, f"cached held {_pts(stored.held)} vs hold lots {_pts(as_of.held)}")
        )
    debts = [r for r in lot_rows[pk] if r["remaining"] < 0]
    if debts:
        if any(r["kind"] != LotKind.DEBT for r in debts):
            out.append(Discrepancy(pk, 2, "a non-debt lot is negative"))
        if not account.program.allow_negative_after_refund:
            out.append(Discrepancy(pk, 2, "debt in a programme that forbids negative balances"))
        if any(r["remaining"] > 0 for r in lot_rows[pk]):
            out.append(Discrepancy(pk, 2, "debt left unpaid beside positive lots"))
    for r in lot_rows[pk]:
        moves = per_lot.get(r["id"], [])
        if not moves or moves[0][1] != r["amount"]:
            out.append(Discrepancy(pk, 4, f"lot {r['id']}: first movement is not its amount"))
            continue
        if sum((m[1] for m in moves), ZERO) != r["remaining"]:
            out.append(Discrepancy(pk, 4, f"lot {r['id']}: entries do not sum to remaining"))
        if r["kind"] != LotKind.DEBT:
            bad = [k for k, amt in moves[1:] if amt < 0 and k not in _OUTGOING]
            if bad:
                out.append(Discrepancy(pk, 4, f"lot {r['id']}: unexplained outflow {bad}"))
    return out


def _reconcile_holds(ids: list[int], *, now: datetime) -> list[Discrepancy]:
    """The holds of two-phase payments among the accounts ``ids`` (two reads)."""
    out: list[Discrepancy] = []
    holds = list(
        Lot.objects.filter(account_id__in=ids, kind=LotKind.HOLD)
        .order_by("id")
        .values_list(
            "id",
            "account_id",
            "remaining",
            "available_at",
            "operation__check_obj_id",
            "operation__check_obj__status",
            "operation__check_obj__redeemed_points",
        )
    )
    if not holds:
        return out
    by_lot = {row[0]: row for row in holds}
    held_by_check: dict[int, tuple[int, Decimal, Decimal]] = {}
    for lot_id, account_id, remaining, until, check_id, check_status, redeemed in holds:
        if check_id is None:
            out.append(Discrepancy(account_id, 4, f"hold lot {lot_id} belongs to no check"))
            continue
        if remaining > 0 and until > now and check_status != CheckStatus.RESERVED:
            out.append(
                Discrepancy(
                    account_id,
                    4,
                    f"hold lot {lot_id} still holds {_pts(remaining)} for a {check_status} check",
                )
            )
        if until > now and check_status == CheckStatus.RESERVED:
            _, total, _ = held_by_check.get(check_id, (account_id, ZERO, redeemed))
            held_by_check[check_id] = (account_id, total + remaining, redeemed)
    for check_id, (account_id, total, redeemed) in sorted(held_by_check.items()):
        if total != redeemed:
            out.append(
                Discrepancy(
                    account_id,
                    4,
                    f"reserved check {check_id} holds {_pts(total)}, redeems {_pts(redeemed)}",
                )
            )
    for entry_id, lot_id, check_id, created_at in (
        Entry.objects.filter(lot_id__in=list(by_lot), kind=EntryKind.REDEEM)
        .order_by("id")
        .values_list("id", "lot_id", "operation__check_obj_id", "created_at")
    ):
        _, account_id, _, until, own_check, _, _ = by_lot[lot_id]
        if check_id != own_check and created_at < until:
            out.append(
                Discrepancy(
                    account_id,
                    2,
                    f"entry {entry_id} spends points hold lot {lot_id} held for another check",
                )
            )
    return out
