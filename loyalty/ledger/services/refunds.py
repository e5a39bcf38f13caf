"""Refunds and cancellations of a committed check.

A refund returns some goods (several partial refunds may follow one another); a cancellation
voids what is left of the check. Both are the same reversal — give back the redeemed points
that paid for the goods, claw back what they earned, rule by rule — written by
``_reverse``; they differ in what they record about the check afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Sum

from core import errors
from core.money import floor_money, floor_points
from loyalty.ledger import signals
from loyalty.ledger.models import (
    Account,
    Check,
    CheckLine,
    CheckStatus,
    Entry,
    EntryKind,
    Lot,
    LotKind,
    Operation,
    OperationKind,
    Refund,
)
from loyalty.ledger.services import movements
from loyalty.ledger.services.accounts import account_lock
from loyalty.ledger.services.checks import release_awards
from loyalty.ledger.services.coupons import coupons_release
from loyalty.ledger.services.reservations import reservation_cancel
from loyalty.rules.models import Program

ZERO = Decimal("0")


# A reserved check (or one whose reservation lapsed) has not been paid: nothing to refund.
_NOT_COMPLETED = (CheckStatus.RESERVED, CheckStatus.RESERVATION_EXPIRED)


def _lock_check(check_id: int) -> Check:
    return Check.objects.select_for_update().get(pk=check_id)


def _cumulative_share(
    program: Program, total: Decimal, done: Decimal, quantity: Decimal
) -> Decimal:
    """The part of ``total`` that belongs to ``done`` of ``quantity`` units, rounded down.

    Taking cumulative shares (and subtracting what earlier refunds took) makes a sequence of
    partial refunds add up exactly to the full amount when the last unit is returned.
    """
    if done >= quantity:
        return total
    return floor_points(total * done / quantity, program)


def _cumulative_money(total: Decimal, done: Decimal, quantity: Decimal) -> Decimal:
    if done >= quantity:
        return total
    return floor_money(total * done / quantity)


@dataclass(frozen=True)
class _ReturnPlan:
    amount: Decimal  # money returned to the customer (paid part of the returned goods)
    claw_by_rule: dict[str, Decimal]
    restore: Decimal
    new_refunded: dict[int, Decimal]  # line pk → refunded quantity after this refund


def _plan_return(program: Program, lines: Sequence[CheckLine], quantities: dict[int, Decimal]):
    amount = restore = ZERO
    claw: dict[str, Decimal] = {}
    new_refunded = {}
    for line in lines:
        qty = quantities.get(line.index, ZERO)
        if qty == 0:
            continue
        before, after = line.refunded_quantity, line.refunded_quantity + qty
        new_refunded[line.pk] = after
        paid = line.amount - line.coupon_discount - line.discount  # what the customer paid
        amount += _cumulative_money(paid, after, line.quantity) - _cumulative_money(
            paid, before, line.quantity
        )
        restore += _cumulative_share(program, line.redeemed_points, after, line.quantity)
        restore -= _cumulative_share(program, line.redeemed_points, before, line.quantity)
        for rule_code, raw in line.rule_points.items():
            pts = Decimal(raw)
            part = _cumulative_share(program, pts, after, line.quantity) - _cumulative_share(
                program, pts, before, line.quantity
            )
            if part:
                claw[rule_code] = claw.get(rule_code, ZERO) + part
    return _ReturnPlan(amount=amount, claw_by_rule=claw, restore=restore, new_refunded=new_refunded)


def _restore_redeemed(mv: movements.Movements, account: Account, check: Check, *, amount, now):
    """Give back ``amount`` redeemed points as new lots keeping each source lot's expiry.

    Sources are the lots the check burnt, in the order it burnt them; what earlier refunds of
    this check restored from a source is not restored again. A source whose expiry has passed
    gives a lot with the programme's lifetime from now.
    """
    program = account.program
    burnt = (
        Entry.objects.filter(operation__check_obj=check, operation__kind=OperationKind.CHECK)
        .filter(kind=EntryKind.REDEEM)
        .select_related("lot")
        .order_by("id")
    )
    restored = dict(
        Lot.objects.filter(operation__check_obj=check, kind=LotKind.RESTORE)
        .values("restored_from")
        .annotate(total=Sum("amount"))
        .values_list("restored_from", "total")
    )
    left = amount
    for entry in burnt:
        if left == 0:
            break
        source = entry.lot
        room = -entry.amount - restored.get(source.pk, ZERO)
        take = min(room, left)
        if take <= 0:
            continue
        restored[source.pk] = restored.get(source.pk, ZERO) + take
        expires = source.expires_at
        if expires is not None and expires <= now:
            expires = movements.lot_expiry(program, now, None)
        movements.credit(
            mv,
            account,
            amount=take,
            kind=LotKind.RESTORE,
            available_at=now,
            expires_at=expires,
            rule_code=source.rule_code,
            restored_from=source,
        )
        left -= take


def _claw_back(mv: movements.Movements, account: Account, check: Check, claw_by_rule, *, now):
    """Take back earned points rule by rule, from that rule's lot of this check first."""
    own = {
        lot.rule_code: lot
        for lot in Lot.objects.filter(
            operation__check_obj=check, operation__kind=OperationKind.CHECK, kind=LotKind.EARN
        )
    }
    clawed = forgiven = ZERO
    for rule_code in sorted(claw_by_rule):
        first = [mv.touched.get(own[rule_code].pk, own[rule_code])] if rule_code in own else []
        taken, lost = movements.take_back(
            mv, account, amount=claw_by_rule[rule_code], now=now, first=first
        )
        clawed += taken
        forgiven += lost
    return clawed, forgiven


def _lock(check: Check, *, source: str, idempotency_key: str):
    """Lock the account, then the check; (account, check, the replayed operation or None).

    Raises CheckAlreadyCancelled (not for a replay).
    """
    account = account_lock(check.account_id)
    check = _lock_check(check.pk)
    op = movements.operation_replay(
        program=account.program, source=source, idempotency_key=idempotency_key
    )
    if op is None and check.status == CheckStatus.CANCELLED:
        raise errors.CheckAlreadyCancelled()
    return account, check, op


@dataclass(frozen=True)
class _Reversal:
    movements: movements.Movements
    plan: _ReturnPlan
    clawed: Decimal
    forgiven: Decimal

    @property
    def operation(self) -> Operation:
        return self.movements.operation


def _reverse(
    account: Account,
    check: Check,
    lines: Sequence[CheckLine],
    quantities: dict[int, Decimal],
    *,
    kind: str,
    description: str,
    source: str,
    idempotency_key: str,
    now: datetime,
) -> _Reversal:
    """The movements of returning ``quantities`` of ``lines``: redeemed points given back,
    earned ones clawed back (not yet flushed: the caller finishes them)."""
    plan = _plan_return(account.program, lines, quantities)
    op = movements.operation_new(
        account,
        kind=kind,
        source=source,
        key=idempotency_key,
        now=now,
        check_obj=check,
        description=description,
    )
    mv = movements.Movements(op)
    _restore_redeemed(mv, account, check, amount=plan.restore, now=now)
    clawed, forgiven = _claw_back(mv, account, check, plan.claw_by_rule, now=now)
    return _Reversal(movements=mv, plan=plan, clawed=clawed, forgiven=forgiven)


def _refund_quantities(check_lines, lines, *, full: bool) -> dict[int, Decimal]:
    """What this refund returns per line index; raises ValidationFailed, RefundExceedsCheck."""
    by_index = {line.index: line for line in check_lines}
    if full:
        quantities = {line.index: line.quantity - line.refunded_quantity for line in check_lines}
    else:
        quantities = {}
        for position, (index, qty) in enumerate(lines or []):
            if index not in by_index:
                raise errors.ValidationFailed(
                    fields={f"lines[{position}].index": [f"The check has no line {index}."]}
                )
            if qty <= 0:
                raise errors.ValidationFailed(
                    fields={f"lines[{position}].quantity": ["Must be greater than zero."]}
                )
            quantities[index] = quantities.get(index, ZERO) + qty
        if not quantities:
            raise errors.ValidationFailed(fields={"lines": ["Name at least one line, or full."]})
    for index, qty in quantities.items():
        line = by_index[index]
        if line.refunded_quantity + qty > line.quantity:
            left = line.quantity - line.refunded_quantity
            raise errors.RefundExceedsCheck(
                f"Line {index}: {qty} requested, {left.normalize()} left to refund."
            )
    if not any(quantities.values()):
        raise errors.RefundExceedsCheck("Everything on this check is already refunded.")
    return quantities


@transaction.atomic
def check_refund(
    *,
    check: Check,
    lines: Sequence[tuple[int, Decimal]] | None = None,
    full: bool = False,
    source: str,
    idempotency_key: str,
    now: datetime,
) -> Refund:
    """Return goods of a check: claw back what they earned, give back what paid for them.

    ``lines`` are (line index, quantity) pairs; ``full`` returns everything not yet returned.
    Several partial refunds may follow one another; together they never exceed the check.
    Raises CheckAlreadyCancelled, RefundExceedsCheck, ValidationFailed. Sends
    ``check_refunded`` inside the transaction after the movements (not for a replay).
    """
    if check.account_id is None:
        raise errors.ValidationFailed("An anonymous check has no points to refund.")
    account, check, op = _lock(check, source=source, idempotency_key=idempotency_key)
    if op is not None:
        return op.refund
    if check.status in _NOT_COMPLETED:
        raise errors.CheckNotCompleted()
    check_lines = list(check.lines.order_by("index"))
    quantities = _refund_quantities(check_lines, lines, full=full)
    done = _reverse(
        account,
        check,
        check_lines,
        quantities,
        kind=OperationKind.REFUND,
        description=f"Refund of check {check.receipt_number}",
        source=source,
        idempotency_key=idempotency_key,
        now=now,
    )
    op, plan = done.operation, done.plan
    if done.forgiven:
        op.meta = {"forgiven": str(done.forgiven)}
        Operation.objects.filter(pk=op.pk).update(meta=op.meta)
    for line in check_lines:
        if line.pk in plan.new_refunded:
            line.refunded_quantity = plan.new_refunded[line.pk]
    CheckLine.objects.bulk_update(
        [line for line in check_lines if line.pk in plan.new_refunded], ["refunded_quantity"]
    )
    fully = all(line.refunded_quantity == line.quantity for line in check_lines)
    status = CheckStatus.REFUNDED if fully else CheckStatus.PARTIALLY_REFUNDED
    Check.objects.filter(pk=check.pk).update(
        status=status, refunded_amount=F("refunded_amount") + plan.amount
    )
    Account.objects.filter(pk=account.pk).update(lifetime_spend=F("lifetime_spend") - plan.amount)
    movements.finish(done.movements, account, now=now)
    refund = Refund.objects.create(
        check_obj=check,
        operation=op,
        lines=[{"index": i, "quantity": str(q)} for i, q in sorted(quantities.items()) if q],
        amount=plan.amount,
        clawed_back_points=done.clawed,
        restored_points=plan.restore,
    )
    # The check row is locked: its state is what was read plus what was just written.
    check.status = status
    check.refunded_amount += plan.amount
    signals.check_refunded.send(sender=Check, account=account, check=check, refund=refund, now=now)
    return refund


@transaction.atomic
def check_cancel(
    *, check: Check, source: str, idempotency_key: str, now: datetime
) -> Operation | None:
    """Void a check (cashier error): reverse everything it still holds, once.

    Earned points not yet refunded are clawed back, redeemed points not yet restored are given
    back, rule awards are cancelled and their budgets released, the visit is uncounted.
    Returns the operation (None for an anonymous check). Raises CheckAlreadyCancelled.
    Sends ``check_cancelled`` inside the transaction after the movements (not for an anonymous
    check, which moved no points, nor for a replay).
    """
    if check.account_id is None:
        check = _lock_check(check.pk)
        if check.status == CheckStatus.CANCELLED:
            raise errors.CheckAlreadyCancelled()
        Check.objects.filter(pk=check.pk).update(status=CheckStatus.CANCELLED)
        coupons_release(check=check, now=now)
        return None
    account, check, op = _lock(check, source=source, idempotency_key=idempotency_key)
    if op is not None:
        return op
    if check.status in _NOT_COMPLETED:
        # A reservation moved no points yet: cancelling it releases its hold.
        # No ``check_cancelled``: the check was never committed, nothing reacted to it.
        return reservation_cancel(
            account, check, source=source, idempotency_key=idempotency_key, now=now
        )
    check_lines = list(check.lines.order_by("index"))
    done = _reverse(
        account,
        check,
        check_lines,
        {line.index: line.quantity - line.refunded_quantity for line in check_lines},
        kind=OperationKind.CANCEL,
        description=f"Cancellation of check {check.receipt_number}",
        source=source,
        idempotency_key=idempotency_key,
        now=now,
    )
    op, plan = done.operation, done.plan
    op.meta = {"clawed_back": str(done.clawed), "restored": str(plan.restore)}
    if done.forgiven:
        op.meta["forgiven"] = str(done.forgiven)
    Operation.objects.filter(pk=op.pk).update(meta=op.meta)
    release_awards(check)
    coupons_release(check=check, now=now)
    CheckLine.objects.filter(check_obj=check).update(refunded_quantity=F("quantity"))
    Check.objects.filter(pk=check.pk).update(
        status=CheckStatus.CANCELLED, refunded_amount=F("refunded_amount") + plan.amount
    )
    Account.objects.filter(pk=account.pk).update(
        lifetime_spend=F("lifetime_spend") - plan.amount,
        lifetime_visits=F("lifetime_visits") - 1,
    )
    op = movements.finish(done.movements, account, now=now)
    check.status = CheckStatus.CANCELLED
    check.refunded_amount += plan.amount
    signals.check_cancelled.send(sender=Check, account=account, check=check, operation=op, now=now)
    return op
