"""Calculating and committing a check: the engine's result, written to the ledger.

``check_calculate`` and ``check_commit`` run the same engine on the same inputs; commit does it
again under the account lock, and once more under the locks of the budgeted rules the check
awards from (``calculate_with_budget_locks``), so a preview that went stale between the two
never over-redeems or overspends a budget, and a check no budget pays for waits for no budget.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, F

from core import errors
from customers.models import Customer
from loyalty.ledger import signals
from loyalty.ledger.models import (
    Account,
    Check,
    CheckLine,
    EntryKind,
    Lot,
    LotKind,
    OperationKind,
    RuleAward,
)
from loyalty.ledger.selectors import Balance, account_balance
from loyalty.ledger.services import movements
from loyalty.ledger.services.accounts import account_lock, account_open, member_account_lock
from loyalty.ledger.services.tiers import account_tier_upgrade
from loyalty.rules import engine, loader
from loyalty.rules.models import EarnRule, Outlet, Program, Tier

ZERO = Decimal("0")

# Other apps add what they know about a customer (segments, activated offers) without the
# ledger importing them: each provider takes (account, now) and returns CustomerState fields.
CustomerStateProvider = Callable[[Account, datetime], dict]
customer_state_providers: list[CustomerStateProvider] = []


@dataclass(frozen=True)
class CheckQuote:
    result: engine.CheckResult
    balance_before: Balance
    balance_after: Balance
    tier: Tier | None


@dataclass(frozen=True)
class CommittedCheck:
    check: Check
    result: engine.CheckResult | None
    balance_after: Balance
    tier: Tier | None
    replayed: bool


def customer_state(
    account: Account,
    *,
    now: datetime,
    balance: Balance,
    spec: engine.ProgramSpec | None = None,
    limited: Iterable[str] | None = None,
) -> engine.CustomerState:
    """What the engine knows of the customer. The codes of the rules with a per-customer limit
    are ``limited``, or read from ``spec``, or else from the database."""
    if limited is not None:
        limited = sorted(set(limited))
    elif spec is not None:
        limited = sorted({r.code for r in spec.rules if r.limit_per_customer is not None})
    else:
        limited = list(
            EarnRule.objects.filter(
                program_id=account.program_id, limit_per_customer__isnull=False
            ).values_list("code", flat=True)
        )
    usage = {}
    if limited:
        usage = dict(
            RuleAward.objects.filter(account=account, rule_code__in=limited, cancelled=False)
            .values("rule_code")
            .annotate(n=Count("id"))
            .values_list("rule_code", "n")
            .order_by()
        )
    extra: dict = {}
    for provider in customer_state_providers:
        extra.update(provider(account, now))
    return engine.CustomerState(
        tier_code=account.tier.code if account.tier_id else None,
        available=balance.available,
        purchases_count=account.lifetime_visits,
        segments=frozenset(extra.get("segments", ())),
        rule_usage=usage,
        offers=frozenset(extra.get("offers", ())),
    )


def limited_rule_codes(loaded: loader.LoadedProgram) -> list[str]:
    """The active rules with a per-customer limit: every rule any of the specs
    ``calculate_with_budget_locks`` builds from ``loaded`` may contain."""
    return sorted(
        code for code, rule in loaded.rules.items() if rule.limit_per_customer is not None
    )


def calculate_with_budget_locks(
    loaded: loader.LoadedProgram, calculate: Callable[[engine.ProgramSpec], engine.CheckResult]
) -> tuple[loader.LoadedProgram, engine.CheckResult]:
    """``calculate`` (the engine on a fixed customer and check) with the budgets it spends
    locked. The caller holds the account lock.

    First without budget locks; then, if the result awards budgeted points, lock exactly those
    rules (and their campaigns' other budgeted rules) by id, re-read their budgets and
    calculate again. If that run awards from a budgeted rule not yet locked (a budget raised
    meanwhile), lock the union and repeat: the set only grows, so this ends. A check that
    spends no budget takes no budget lock and never queues behind one.
    """
    result = calculate(loaded.spec)
    for _ in range(len(loaded.rules) + 1):
        needed = loader.budget_rows_to_lock(loaded, result)
        if needed <= loaded.locked:
            loader.assert_budgets_locked(loaded, result)
            return loaded, result
        loaded = loader.lock_budget_rows(loaded, needed)
        result = calculate(loaded.spec)
    raise loader.BudgetNotLocked("The budget locks did not settle.")  # the set only grows


def _check_input(lines, *, outlet: Outlet, at: datetime, redeem) -> engine.CheckInput:
    return engine.CheckInput(
        lines=tuple(lines),
        outlet=outlet.code,
        channel=outlet.channel,
        now=at,
        redeem=redeem,
    )


def check_calculate(
    *,
    program: Program,
    outlet: Outlet,
    customer: Customer | None,
    lines: Sequence[engine.LineInput],
    redeem,
    now: datetime,
    occurred_at: datetime | None = None,
) -> CheckQuote:
    """Preview a check: what it would redeem and earn. Writes nothing.

    Raises CustomerBlocked and the engine's calculation errors.
    """
    at = occurred_at or now
    spec = loader.program_spec(program)
    account = None
    if customer is not None:
        if customer.is_blocked:
            raise errors.CustomerBlocked()
        account = (
            Account.objects.select_related("tier")
            .filter(program=program, customer=customer)
            .first()
        )
    if account is None:
        balance = Balance(available=ZERO, pending=ZERO)
        state = None
        if customer is not None:
            state = engine.CustomerState(
                tier_code=spec.base_tier().code if spec.tiers else None,
                available=ZERO,
                purchases_count=0,
            )
    else:
        balance = account_balance(account, now=now)
        state = customer_state(account, now=now, balance=balance, spec=spec)
    result = engine.calculate(spec, state, _check_input(lines, outlet=outlet, at=at, redeem=redeem))
    after = _balance_after(program, balance, result, at=at, now=now)
    if account is not None:
        tier = account.tier
    elif customer is not None:
        tier = program.tiers.order_by("rank", "threshold", "id").first()
    else:
        tier = None  # an anonymous check has no tier
    return CheckQuote(result=result, balance_before=balance, balance_after=after, tier=tier)


def _balance_after(program, balance: Balance, result, *, at: datetime, now: datetime) -> Balance:
    earned_now = result.earned_points if program.hold_days == 0 else ZERO
    pending = balance.pending + (result.earned_points - earned_now)
    if program.hold_days and at + timedelta(days=program.hold_days) <= now:
        pending, earned_now = balance.pending, result.earned_points
    return Balance(
        available=balance.available - result.redeemed_points + earned_now, pending=pending
    )


@transaction.atomic
def check_commit(
    *,
    program: Program,
    outlet: Outlet,
    customer: Customer | None,
    lines: Sequence[engine.LineInput],
    redeem,
    receipt_number: str,
    source: str,
    idempotency_key: str,
    now: datetime,
    occurred_at: datetime | None = None,
) -> CommittedCheck:
    """Commit a check: redeem, earn per rule, count the visit, upgrade the tier.

    Locks the account and runs the engine; then locks the budgeted rules the check awards from
    (by id) and runs it again with their budgets as locked (``calculate_with_budget_locks``).
    A replay of the same (source, idempotency key) returns the first check unchanged.
    Raises CustomerBlocked, ValidationFailed (receipt number reused) and calculation errors.
    """
    at = occurred_at or now
    if customer is None:
        return _commit_anonymous(
            program=program,
            outlet=outlet,
            lines=lines,
            redeem=redeem,
            receipt_number=receipt_number,
            now=now,
            at=at,
        )
    if customer.is_blocked:
        raise errors.CustomerBlocked()
    account = member_account_lock(program, customer)
    if account is None:
        account = account_open(program=program, customer=customer, now=now, outlet=outlet)
        account = account_lock(account.pk)
    account.customer = customer  # the signal receivers read it; no need to load it again
    op = movements.operation_replay(program=program, source=source, idempotency_key=idempotency_key)
    if op is not None:
        check = op.check_obj
        return CommittedCheck(
            check=check,
            result=None,
            balance_after=account_balance(account, now=now),
            tier=account.tier,
            replayed=True,
        )
    loaded = loader.program_load(program)
    tier = next((t for t in loaded.tiers if t.pk == account.tier_id), None)
    if tier is not None:
        account.tier = tier  # the row just read; saves loading it again
    # The balance at this request's `now`, from the lots themselves. The cached one was written
    # by whichever commit held the lock last, at its own `now`, which may be later than ours
    # (we took ours before waiting for the lock): lots it counted as available may still be
    # pending for us, and the engine would allow a redemption the lots cannot pay.
    current = list(Lot.objects.filter(account=account).exclude(remaining=0))
    balance = Balance(
        available=sum((lot.remaining for lot in current if lot.available_at <= now), ZERO),
        pending=sum((lot.remaining for lot in current if lot.available_at > now), ZERO),
    )
    tier_before = account.tier
    state = customer_state(account, now=now, balance=balance, limited=limited_rule_codes(loaded))
    check_input = _check_input(lines, outlet=outlet, at=at, redeem=redeem)
    loaded, result = calculate_with_budget_locks(
        loaded, lambda spec: engine.calculate(spec, state, check_input)
    )
    check = _create_check(program, outlet, account, lines, result, receipt_number, at)
    op = movements.operation_new(
        account,
        kind=OperationKind.CHECK,
        source=source,
        key=idempotency_key,
        now=now,
        occurred_at=at,
        check_obj=check,
        description=f"Check {receipt_number}",
    )
    mv = movements.Movements(op)
    earning = [row for row in result.breakdown if row.points > 0]
    if result.redeemed_points or earning:
        # The lots read for the balance serve the redemption and the debts new lots repay.
        if result.redeemed_points:
            burnt = movements.debit(
                mv,
                movements.fifo(
                    [lot for lot in current if lot.remaining > 0 and lot.available_at <= now]
                ),
                amount=result.redeemed_points,
                kind=EntryKind.REDEEM,
            )
            if burnt != result.redeemed_points:  # never a discount the lots did not pay for
                raise errors.InsufficientPoints(
                    f"Requested {result.redeemed_points} points, the lots hold {burnt}."
                )
        movements.credit_earned(
            mv,
            account,
            earning,
            debts=sorted(
                (lot for lot in current if lot.kind == LotKind.DEBT and lot.remaining != 0),
                key=lambda lot: lot.pk,
            ),
            at=at,
            program=program,
        )
    rules = loaded.rules
    awards = []
    for row in earning:
        rule = rules.get(row.rule)
        awards.append(
            RuleAward(
                operation=op, account=account, rule=rule, rule_code=row.rule, points=row.points
            )
        )
        if rule is not None and rule.budget_points is not None:
            budget_spend(loaded, rule, row.points)
    RuleAward.objects.bulk_create(awards)
    Account.objects.filter(pk=account.pk).update(
        lifetime_spend=F("lifetime_spend") + result.payable,
        lifetime_visits=F("lifetime_visits") + 1,
        lifetime_earned=F("lifetime_earned") + result.earned_points,
        last_purchase_at=at,
    )
    movements.finish(mv, account, now=now)
    # The row is locked: its counters are what was read plus what was just added.
    account.lifetime_spend += result.payable
    account.lifetime_visits += 1
    account.lifetime_earned += result.earned_points
    account.last_purchase_at = at
    account_tier_upgrade(account, now=now, tiers=loaded.tiers)
    signals.check_committed.send(sender=Check, account=account, check=check, result=result, now=now)
    return CommittedCheck(
        check=check,
        result=result,
        balance_after=account_balance(account, now=now),
        tier=tier_before,
        replayed=False,
    )


def budget_spend(loaded: loader.LoadedProgram, rule: EarnRule, points: Decimal) -> None:
    """Add ``points`` to the rule's ``budget_used``; only under its row lock."""
    if rule.pk not in loaded.locked:
        raise loader.BudgetNotLocked(f"Rule {rule.code} spends its budget without its row lock.")
    EarnRule.objects.filter(pk=rule.pk).update(budget_used=F("budget_used") + points)


def _create_check(program, outlet, account, lines, result, receipt_number, at) -> Check:
    try:
        with transaction.atomic():
            check = Check.objects.create(
                program=program,
                outlet=outlet,
                account=account,
                receipt_number=receipt_number,
                channel=outlet.channel,
                occurred_at=at,
                subtotal=result.subtotal,
                discount=result.discount,
                payable=result.payable,
                redeemed_points=result.redeemed_points,
                earned_points=result.earned_points,
                tier_code=result.tier_code or "",
                breakdown=[_row_json(row) for row in result.breakdown],
            )
    except IntegrityError:
        raise errors.ValidationFailed(
            fields={"receipt_number": ["This receipt number is already recorded at this outlet."]}
        ) from None
    per_line = {line.index: line for line in result.lines}
    CheckLine.objects.bulk_create(
        [
            CheckLine(
                check_obj=check,
                index=i,
                sku=line.sku,
                category=line.category,
                name=line.name,
                quantity=line.quantity,
                price=line.price,
                amount=line.amount,
                is_promo=line.is_promo,
                redeemed_points=per_line[i].redeemed_points if i in per_line else ZERO,
                discount=per_line[i].discount if i in per_line else ZERO,
                earned_points=per_line[i].earned_points if i in per_line else ZERO,
                rule_points={
                    code: str(pts)
                    for code, pts in (per_line[i].rule_points.items() if i in per_line else ())
                    if pts
                },
            )
            for i, line in enumerate(lines)
        ]
    )
    return check


def _row_json(row) -> dict:
    return {
        "rule": row.rule,
        "kind": row.kind,
        "points": str(row.points),
        "reason": row.reason,
        "reason_template": row.reason_template,
        "reason_params": dict(row.reason_params),
        "lines": {str(i): str(p) for i, p in row.line_points.items()},
    }


def _commit_anonymous(*, program, outlet, lines, redeem, receipt_number, now, at) -> CommittedCheck:
    """An anonymous check earns and redeems nothing but is recorded for reports.

    Asking it to redeem points fails as in ``check_calculate`` (RedeemNotAllowed); "max" is 0.
    """
    spec = loader.program_spec(program)
    result = engine.calculate(spec, None, _check_input(lines, outlet=outlet, at=at, redeem=redeem))
    check = _create_check(program, outlet, None, lines, result, receipt_number, at)
    return CommittedCheck(
        check=check,
        result=result,
        balance_after=Balance(available=ZERO, pending=ZERO),
        tier=None,
        replayed=False,
    )
