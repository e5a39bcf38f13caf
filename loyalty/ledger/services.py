"""Ledger services: the only code that moves points.

Every public function here is one transaction that locks the account row first (then the
check, then rule budgets, each by primary key), checks the idempotency key under that lock,
and leaves the account's cached balances equal to the sum of its lots. See models.py for the
invariants and ``ledger_reconcile`` for their check.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from django.db import transaction
from django.db.models import Count, F, Q, Sum

from core import errors
from customers.models import Customer
from loyalty.ledger import signals
from loyalty.ledger.expiry import ExpiryResult, points_expire  # noqa: F401  (re-exported)
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
    RuleAward,
)
from loyalty.ledger.selectors import account_balance, lots_balance
from loyalty.rules.models import Program

ZERO = Decimal("0")
MONEY_QUANTUM = Decimal("0.01")


def points_quantum(program: Program) -> Decimal:
    return Decimal(1).scaleb(-program.precision)


def quantize_points(program: Program, value: Decimal) -> Decimal:
    return value.quantize(points_quantum(program), rounding=ROUND_DOWN)


# --- accounts ---------------------------------------------------------------------------------


def account_open(*, program: Program, customer: Customer, now: datetime, outlet=None) -> Account:
    """The customer's account in the programme, created on first use with the entry tier."""
    account = Account.objects.filter(program=program, customer=customer).first()
    if account is not None:
        return account
    base_tier = program.tiers.order_by("rank", "threshold", "id").first()
    account, _ = Account.objects.get_or_create(
        program=program,
        customer=customer,
        defaults={
            "tier": base_tier,
            "tier_since": now if base_tier else None,
            "enrolled_at": now,
            "enrolled_outlet": outlet,
        },
    )
    return account


def _lock_account(account_id: int) -> Account:
    # of=self: the joined programme row must stay unlocked, or every account of a programme
    # would queue behind every other (DESIGN invariant 5).
    return (
        Account.objects.select_for_update(of=("self",)).select_related("program").get(pk=account_id)
    )


def _refresh_balances(account: Account, *, now: datetime) -> None:
    available, pending, release = lots_balance(account_ids=[account.pk], now=now)[account.pk]
    account.available, account.pending, account.pending_release_at = available, pending, release
    Account.objects.filter(pk=account.pk).update(
        available=available, pending=pending, pending_release_at=release
    )


def _replay(*, program: Program, source: str, idempotency_key: str) -> Operation | None:
    return Operation.objects.filter(
        program=program, source=source, idempotency_key=idempotency_key
    ).first()


def _new_operation(account: Account, *, kind: str, source: str, key: str, now: datetime, **kw):
    return Operation.objects.create(
        program_id=account.program_id,
        account=account,
        kind=kind,
        source=source,
        idempotency_key=key,
        occurred_at=kw.pop("occurred_at", None) or now,
        **kw,
    )


# --- lot movements (account locked by the caller) -----------------------------------------------


@dataclass
class _Movements:
    """Entries and lot changes of one operation, written in bulk at the end."""

    operation: Operation
    entries: list[Entry] = field(default_factory=list)
    touched: dict[int, Lot] = field(default_factory=dict)

    def move(self, lot: Lot, amount: Decimal, kind: str) -> None:
        if amount == 0:
            return
        lot.remaining += amount
        self.touched[lot.pk] = lot
        self.entries.append(
            Entry(
                operation=self.operation,
                account_id=lot.account_id,
                lot=lot,
                kind=kind,
                amount=amount,
            )
        )

    def flush(self) -> Decimal:
        Entry.objects.bulk_create(self.entries)
        if self.touched:
            Lot.objects.bulk_update(list(self.touched.values()), ["remaining"])
        net = sum((e.amount for e in self.entries), ZERO)
        self.entries, self.touched = [], {}
        return net


def _credit(
    mv: _Movements,
    account: Account,
    *,
    amount: Decimal,
    kind: str,
    available_at: datetime,
    expires_at: datetime | None,
    rule_code: str = "",
    restored_from: Lot | None = None,
) -> Lot:
    """Create a lot of ``amount`` points; debt, if any, is repaid from it first."""
    lot = Lot.objects.create(
        account=account,
        operation=mv.operation,
        kind=kind,
        amount=amount,
        remaining=ZERO,
        available_at=available_at,
        expires_at=expires_at,
        rule_code=rule_code,
        restored_from=restored_from,
    )
    entry_kind = {
        LotKind.EARN: EntryKind.EARN,
        LotKind.GRANT: EntryKind.EARN,
        LotKind.RESTORE: EntryKind.RESTORE,
        LotKind.ADJUST: EntryKind.ADJUST,
    }[kind]
    mv.move(lot, amount, entry_kind)
    debts = sorted(
        (lot for lot in _current_lots(mv, account) if lot.kind == LotKind.DEBT), key=lambda x: x.pk
    )
    for debt in debts:
        if lot.remaining == 0:
            break
        repay = min(-debt.remaining, lot.remaining)
        mv.move(lot, -repay, EntryKind.REPAY)
        mv.move(debt, repay, EntryKind.REPAY)
    return lot


def _current_lots(mv: _Movements, account: Account) -> list[Lot]:
    """The account's non-empty lots as this operation sees them (unflushed moves included)."""
    fetched = Lot.objects.filter(account=account).filter(
        ~Q(remaining=0) | Q(pk__in=list(mv.touched))
    )
    return [lot for lot in (mv.touched.get(lot.pk, lot) for lot in fetched) if lot.remaining != 0]


def _open_lots(mv: _Movements, account: Account, *, now: datetime, include_pending: bool):
    lots = [
        lot
        for lot in _current_lots(mv, account)
        if lot.remaining > 0 and (include_pending or lot.available_at <= now)
    ]
    # FIFO: what expires first goes first; never-expiring points last.
    far = datetime.max.replace(tzinfo=now.tzinfo)
    lots.sort(key=lambda lot: (lot.expires_at or far, lot.available_at, lot.pk))
    return lots


def _debit(
    mv: _Movements,
    lots: Iterable[Lot],
    *,
    amount: Decimal,
    kind: str,
) -> Decimal:
    """Burn up to ``amount`` from ``lots`` in the given order; returns what was burnt."""
    left = amount
    for lot in lots:
        if left == 0:
            break
        take = min(lot.remaining, left)
        if take > 0:
            mv.move(lot, -take, kind)
            left -= take
    return amount - left


def _take_back(
    mv: _Movements,
    account: Account,
    *,
    amount: Decimal,
    now: datetime,
    first: Sequence[Lot] = (),
) -> tuple[Decimal, Decimal]:
    """Claw back ``amount``: from ``first`` lots, then any open lot, then as debt if allowed.

    Returns (clawed back, forgiven): what the programme could not take back because it does
    not allow a negative balance is forgiven and recorded on the operation.
    """
    taken = _debit(
        mv, [lot for lot in first if lot.remaining > 0], amount=amount, kind=EntryKind.CLAWBACK
    )
    if taken < amount:
        seen = {lot.pk for lot in first}
        others = [
            lot
            for lot in _open_lots(mv, account, now=now, include_pending=True)
            if lot.pk not in seen
        ]
        taken += _debit(mv, others, amount=amount - taken, kind=EntryKind.CLAWBACK)
    rest = amount - taken
    if rest == 0:
        return amount, ZERO
    if not account.program.allow_negative_after_refund:
        return taken, rest
    debt = Lot.objects.create(
        account=account,
        operation=mv.operation,
        kind=LotKind.DEBT,
        amount=-rest,
        remaining=ZERO,
        available_at=now,
        expires_at=None,
    )
    mv.move(debt, -rest, EntryKind.DEBT)
    return amount, ZERO


def _finish(mv: _Movements, account: Account, *, now: datetime) -> Operation:
    net = mv.flush()
    op = mv.operation
    op.points = net
    Operation.objects.filter(pk=op.pk).update(points=net)
    _refresh_balances(account, now=now)
    return op


def _expires_at(program: Program, now: datetime, lifetime_days: int | None) -> datetime | None:
    days = lifetime_days if lifetime_days is not None else program.lifetime_days
    return now + timedelta(days=days) if days else None


# --- grants, redemption, adjustments --------------------------------------------------------------


@transaction.atomic
def points_grant(
    *,
    account: Account,
    points: Decimal,
    source: str,
    idempotency_key: str,
    now: datetime,
    kind: str = OperationKind.GRANT,
    description: str = "",
    rule=None,
    rule_code: str = "",
    lifetime_days: int | None = None,
    hold_days: int | None = None,
    created_by=None,
    meta: dict | None = None,
) -> Operation:
    """Credit ``points`` as a new lot (bonus, event, campaign). Replays return the first op.

    Raises ValidationFailed for non-positive points or points finer than the precision.
    """
    account = _lock_account(account.pk)
    program = account.program
    if (op := _replay(program=program, source=source, idempotency_key=idempotency_key)) is not None:
        return op
    if points <= 0 or quantize_points(program, points) != points:
        raise errors.ValidationFailed(fields={"points": ["Must be positive, in whole units."]})
    mv = _Movements(
        _new_operation(
            account,
            kind=kind,
            source=source,
            key=idempotency_key,
            now=now,
            description=description,
            created_by=created_by,
            meta=meta or {},
        )
    )
    hold = program.hold_days if hold_days is None else hold_days
    _credit(
        mv,
        account,
        amount=points,
        kind=LotKind.GRANT,
        available_at=now + timedelta(days=hold),
        expires_at=_expires_at(program, now, lifetime_days),
        rule_code=rule_code or (rule.code if rule else ""),
    )
    if rule is not None or rule_code:
        RuleAward.objects.create(
            operation=mv.operation,
            account=account,
            rule=rule,
            rule_code=rule_code or rule.code,
            points=points,
        )
    Account.objects.filter(pk=account.pk).update(lifetime_earned=F("lifetime_earned") + points)
    return _finish(mv, account, now=now)


@transaction.atomic
def points_redeem(
    *,
    account: Account,
    points: Decimal,
    source: str,
    idempotency_key: str,
    now: datetime,
    description: str = "",
    created_by=None,
) -> Operation:
    """Burn ``points`` of available lots, FIFO by expiry. Never overdraws.

    Raises InsufficientPoints when the available balance is smaller.
    """
    account = _lock_account(account.pk)
    program = account.program
    if (op := _replay(program=program, source=source, idempotency_key=idempotency_key)) is not None:
        return op
    if points <= 0 or quantize_points(program, points) != points:
        raise errors.ValidationFailed(fields={"points": ["Must be positive, in whole units."]})
    available = account_balance(account, now=now).available
    if points > available:
        raise errors.InsufficientPoints(f"Requested {points}, available {available}.")
    mv = _Movements(
        _new_operation(
            account,
            kind=OperationKind.TRANSFER,
            source=source,
            key=idempotency_key,
            now=now,
            description=description,
            created_by=created_by,
        )
    )
    _debit(
        mv,
        _open_lots(mv, account, now=now, include_pending=False),
        amount=points,
        kind=EntryKind.REDEEM,
    )
    return _finish(mv, account, now=now)


@transaction.atomic
def points_adjust(
    *,
    account: Account,
    points: Decimal,
    reason: str,
    created_by,
    now: datetime,
    idempotency_key: str | None = None,
    lifetime_days: int | None = None,
) -> Operation:
    """A manual, signed correction with a reason and the acting user.

    A positive adjustment is a new lot (programme lifetime, no hold); a negative one burns
    available then pending lots FIFO and never takes the balance below zero.
    Raises ValidationFailed (zero, too precise, no reason) or InsufficientPoints.
    """
    account = _lock_account(account.pk)
    program = account.program
    key = idempotency_key or f"adjust:{account.pk}:{now.isoformat()}:{points}"
    if (op := _replay(program=program, source="admin", idempotency_key=key)) is not None:
        return op
    field_errors = {}
    if points == 0 or quantize_points(program, points) != points:
        field_errors["points"] = [f"Must be non-zero, with at most {program.precision} decimals."]
    if not (reason or "").strip():
        field_errors["reason"] = ["A reason is required."]
    if field_errors:
        raise errors.ValidationFailed(fields=field_errors)
    mv = _Movements(
        _new_operation(
            account,
            kind=OperationKind.ADJUST,
            source="admin",
            key=key,
            now=now,
            reason=reason,
            description=reason[:255],
            created_by=created_by,
        )
    )
    if points > 0:
        _credit(
            mv,
            account,
            amount=points,
            kind=LotKind.ADJUST,
            available_at=now,
            expires_at=_expires_at(program, now, lifetime_days),
        )
    else:
        lots = _open_lots(mv, account, now=now, include_pending=True)
        total = sum((lot.remaining for lot in lots), ZERO)
        if -points > total:
            raise errors.InsufficientPoints(f"Cannot take {-points}: the balance is {total}.")
        _debit(mv, lots, amount=-points, kind=EntryKind.ADJUST)
    return _finish(mv, account, now=now)


# --- checks: persistence of an engine result, refunds, cancellation -----------------------------


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
    return quantize_points(program, total * done / quantity)


def _cumulative_money(total: Decimal, done: Decimal, quantity: Decimal) -> Decimal:
    if done >= quantity:
        return total
    return (total * done / quantity).quantize(MONEY_QUANTUM, rounding=ROUND_DOWN)


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
        paid = line.amount - line.discount
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


def _restore_redeemed(mv: _Movements, account: Account, check: Check, *, amount: Decimal, now):
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
            expires = _expires_at(program, now, None)
        _credit(
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


def _claw_back(mv: _Movements, account: Account, check: Check, claw_by_rule, *, now):
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
        taken, lost = _take_back(mv, account, amount=claw_by_rule[rule_code], now=now, first=first)
        clawed += taken
        forgiven += lost
    return clawed, forgiven


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
    account = _lock_account(check.account_id)
    check = _lock_check(check.pk)
    program = account.program
    if (op := _replay(program=program, source=source, idempotency_key=idempotency_key)) is not None:
        return op.refund
    if check.status == CheckStatus.CANCELLED:
        raise errors.CheckAlreadyCancelled()
    check_lines = list(check.lines.order_by("index"))
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
    plan = _plan_return(program, check_lines, quantities)
    op = _new_operation(
        account,
        kind=OperationKind.REFUND,
        source=source,
        key=idempotency_key,
        now=now,
        check_obj=check,
        description=f"Refund of check {check.receipt_number}",
    )
    mv = _Movements(op)
    _restore_redeemed(mv, account, check, amount=plan.restore, now=now)
    clawed, forgiven = _claw_back(mv, account, check, plan.claw_by_rule, now=now)
    if forgiven:
        op.meta = {"forgiven": str(forgiven)}
        Operation.objects.filter(pk=op.pk).update(meta=op.meta)
    for line in check_lines:
        if line.pk in plan.new_refunded:
            line.refunded_quantity = plan.new_refunded[line.pk]
    CheckLine.objects.bulk_update(
        [line for line in check_lines if line.pk in plan.new_refunded], ["refunded_quantity"]
    )
    fully = all(line.refunded_quantity == line.quantity for line in check_lines)
    Check.objects.filter(pk=check.pk).update(
        status=CheckStatus.REFUNDED if fully else CheckStatus.PARTIALLY_REFUNDED,
        refunded_amount=F("refunded_amount") + plan.amount,
    )
    Account.objects.filter(pk=account.pk).update(lifetime_spend=F("lifetime_spend") - plan.amount)
    _finish(mv, account, now=now)
    refund = Refund.objects.create(
        check_obj=check,
        operation=op,
        lines=[{"index": i, "quantity": str(q)} for i, q in sorted(quantities.items()) if q],
        amount=plan.amount,
        clawed_back_points=clawed,
        restored_points=plan.restore,
    )
    # The check row is locked: its state is what was read plus what was just written.
    check.status = CheckStatus.REFUNDED if fully else CheckStatus.PARTIALLY_REFUNDED
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
        return None
    account = _lock_account(check.account_id)
    check = _lock_check(check.pk)
    program = account.program
    if (op := _replay(program=program, source=source, idempotency_key=idempotency_key)) is not None:
        return op
    if check.status == CheckStatus.CANCELLED:
        raise errors.CheckAlreadyCancelled()
    check_lines = list(check.lines.order_by("index"))
    plan = _plan_return(
        program,
        check_lines,
        {line.index: line.quantity - line.refunded_quantity for line in check_lines},
    )
    op = _new_operation(
        account,
        kind=OperationKind.CANCEL,
        source=source,
        key=idempotency_key,
        now=now,
        check_obj=check,
        description=f"Cancellation of check {check.receipt_number}",
    )
    mv = _Movements(op)
    _restore_redeemed(mv, account, check, amount=plan.restore, now=now)
    clawed, forgiven = _claw_back(mv, account, check, plan.claw_by_rule, now=now)
    op.meta = {"clawed_back": str(clawed), "restored": str(plan.restore)}
    if forgiven:
        op.meta["forgiven"] = str(forgiven)
    Operation.objects.filter(pk=op.pk).update(meta=op.meta)
    _release_awards(check)
    CheckLine.objects.filter(check_obj=check).update(refunded_quantity=F("quantity"))
    Check.objects.filter(pk=check.pk).update(
        status=CheckStatus.CANCELLED, refunded_amount=F("refunded_amount") + plan.amount
    )
    Account.objects.filter(pk=account.pk).update(
        lifetime_spend=F("lifetime_spend") - plan.amount,
        lifetime_visits=F("lifetime_visits") - 1,
    )
    op = _finish(mv, account, now=now)
    check.status = CheckStatus.CANCELLED
    check.refunded_amount += plan.amount
    signals.check_cancelled.send(sender=Check, account=account, check=check, operation=op, now=now)
    return op


def _release_awards(check: Check) -> None:
    """Cancelled checks stop counting towards per-customer limits and give budget back."""
    from loyalty.rules.models import EarnRule

    awards = list(
        RuleAward.objects.filter(operation__check_obj=check, cancelled=False, rule__isnull=False)
        .order_by("rule_id")
        .values_list("rule_id", "points")
    )
    rules = list(
        EarnRule.objects.select_for_update()
        .filter(pk__in={rule_id for rule_id, _ in awards}, budget_points__isnull=False)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for rule_id, pts in awards:
        if rule_id in rules:
            EarnRule.objects.filter(pk=rule_id).update(budget_used=F("budget_used") - pts)
    RuleAward.objects.filter(operation__check_obj=check).update(cancelled=True)


# --- reconciliation -------------------------------------------------------------------------------


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
}


def ledger_reconcile(
    *, now: datetime, account_ids: Iterable[int] | None = None, chunk_size: int = 2000
) -> list[Discrepancy]:
    """Check the ledger invariants for some accounts (all by default). Reads only.

    1. cached available + pending == Σ entries == Σ lot.remaining, and the split by time;
    2. only debt lots are negative, only where the programme allows, and never beside
       positive lots (credits repay debt first);
    3. at most one purchase operation per check (idempotency keys are unique in the schema);
    4. every lot: its first movement equals its amount and the rest only redeem, expire,
       claw back, adjust or repay it; Σ of its entries == remaining;
    5. every operation moves only its own account's lots (entry, lot and operation name the
       same account): an operation serialises on one account lock, so a movement across
       accounts would be a write no lock protected.
    """
    from collections import defaultdict

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
        computed = lots_balance(account_ids=ids, now=now)
        entry_sums = dict(
            Entry.objects.filter(account_id__in=ids)
            .values("account_id")
            .annotate(s=Sum("amount"))
            .values_list("account_id", "s")
            .order_by()
        )
        lot_rows = defaultdict(list)
        for row in Lot.objects.filter(account_id__in=ids).values(
            "id", "account_id", "kind", "amount", "remaining"
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
        for account in chunk:
            found.extend(_reconcile_account(account, computed, entry_sums, lot_rows, per_lot, now))


def _pts(value) -> str:
    """Points the same way whatever the database returned (SQLite sums drop the scale)."""
    return f"{Decimal(value):.2f}"


def _reconcile_account(account, computed, entry_sums, lot_rows, per_lot, now) -> list[Discrepancy]:
    out = []
    pk = account.pk
    available, pending, _ = computed[pk]
    cached = account_balance(account, now=now)
    total_entries = entry_sums.get(pk) or ZERO
    total_lots = sum((r["remaining"] for r in lot_rows[pk]), ZERO)
    if not (cached.total == total_entries == total_lots):
        out.append(
            Discrepancy(
                pk,
                1,
                f"cached {_pts(cached.total)} vs entries {_pts(total_entries)}"
                f" vs lots {_pts(total_lots)}",
            )
        )
    if (cached.available, cached.pending) != (available, pending):
        out.append(
            Discrepancy(
                pk,
                1,
                f"cached split {_pts(cached.available)}/{_pts(cached.pending)}"
                f" vs lots {_pts(available)}/{_pts(pending)}",
            )
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
