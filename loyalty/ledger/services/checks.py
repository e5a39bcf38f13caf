"""Calculating and committing a check: the engine's result, written to the ledger.

``check_calculate`` and ``check_commit`` run the same engine on the same inputs; commit does it
again under the account lock, and once more under the locks of the budgeted rules the check
awards from (``calculate_with_budget_locks``), so a preview that went stale between the two
never over-redeems or overspends a budget, and a check no budget pays for waits for no budget.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError
from django.db.models import Count, F, OuterRef, Subquery

from core import errors
from core.db import step
from customers.models import Customer
from loyalty.ledger import signals
from loyalty.ledger.models import (
    Account,
    Check,
    CheckLine,
    CheckStatus,
    Operation,
    OperationKind,
    RuleAward,
)
from loyalty.ledger.selectors import Balance, account_balance, lots_balance
from loyalty.ledger.services import movements
from loyalty.ledger.services.accounts import (
    account_lock,
    account_open,
    member_account_lock,
    profile_from_snapshot,
    profile_snapshot,
)
from loyalty.ledger.services.coupons import (
    check_coupons_json,
    coupons_rejected_error,
    coupons_resolve,
    coupons_use,
)
from loyalty.ledger.services.tiers import account_tier_upgrade
from loyalty.rules import engine, loader
from loyalty.rules.models import EarnRule, Outlet, Program, Tier

ZERO = Decimal("0")
EVENT = "event"  # the rule kind that awards reported events, never a check's lines

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
    # The providers add segments and offers; a spec none of whose rules asks for either
    # (segments, a campaign's audience, an offer code) does not need them read.
    if spec is None or any(r.segments or r.offer for r in spec.rules):
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


def limited_rule_codes(loaded: loader.LoadedProgram, *, events: bool = True) -> list[str]:
    """The active rules with a per-customer limit: every rule any of the specs
    ``calculate_with_budget_locks`` builds from ``loaded`` may contain. Event rules never
    award on a check (only ``event_award``): ``events=False`` leaves them out for one."""
    return sorted(
        code
        for code, rule in loaded.rules.items()
        if rule.limit_per_customer is not None and (events or rule.kind != EVENT)
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


def _check_input(lines, *, outlet: Outlet, at: datetime, redeem, coupons=()) -> engine.CheckInput:
    return engine.CheckInput(
        lines=tuple(lines),
        outlet=outlet.code,
        channel=outlet.channel,
        now=at,
        redeem=redeem,
        coupons=tuple(coupons),
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
    coupons: Sequence[str] = (),
) -> CheckQuote:
    """Preview a check: what it would redeem and earn. Writes nothing.

    ``coupons`` are codes (reward coupons, promo codes): a rejected one is reported in the
    result, not raised. Raises CustomerBlocked and the engine's calculation errors.
    """
    at = occurred_at or now
    account = None
    version = None
    if customer is not None:
        if customer.is_blocked:
            raise errors.CustomerBlocked()
        account = (
            Account.objects.select_related("tier")
            .filter(program=program, customer=customer)
            .annotate(program_version=_program_version())
            .first()
        )
        if account is not None:
            version = account.program_version
    loaded = loader.program_load(program, version=version)
    spec = loaded.spec
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
        state = customer_state(
            account,
            now=now,
            balance=balance,
            spec=spec,
            limited=limited_rule_codes(loaded, events=False),
        )
    specs = coupons_resolve(program=program, account=account, codes=coupons, at=at)
    check_input = _check_input(lines, outlet=outlet, at=at, redeem=redeem, coupons=specs)
    result = _calculate(spec, state, check_input)
    after = _balance_after(program, balance, result, at=at, now=now)
    if account is not None:
        tier = account.tier
    elif customer is not None:
        tier = loaded.tiers[0] if loaded.tiers else None  # by rank, threshold, id
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


def _program_version():
    """The programme's configuration version, read in the statement that reads the account."""
    return Subquery(Program.objects.filter(pk=OuterRef("program_id")).values("config_version")[:1])


def _calculate(spec, state, check_input) -> engine.CheckResult:
    """``engine.calculate``; an InsufficientPoints carries ``max_redeemable`` (the same
    calculation with "max"), so a door can name the maximum without reading anything again."""
    try:
        return engine.calculate(spec, state, check_input)
    except errors.InsufficientPoints as exc:
        best = engine.calculate(spec, state, dataclasses.replace(check_input, redeem="max"))
        exc.max_redeemable = best.max_redeemable
        raise


def _receipt_taken(exc: IntegrityError) -> bool:
    text = str(exc)
    return "receipt_per_outlet" in text or f"{Check._meta.db_table}.receipt_number" in text


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
    reserve: bool = False,
    coupons: Sequence[str] = (),
) -> CommittedCheck:
    """Commit a check: redeem, earn per rule, count the visit, upgrade the tier.

    ``coupons`` are applied first (step 0): reward coupons are marked used by this check and
    promo codes counted, in the same transaction; a rejected one raises CouponInvalid.

    Locks the account and runs the engine; then locks the budgeted rules the check awards from
    (by id) and runs it again with their budgets as locked (``calculate_with_budget_locks``).
    A replay of the same (source, idempotency key) returns the first check unchanged.
    Raises CustomerBlocked, ValidationFailed (receipt number reused) and calculation errors
    (InsufficientPoints with ``max_redeemable``).

    One transaction (``core.db.step``: no savepoint inside the API's unit of work). A receipt
    number already used fails the insert of the check: the whole transaction rolls back and
    the error is raised as ValidationFailed.

    ``reserve`` (``reservations.check_reserve``): the same validation and calculation, but the
    check is recorded as reserved for the programme's ``reservation_minutes``: the points to
    redeem move into hold lots (``movements.hold_write``), the rule awards and budgets are
    taken, and nothing is earned and no counter or tier moves until it is confirmed.
    """
    at = occurred_at or now
    if customer is not None and customer.is_blocked:
        raise errors.CustomerBlocked()
    try:
        with step():
            if customer is None:
                return _commit_anonymous(
                    program=program,
                    outlet=outlet,
                    lines=lines,
                    redeem=redeem,
                    receipt_number=receipt_number,
                    now=now,
                    at=at,
                    reserve=reserve,
                    coupons=coupons,
                )
            return _commit_member(
                program=program,
                outlet=outlet,
                customer=customer,
                lines=lines,
                redeem=redeem,
                receipt_number=receipt_number,
                source=source,
                idempotency_key=idempotency_key,
                now=now,
                at=at,
                reserve=reserve,
                coupons=coupons,
            )
    except IntegrityError as exc:
        if _receipt_taken(exc):
            raise errors.ValidationFailed(
                fields={
                    "receipt_number": ["This receipt number is already recorded at this outlet."]
                }
            ) from None
        raise


def _locked_balance(account: Account, *, now: datetime) -> tuple[movements.CheckBalance, bool]:
    """The locked account's balance at ``now``, and whether it is the cached one.

    The cache is used while nothing changed by time alone (``now < pending_release_at``: no
    pending lot has matured and no positive lot expired), as every reader does; else the
    split is read from the lots (one aggregate). The cache was written by whichever operation
    held the lock last, at its own ``now``, which may be a moment later than ours: a lot it
    counted as available may still be pending for us. The burn reads only lots available at
    our ``now``, so such a redemption is caught there and the balance is read from the lots
    (``_commit_member``).
    """
    if account.pending_release_at is None or now < account.pending_release_at:
        return (
            movements.CheckBalance(
                account.available, account.pending, account.pending_release_at, account.held
            ),
            True,
        )
    return _lots_balance(account, now=now), False


def _lots_balance(account: Account, *, now: datetime) -> movements.CheckBalance:
    split = lots_balance(account_ids=[account.pk], now=now)[account.pk]
    return movements.CheckBalance(split.available, split.pending, split.release, split.held)


def _commit_member(
    *,
    program,
    outlet,
    customer,
    lines,
    redeem,
    receipt_number,
    source,
    idempotency_key,
    now,
    at,
    reserve=False,
    coupons=(),
) -> CommittedCheck:
    # One statement: the account row locked, the programme's configuration version, and the
    # operation a replay of this key would return. Both are read in the statement's snapshot,
    # which may predate the lock wait: a version a moment old gives the spec of that moment;
    # a duplicate that committed while we waited is caught by the unique keys (operation,
    # receipt), and the API answers it from its stored response.
    account = member_account_lock(
        program,
        customer,
        program_version=_program_version(),
        replay_id=Subquery(
            Operation.objects.filter(
                program_id=program.pk, source=source, idempotency_key=idempotency_key
            ).values("pk")[:1]
        ),
        profile_snapshot=profile_snapshot(),
    )
    if account is None:
        account = account_open(program=program, customer=customer, now=now, outlet=outlet)
        account = account_lock(account.pk)
        version, replay_id = None, None
    else:
        version, replay_id = account.program_version, account.replay_id
        profile_from_snapshot(account, account.profile_snapshot)
    account.customer = customer  # the signal receivers read it; no need to load it again
    if replay_id is not None:
        op = Operation.objects.select_related("check_obj").get(pk=replay_id)
        return CommittedCheck(
            check=op.check_obj,
            result=None,
            balance_after=account_balance(account, now=now),
            tier=account.tier,
            replayed=True,
        )
    loaded = loader.program_load(program, version=version)
    tier = next((t for t in loaded.tiers if t.pk == account.tier_id), None)
    if tier is not None:
        account.tier = tier  # the row just read; saves loading it again
    tier_before = account.tier
    balance, cached = _locked_balance(account, now=now)
    state = customer_state(
        account,
        now=now,
        balance=Balance(available=balance.available, pending=balance.pending),
        spec=loaded.spec,
        limited=limited_rule_codes(loaded, events=False),
    )
    specs = coupons_resolve(program=program, account=account, codes=coupons, at=at)
    check_input = _check_input(lines, outlet=outlet, at=at, redeem=redeem, coupons=specs)
    loaded, result = calculate_with_budget_locks(
        loaded, lambda spec: _calculate(spec, state, check_input)
    )
    if (rejected := coupons_rejected_error(result)) is not None:
        raise rejected
    earning = [row for row in result.breakdown if row.points > 0]
    burn_lots, debts = movements.check_lots(
        account.pk, now=now, redeem=result.redeemed_points, debts=bool(earning)
    )
    burn = movements.burn_plan(burn_lots, result.redeemed_points)
    if burn is None and cached:
        # The cache counted as available lots that are still pending at our ``now``.
        balance = _lots_balance(account, now=now)
        state = dataclasses.replace(state, available=balance.available)
        loaded, result = calculate_with_budget_locks(
            loaded, lambda spec: _calculate(spec, state, check_input)
        )
        if not earning and any(row.points > 0 for row in result.breakdown):
            # It earns now that it redeems less: the debts it repays were not read yet.
            _, debts = movements.check_lots(account.pk, now=now, redeem=ZERO, debts=True)
        earning = [row for row in result.breakdown if row.points > 0]
        burn = movements.burn_plan(burn_lots, result.redeemed_points)
    if burn is None:  # never a discount the lots did not pay for
        held = sum((lot.remaining for lot in burn_lots), ZERO)
        exc = errors.InsufficientPoints(
            f"Requested {result.redeemed_points} points, the lots hold {held}."
        )
        exc.max_redeemable = min(held, result.max_redeemable)
        raise exc
    until = now + timedelta(minutes=program.reservation_minutes) if reserve else None
    check = _create_check(
        program, outlet, account, lines, result, receipt_number, at, reserved_until=until
    )
    if result.coupons:
        coupons_use(program=program, account=account, check=check, result=result, now=now)
    op = movements.operation_new(
        account,
        kind=OperationKind.HOLD if reserve else OperationKind.CHECK,
        source=source,
        key=idempotency_key,
        now=now,
        occurred_at=at,
        check_obj=check,
        description=f"Check {receipt_number}",
        # debt repayments net to zero; a hold moves points between lots only
        points=ZERO if reserve else result.earned_points - result.redeemed_points,
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
    if awards:
        RuleAward.objects.bulk_create(awards)
    if reserve:
        movements.hold_write(op, account, burn=burn, until=until, now=now, balance=balance)
        return CommittedCheck(
            check=check,
            result=result,
            balance_after=account_balance(account, now=now),
            tier=tier_before,
            replayed=False,
        )
    movements.check_write(
        op,
        account,
        program=program,
        now=now,
        at=at,
        balance=balance,
        burn=burn,
        earning=earning,
        debts=debts,
        counters=movements.CheckCounters(
            spend=result.payable, visits=1, earned=result.earned_points, last_purchase_at=at
        ),
    )
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


def _create_check(
    program, outlet, account, lines, result, receipt_number, at, *, reserved_until=None
) -> Check:
    # A receipt number already used raises IntegrityError here; check_commit rolls the whole
    # transaction back and turns it into ValidationFailed (no savepoint to undo just this).
    check = Check.objects.create(
        program=program,
        outlet=outlet,
        account=account,
        receipt_number=receipt_number,
        channel=outlet.channel,
        occurred_at=at,
        subtotal=result.subtotal,
        discount=result.discount,
        coupon_discount=result.coupon_discount,
        coupons=check_coupons_json(result),
        payable=result.payable,
        redeemed_points=result.redeemed_points,
        earned_points=result.earned_points,
        tier_code=result.tier_code or "",
        breakdown=[_row_json(row) for row in result.breakdown],
        status=CheckStatus.RESERVED if reserved_until else CheckStatus.COMPLETED,
        reserved_until=reserved_until,
    )
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
                coupon_discount=per_line[i].coupon_discount if i in per_line else ZERO,
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
        # A reserved check's confirmation earns these rows as stored (their lots' lifetime).
        "lifetime_days": row.lifetime_days,
    }


def _commit_anonymous(
    *, program, outlet, lines, redeem, receipt_number, now, at, reserve=False, coupons=()
) -> CommittedCheck:
    """An anonymous check earns and redeems nothing but is recorded for reports.

    Asking it to redeem points fails as in ``check_calculate`` (RedeemNotAllowed); "max" is 0.
    A reward coupon needs its customer: given here it is rejected (CouponInvalid).
    """
    spec = loader.program_spec(program)
    specs = coupons_resolve(program=program, account=None, codes=coupons, at=at)
    check_input = _check_input(lines, outlet=outlet, at=at, redeem=redeem, coupons=specs)
    result = _calculate(spec, None, check_input)
    if (rejected := coupons_rejected_error(result)) is not None:
        raise rejected
    until = now + timedelta(minutes=program.reservation_minutes) if reserve else None
    check = _create_check(
        program, outlet, None, lines, result, receipt_number, at, reserved_until=until
    )
    if result.coupons:
        coupons_use(program=program, account=None, check=check, result=result, now=now)
    return CommittedCheck(
        check=check,
        result=result,
        balance_after=Balance(available=ZERO, pending=ZERO),
        tier=None,
        replayed=False,
    )


def release_awards(check: Check) -> None:
    """Cancelled checks stop counting towards per-customer limits and give budget back."""
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
