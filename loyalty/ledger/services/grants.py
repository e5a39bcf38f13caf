"""Points outside checks: grants (bonuses, campaigns, triggers), transfers out, manual
adjustments, and event bonuses (a review, a subscription, a survey reported by a till, a shop or
a CRM).

Each function is one transaction that locks the account first and checks the idempotency key
under that lock. Event bonuses are decided by the programme's ``event`` rules through the same
engine as checks (so their conditions, per-customer limits and budgets apply), once per
(event, external id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from core import errors
from core.money import points_exact
from customers.models import Customer
from loyalty.ledger import signals
from loyalty.ledger.models import (
    Account,
    EntryKind,
    LotKind,
    Operation,
    OperationKind,
    RuleAward,
)
from loyalty.ledger.selectors import Balance, account_balance
from loyalty.ledger.services import movements
from loyalty.ledger.services.accounts import account_lock, account_open
from loyalty.ledger.services.checks import (
    budget_spend,
    calculate_with_budget_locks,
    customer_state,
    limited_rule_codes,
)
from loyalty.rules import engine, loader
from loyalty.rules.models import EarnRule, Outlet, Program, RuleKind

ZERO = Decimal("0")

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
    account = account_lock(account.pk)
    program = account.program
    if (
        op := movements.operation_replay(
            program=program, source=source, idempotency_key=idempotency_key
        )
    ) is not None:
        return op
    if points <= 0 or not points_exact(points, precision=program.precision):
        raise errors.ValidationFailed(fields={"points": ["Must be positive, in whole units."]})
    mv = movements.Movements(
        movements.operation_new(
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
    movements.credit(
        mv,
        account,
        amount=points,
        kind=LotKind.GRANT,
        available_at=now + timedelta(days=hold),
        expires_at=movements.lot_expiry(program, now, lifetime_days),
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
    return movements.finish(mv, account, now=now)


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
    account = account_lock(account.pk)
    program = account.program
    if (
        op := movements.operation_replay(
            program=program, source=source, idempotency_key=idempotency_key
        )
    ) is not None:
        return op
    if points <= 0 or not points_exact(points, precision=program.precision):
        raise errors.ValidationFailed(fields={"points": ["Must be positive, in whole units."]})
    available = account_balance(account, now=now).available
    if points > available:
        raise errors.InsufficientPoints(f"Requested {points}, available {available}.")
    mv = movements.Movements(
        movements.operation_new(
            account,
            kind=OperationKind.TRANSFER,
            source=source,
            key=idempotency_key,
            now=now,
            description=description,
            created_by=created_by,
        )
    )
    movements.debit(
        mv,
        movements.open_lots(mv, account, now=now, include_pending=False),
        amount=points,
        kind=EntryKind.REDEEM,
    )
    return movements.finish(mv, account, now=now)


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
    account = account_lock(account.pk)
    program = account.program
    key = idempotency_key or f"adjust:{account.pk}:{now.isoformat()}:{points}"
    if (
        op := movements.operation_replay(program=program, source="admin", idempotency_key=key)
    ) is not None:
        return op
    field_errors = {}
    if points == 0 or not points_exact(points, precision=program.precision):
        field_errors["points"] = [f"Must be non-zero, with at most {program.precision} decimals."]
    if not (reason or "").strip():
        field_errors["reason"] = ["A reason is required."]
    if field_errors:
        raise errors.ValidationFailed(fields=field_errors)
    mv = movements.Movements(
        movements.operation_new(
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
        movements.credit(
            mv,
            account,
            amount=points,
            kind=LotKind.ADJUST,
            available_at=now,
            expires_at=movements.lot_expiry(program, now, lifetime_days),
        )
    else:
        lots = movements.open_lots(mv, account, now=now, include_pending=True)
        total = sum((lot.remaining for lot in lots), ZERO)
        if -points > total:
            raise errors.InsufficientPoints(f"Cannot take {-points}: the balance is {total}.")
        movements.debit(mv, lots, amount=-points, kind=EntryKind.ADJUST)
    return movements.finish(mv, account, now=now)


# --- event bonuses ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EventAward:
    awarded_points: Decimal
    balance: Balance
    operation: Operation | None
    reason: str = ""
    replayed: bool = False


def event_source(event: str) -> str:
    return f"event:{event}"


def _no_award_reason(program: Program, account: Account, event: str, state) -> str:
    rules = list(
        EarnRule.objects.filter(program=program, kind=RuleKind.EVENT, event=event, is_active=True)
    )
    if not rules:
        return _("No rule of this programme rewards the event “%(event)s”.") % {"event": event}
    if all(
        r.limit_per_customer is not None and state.rule_usage.get(r.code, 0) >= r.limit_per_customer
        for r in rules
    ):
        return _("The customer has reached the limit for the event “%(event)s”.") % {"event": event}
    if all(r.budget_points is not None and r.budget_used >= r.budget_points for r in rules):
        return _("The budget of the event “%(event)s” is spent.") % {"event": event}
    return _("No rule for the event “%(event)s” applies now.") % {"event": event}


@transaction.atomic
def event_award(
    *,
    program: Program,
    outlet: Outlet | None,
    customer: Customer,
    event: str,
    external_id: str,
    now: datetime,
    occurred_at: datetime | None = None,
) -> EventAward:
    """Award the programme's rules for ``event`` to the customer, once per ``external_id``.

    Locks the account, then the budgeted rules the award spends (``calculate_with_budget_locks``);
    per-customer limits and budgets are read under those locks, so concurrent reports never
    exceed them, and an event no budget pays for waits for no budget. A repeat of
    (event, external_id) returns the first award (``replayed``) and moves nothing. Zero points
    (a limit, a spent budget, no rule) come back with the reason and write nothing.
    Raises CustomerBlocked, ValidationFailed (bad event or external id), IdempotencyKeyReused
    (the id was already reported for another customer).
    """
    event, external_id = (event or "").strip(), (external_id or "").strip()
    problems = {}
    if not event:
        problems["event"] = [_("Name the event.")]
    if not external_id:
        problems["external_id"] = [_("Give the event's id in your system.")]
    if problems:
        raise errors.ValidationFailed(fields=problems)
    if customer.is_blocked:
        raise errors.CustomerBlocked()
    at = occurred_at or now
    account = account_open(program=program, customer=customer, now=now, outlet=outlet)
    account = account_lock(account.pk)
    source = event_source(event)
    if (
        op := movements.operation_replay(
            program=program, source=source, idempotency_key=external_id
        )
    ) is not None:
        if op.account_id != account.pk:
            # The id was rewarded to someone else: telling this customer "50 awarded" while
            # nothing moved would be a lie, and awarding it twice breaks the once-per-id rule.
            raise errors.IdempotencyKeyReused(
                _("The event “%(event)s” with this id was reported for another customer.")
                % {"event": event}
            )
        return EventAward(
            awarded_points=op.points,
            balance=account_balance(account, now=now),
            operation=op,
            replayed=True,
        )
    loaded = loader.program_load(program)
    state = customer_state(
        account,
        now=now,
        balance=account_balance(account, now=now),
        limited=limited_rule_codes(loaded),
    )
    check_input = engine.CheckInput(
        lines=(),
        now=at,
        outlet=outlet.code if outlet else None,
        channel=outlet.channel if outlet else None,
        event=event,
    )
    loaded, result = calculate_with_budget_locks(
        loaded, lambda spec: engine.calculate(spec, state, check_input)
    )
    rows = [row for row in result.breakdown if row.points > 0]
    if not rows:
        return EventAward(
            awarded_points=ZERO,
            balance=account_balance(account, now=now),
            operation=None,
            reason=_no_award_reason(program, account, event, state),
        )
    op = movements.operation_new(
        account,
        kind=OperationKind.EVENT,
        source=source,
        key=external_id,
        now=now,
        occurred_at=at,
        description=_("Bonus for the event “%(event)s”") % {"event": event},
        meta={"event": event, "external_id": external_id},
    )
    mv = movements.Movements(op)
    rules = loaded.rules  # budgets as re-read under the locks
    awards = []
    total = ZERO
    for row in rows:
        lifetime = row.lifetime_days if row.lifetime_days is not None else program.lifetime_days
        movements.credit(
            mv,
            account,
            amount=row.points,
            kind=LotKind.GRANT,
            available_at=at + timedelta(days=program.hold_days),
            expires_at=at + timedelta(days=lifetime) if lifetime else None,
            rule_code=row.rule,
            now=now,
        )
        rule = rules.get(row.rule)
        awards.append(
            RuleAward(
                operation=op, account=account, rule=rule, rule_code=row.rule, points=row.points
            )
        )
        if rule is not None and rule.budget_points is not None:
            budget_spend(loaded, rule, row.points)
        total += row.points
    RuleAward.objects.bulk_create(awards)
    Account.objects.filter(pk=account.pk).update(lifetime_earned=F("lifetime_earned") + total)
    op = movements.finish(mv, account, now=now)
    signals.points_granted.send(sender=Operation, account=account, operation=op, now=now)
    return EventAward(awarded_points=total, balance=account_balance(account, now=now), operation=op)
