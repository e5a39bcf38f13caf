"""Two-phase payment with points: reserve a check, then confirm it, cancel it, or let it lapse.

``check_reserve`` is ``check_commit`` with ``reserve=True``: the same validation under the
account lock, the same engine run with the budgets it spends locked, and a check recorded as
``reserved`` until ``now + Program.reservation_minutes``. The points to redeem move into hold
lots (``movements.hold_write``): they leave ``available`` at once, so they never pay for a
second check. The rule awards (per-customer limits) and budgets are taken at reservation, so
the confirmation earns exactly what was computed. Nothing is earned and no counter or tier
moves yet.

``check_confirm`` burns the hold lots and earns the stored rows, as a commit would have done
(one ``check`` operation: refunds and cancels of the check work as for any other).
``reservation_cancel`` (reached through ``refunds.check_cancel``) gives the held points back,
and so does ``reservations_release`` for reservations whose time is up. A hold lot's
``available_at`` is the end of its reservation: the balance counts an expired hold as
available again by time alone, before the job writes its release (docs/adr/0007).

Locking order as everywhere: the account, then the check, then the budgeted rules by id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import OuterRef, Subquery

from core import errors
from core.db import step
from loyalty.ledger import signals
from loyalty.ledger.models import (
    Check,
    CheckStatus,
    Operation,
    OperationKind,
)
from loyalty.ledger.selectors import Balance, account_balance, lots_balance
from loyalty.ledger.services import movements
from loyalty.ledger.services.accounts import account_lock
from loyalty.ledger.services.checks import CommittedCheck, check_commit, release_awards
from loyalty.ledger.services.coupons import coupons_release
from loyalty.ledger.services.tiers import account_tier_upgrade
from loyalty.rules import loader
from loyalty.rules.models import Program, Tier

ZERO = Decimal("0")
RELEASE_SOURCE = "job:release"
RELEASE_CHUNK = 200


def program_version_of_account():
    """The programme's configuration version, read in the statement that locks the account."""
    return Subquery(Program.objects.filter(pk=OuterRef("program_id")).values("config_version")[:1])


def check_reserve(**kwargs) -> CommittedCheck:
    """Reserve a check: ``check_commit``'s arguments, and the same errors and replay."""
    return check_commit(**kwargs, reserve=True)


def reservation_open(check: Check, *, now: datetime) -> bool:
    """Whether a reserved check's hold still stands at ``now`` (its time is not up)."""
    return (
        check.status == CheckStatus.RESERVED
        and check.reserved_until is not None
        and now < check.reserved_until
    )


@dataclass(frozen=True)
class ConfirmedCheck:
    check: Check
    balance_after: Balance
    tier: Tier | None  # the tier the check was earned at (None for a replay)
    replayed: bool


@dataclass(frozen=True)
class _Row:
    """A stored breakdown row, as ``movements.check_write`` earns it."""

    rule: str
    points: Decimal
    lifetime_days: int | None


def check_confirm(
    *, check: Check, source: str, idempotency_key: str, now: datetime
) -> ConfirmedCheck:
    """Confirm a reserved check: burn its hold, earn what it computed, count the visit.

    A replay of (source, key), or a confirm of a check that is already completed, returns the
    check unchanged. Raises ReservationExpired (its time is up, or it was released),
    CheckAlreadyCancelled. One transaction (``core.db.step``).
    """
    with step():
        if check.account_id is None:
            return _confirm_anonymous(check, now=now)
        # One statement: the account locked, the programme's version, a replay of this key.
        account = account_lock(
            check.account_id,
            related=("program", "customer"),  # the signal's receivers read the customer
            program_version=program_version_of_account(),
            replay_id=Subquery(
                Operation.objects.filter(
                    program_id=check.program_id, source=source, idempotency_key=idempotency_key
                ).values("pk")[:1]
            ),
        )
        check = Check.objects.select_for_update().get(pk=check.pk)
        if account.replay_id is not None or check.status in (
            CheckStatus.COMPLETED,
            CheckStatus.PARTIALLY_REFUNDED,
            CheckStatus.REFUNDED,
        ):
            if check.status == CheckStatus.CANCELLED:
                raise errors.CheckAlreadyCancelled()
            return ConfirmedCheck(
                check, account_balance(account, now=now), tier=None, replayed=True
            )
        if check.status == CheckStatus.CANCELLED:
            raise errors.CheckAlreadyCancelled()
        if not reservation_open(check, now=now):
            raise errors.ReservationExpired()
        program = account.program
        tiers = loader.program_load(program, version=account.program_version).tiers
        tier_before = next((t for t in tiers if t.pk == account.tier_id), None)
        account.tier = tier_before  # the row just read; saves loading it again
        holds = movements.hold_lots(check.pk)
        held = sum((lot.remaining for lot in holds), ZERO)
        if held != check.redeemed_points:  # hold lots are spent only by this confirmation
            raise errors.ReservationExpired()
        rows = [
            _Row(row["rule"], Decimal(row["points"]), row.get("lifetime_days"))
            for row in check.breakdown
            if Decimal(row["points"]) > 0
        ]
        debts = []
        if rows:
            _, debts = movements.check_lots(account.pk, now=now, redeem=ZERO, debts=True)
        op = movements.operation_new(
            account,
            kind=OperationKind.CHECK,
            source=source,
            key=idempotency_key,
            now=now,
            occurred_at=check.occurred_at,
            check_obj=check,
            description=f"Check {check.receipt_number}",
            points=check.earned_points - check.redeemed_points,
        )
        balance = movements.CheckBalance(
            account.available, account.pending, account.pending_release_at, account.held
        )
        if account.pending_release_at is not None and now >= account.pending_release_at:
            split = lots_balance(account_ids=[account.pk], now=now)[account.pk]
            balance = movements.CheckBalance(
                split.available, split.pending, split.release, split.held
            )
        movements.check_write(
            op,
            account,
            program=program,
            now=now,
            at=check.occurred_at,
            balance=balance,
            burn=[(lot, lot.remaining) for lot in holds],
            earning=rows,
            debts=debts,
            counters=movements.CheckCounters(
                spend=check.payable,
                visits=1,
                earned=check.earned_points,
                last_purchase_at=check.occurred_at,
            ),
            burn_held=True,
        )
        Check.objects.filter(pk=check.pk).update(status=CheckStatus.COMPLETED)
        check.status = CheckStatus.COMPLETED
        account.lifetime_spend += check.payable
        account.lifetime_visits += 1
        account.lifetime_earned += check.earned_points
        account.last_purchase_at = check.occurred_at
        account_tier_upgrade(account, now=now, tiers=tiers)
        signals.check_committed.send(
            sender=Check, account=account, check=check, result=None, now=now
        )
        return ConfirmedCheck(
            check, account_balance(account, now=now), tier=tier_before, replayed=False
        )


def _confirm_anonymous(check: Check, *, now: datetime) -> ConfirmedCheck:
    """An anonymous reservation holds nothing: confirming it only records it as completed."""
    check = Check.objects.select_for_update().get(pk=check.pk)
    empty = Balance(available=ZERO, pending=ZERO)
    if check.status == CheckStatus.CANCELLED:
        raise errors.CheckAlreadyCancelled()
    if check.status != CheckStatus.RESERVED:
        if check.status == CheckStatus.RESERVATION_EXPIRED:
            raise errors.ReservationExpired()
        return ConfirmedCheck(check, empty, tier=None, replayed=True)
    if not reservation_open(check, now=now):
        raise errors.ReservationExpired()
    Check.objects.filter(pk=check.pk).update(status=CheckStatus.COMPLETED)
    check.status = CheckStatus.COMPLETED
    return ConfirmedCheck(check, empty, tier=None, replayed=False)


def reservation_cancel(account, check: Check, *, source: str, idempotency_key: str, now: datetime):
    """Cancel a reserved (or lapsed) check: give back what its hold still holds, release its
    rule awards and budgets, record it as cancelled. The caller holds the account and check
    locks (``refunds.check_cancel``). Returns the operation; its ``meta`` says what was
    released (``restored``)."""
    op = movements.operation_new(
        account,
        kind=OperationKind.RELEASE,
        source=source,
        key=idempotency_key,
        now=now,
        check_obj=check,
        description=f"Cancellation of check {check.receipt_number}",
    )
    released = movements.hold_release(op, account, check.pk, now=now)
    if check.status == CheckStatus.RESERVED:
        release_awards(check)  # a lapsed one gave them back when it was released
        coupons_release(check=check, now=now)
    op.meta = {"clawed_back": "0", "restored": str(released)}
    Operation.objects.filter(pk=op.pk).update(meta=op.meta)
    Check.objects.filter(pk=check.pk).update(status=CheckStatus.CANCELLED)
    check.status = CheckStatus.CANCELLED
    return op


@dataclass(frozen=True)
class ReleaseResult:
    checks: int
    points: Decimal


def reservations_release(*, now: datetime, chunk_size: int = RELEASE_CHUNK) -> ReleaseResult:
    """Write the release of every reservation whose time is up (``reserved_until <= now``).

    Their balances already count the points as available (by time); this gives what each
    hold still holds back to its source lots (entries ``release``), gives back the rule
    awards and budgets, and records the check as ``expired``. One transaction per check,
    under its account lock then its lock, re-checked there: a check confirmed or cancelled
    meanwhile is left alone, and a second run finds nothing to do (idempotent; the
    operation's key is the check's).
    """
    checks, points = 0, ZERO
    last = 0
    while True:
        due = list(
            Check.objects.filter(status=CheckStatus.RESERVED, reserved_until__lte=now, pk__gt=last)
            .order_by("pk")
            .values_list("pk", "account_id")[:chunk_size]
        )
        if not due:
            return ReleaseResult(checks=checks, points=points)
        last = due[-1][0]
        for check_id, account_id in due:
            released = _release_one(check_id, account_id, now=now)
            if released is not None:
                checks += 1
                points += released


@transaction.atomic
def _release_one(check_id: int, account_id: int | None, *, now: datetime) -> Decimal | None:
    if account_id is not None:
        account = account_lock(account_id)
    check = Check.objects.select_for_update().get(pk=check_id)
    if check.status != CheckStatus.RESERVED or check.reserved_until > now:
        return None  # confirmed or cancelled meanwhile
    released = ZERO
    if account_id is not None:
        op = movements.operation_new(
            account,
            kind=OperationKind.RELEASE,
            source=RELEASE_SOURCE,
            key=f"release:{check.pk}",
            now=now,
            check_obj=check,
            description=f"Reservation of check {check.receipt_number} released",
        )
        released = movements.hold_release(op, account, check.pk, now=now)
        release_awards(check)
    coupons_release(check=check, now=now)  # a reserved check's coupons come back (still valid)
    Check.objects.filter(pk=check.pk).update(status=CheckStatus.RESERVATION_EXPIRED)
    return released
