"""Automatic bonuses: welcome, birthday, win-back and referral.

Every bonus goes through ``_trigger_grant``: the account is locked first, then (only if the
programme caps trigger points) the programme's ``TriggerConfig`` row; a replayed key returns
the first operation, and a bonus that does not fit the remaining budget is not granted at all.
Keys (source ``campaigns``) make each bonus once per customer and period:

* ``welcome:<customer>`` — once per programme;
* ``birthday:<account>:<year>`` — once per birthday, whichever day of its window it is seen;
* ``winback:<account>:<last purchase date>`` — once per sleeping episode;
* ``referral:<referral>:<check>:referrer|friend`` — once per qualifying first check.

Welcome runs inside the enrolment (a receiver of ``customer_enrolled``). Referral bookkeeping is
written inside the check's transaction, but the grants run after it commits: granting the
referrer there would lock a second account after the budget rows, against the lock order.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import CharField, Exists, F, OuterRef, Q, Value
from django.db.models.functions import Cast, Concat
from django.utils.translation import gettext as _

from campaigns.models import Referral, ReferralStatus, TriggerConfig
from loyalty.ledger import services as ledger
from loyalty.ledger.models import (
    Account,
    Check,
    CheckStatus,
    Operation,
    OperationKind,
)
from loyalty.ledger.selectors import account_balance
from loyalty.rules.models import Program

logger = logging.getLogger(__name__)

SOURCE = "campaigns"
ZERO = Decimal("0")
CHUNK = 1000
# A job that missed a few days still finds customers who fell asleep meanwhile.
WINBACK_CATCH_UP_DAYS = 7


def trigger_config(program: Program) -> TriggerConfig:
    config = TriggerConfig.objects.filter(program=program).first()
    return config if config is not None else TriggerConfig(program=program)


def _expires_at(program: Program, now: datetime, lifetime_days: int | None) -> datetime | None:
    days = lifetime_days if lifetime_days is not None else program.lifetime_days
    return now + timedelta(days=days) if days else None


@dataclass(frozen=True)
class Granted:
    operation: Operation
    created: bool  # False: an earlier run granted it (replay)


def _trigger_grant(
    *,
    account: Account,
    trigger: str,
    points: Decimal,
    key: str,
    now: datetime,
    lifetime_days: int | None,
    description: str,
    meta: dict | None = None,
) -> Granted | None:
    """Grant one trigger bonus within the programme's trigger budget; None if it does not fit.

    Lock order: the account, then the TriggerConfig row (only when a budget is set).
    """
    with transaction.atomic():
        account = (
            Account.objects.select_for_update(of=("self",))
            .select_related("program")
            .get(pk=account.pk)
        )
        replay = Operation.objects.filter(
            program_id=account.program_id, source=SOURCE, idempotency_key=key
        ).first()
        if replay is not None:
            return Granted(replay, created=False)
        budgeted = TriggerConfig.objects.filter(
            program_id=account.program_id, budget_points__isnull=False
        )
        config = budgeted.select_for_update().first()
        if config is not None and config.budget_used + points > config.budget_points:
            logger.info("trigger %s for account %s: budget spent", trigger, account.pk)
            return None
        op = ledger.points_grant(
            account=account,
            points=points,
            source=SOURCE,
            idempotency_key=key,
            now=now,
            kind=OperationKind.GRANT,
            description=description,
            rule_code=f"trigger:{trigger}",
            lifetime_days=lifetime_days,
            meta={"trigger": trigger, **(meta or {})},
        )
        if config is not None:
            TriggerConfig.objects.filter(pk=config.pk).update(budget_used=F("budget_used") + points)
    return Granted(op, created=True)


def _notify(account: Account, *, event: str, context: dict, key: str, now: datetime) -> None:
    """Write the trigger's message in the caller's transaction; never fail the bonus for it."""
    from notifications.contexts import balance_data
    from notifications.services import message_enqueue

    try:
        with transaction.atomic():
            message_enqueue(
                customer=account.customer,
                program=account.program,
                event=event,
                context={**balance_data(account, now=now), **context},
                idempotency_key=key,
                now=now,
            )
    except Exception:
        logger.exception("could not enqueue %s for account %s", event, account.pk)


# --- welcome --------------------------------------------------------------------------------------


def welcome_grant(*, account: Account, now: datetime) -> Granted | None:
    """The welcome bonus of a new member, once per customer and programme."""
    config = trigger_config(account.program)
    if not config.welcome_points:
        return None
    return _trigger_grant(
        account=account,
        trigger="welcome",
        points=config.welcome_points,
        key=f"welcome:{account.customer_id}",
        now=now,
        lifetime_days=config.welcome_lifetime_days,
        description=_("Welcome bonus"),
    )


def on_customer_enrolled(sender, *, customer, account, created, now, **kwargs) -> None:
    """Receiver of ``customer_enrolled``: the welcome bonus, in the enrolment's transaction."""
    if not created or account is None:
        return
    welcome_grant(account=account, now=now)


# --- birthday -------------------------------------------------------------------------------------


def _is_leap(year: int) -> bool:
    return calendar.isleap(year)


def birthday_window(today: date, days_before: int) -> list[tuple[date, int, int]]:
    """(birthday being celebrated, month, day) pairs matching from ``today``.

    A birthday is celebrated on one of the ``days_before`` days before it, or on the day. The
    29th of February is celebrated on the 28th in years without it.
    """
    out = []
    for offset in range(days_before + 1):
        day = today + timedelta(days=offset)
        out.append((day, day.month, day.day))
        if day.month == 2 and day.day == 28 and not _is_leap(day.year):
            out.append((day, 2, 29))
    return out


@dataclass
class TriggerRun:
    granted: int = 0
    over_budget: int = 0
    programs: int = 0
    details: dict = field(default_factory=dict)


def _granted_key(prefix: str, suffix: str):
    """Exists(an operation with key ``<prefix>:<account id><suffix>``) for an account row."""
    return Exists(
        Operation.objects.filter(
            program_id=OuterRef("program_id"),
            source=SOURCE,
            idempotency_key=Concat(
                Value(f"{prefix}:"),
                Cast(OuterRef("pk"), CharField()),
                Value(suffix),
                output_field=CharField(),
            ),
        )
    )


def birthday_bonuses(*, now: datetime, program: Program | None = None) -> TriggerRun:
    """Grant the birthday bonus to every member whose birthday window includes today.

    "Today" is the programme's local date. Members already granted for that birthday are
    skipped in SQL; a rerun (or a run every hour) grants nothing twice.
    """
    run = TriggerRun()
    for config in _configs(program, points_field="birthday_points"):
        prog = config.program
        run.programs += 1
        today = now.astimezone(ZoneInfo(prog.timezone)).date()
        by_year: dict[int, list[tuple[date, int, int]]] = {}
        for item in birthday_window(today, config.birthday_days_before):
            by_year.setdefault(item[0].year, []).append(item)
        for year, items in sorted(by_year.items()):
            match = Q()
            for _day, month, day in items:
                match |= Q(customer__birth_date__month=month, customer__birth_date__day=day)
            candidates = (
                Account.objects.filter(program=prog, customer__is_blocked=False)
                .filter(match)
                .filter(~_granted_key("birthday", f":{year}"))
                .order_by("pk")
            )
            celebrated = {(m, d): day for day, m, d in items}
            for account in _chunks(candidates.select_related("customer", "program")):
                born = account.customer.birth_date
                day = celebrated[(born.month, born.day)]
                granted = _trigger_grant(
                    account=account,
                    trigger="birthday",
                    points=config.birthday_points,
                    key=f"birthday:{account.pk}:{year}",
                    now=now,
                    lifetime_days=config.birthday_lifetime_days,
                    description=_("Birthday bonus"),
                    meta={"birthday": day.isoformat()},
                )
                if granted is None:
                    run.over_budget += 1
                    continue
                if not granted.created:
                    continue
                run.granted += 1
                _notify(
                    account,
                    event="birthday_bonus",
                    context={
                        "points": config.birthday_points,
                        "expires_at": _expires_at(prog, now, config.birthday_lifetime_days),
                        "birthday": day,
                    },
                    key=f"birthday:{account.pk}:{year}",
                    now=now,
                )
    return run


def _configs(program: Program | None, *, points_field: str):
    configs = TriggerConfig.objects.filter(
        **{f"{points_field}__gt": 0}, program__is_active=True
    ).select_related("program")
    if program is not None:
        configs = configs.filter(program=program)
    return configs.order_by("program_id")


def _chunks(queryset):
    """Iterate in primary-key chunks; rows granted meanwhile drop out of the next query."""
    last = 0
    while True:
        batch = list(queryset.filter(pk__gt=last)[:CHUNK])
        if not batch:
            return
        last = batch[-1].pk
        yield from batch


# --- win-back -------------------------------------------------------------------------------------


def winback_bonuses(*, now: datetime, program: Program | None = None) -> TriggerRun:
    """Bonus and message for members who have just become sleeping.

    Sleeping: no purchase for ``winback_after_days``. Only members who crossed the line in the
    last few days are considered (a missed run catches up), and the key carries the date of
    the last purchase, so each sleeping episode earns once and a new purchase starts a new one.
    """
    run = TriggerRun()
    for config in _configs(program, points_field="winback_points"):
        prog = config.program
        run.programs += 1
        threshold = now - timedelta(days=config.winback_after_days)
        candidates = (
            Account.objects.filter(
                program=prog,
                customer__is_blocked=False,
                last_purchase_at__lte=threshold,
                last_purchase_at__gt=threshold - timedelta(days=WINBACK_CATCH_UP_DAYS),
            )
            .select_related("customer", "program")
            .order_by("pk")
        )
        for account in _chunks(candidates):
            last = account.last_purchase_at.astimezone(ZoneInfo(prog.timezone)).date()
            key = f"winback:{account.pk}:{last.isoformat()}"
            with transaction.atomic():
                granted = _trigger_grant(
                    account=account,
                    trigger="winback",
                    points=config.winback_points,
                    key=key,
                    now=now,
                    lifetime_days=config.winback_lifetime_days,
                    description=_("Win-back bonus"),
                    meta={"last_purchase": last.isoformat()},
                )
                if granted is None:
                    run.over_budget += 1
                    continue
                if not granted.created:
                    continue  # this episode was rewarded by an earlier run
                run.granted += 1
                if config.winback_message:
                    _notify(
                        account,
                        event="win_back",
                        context={
                            "points": config.winback_points,
                            "expires_at": _expires_at(prog, now, config.winback_lifetime_days),
                            "days": (now - account.last_purchase_at).days,
                        },
                        key=key,
                        now=now,
                    )
    return run


# --- referral -------------------------------------------------------------------------------------


def _first_completed_check(account: Account, check: Check) -> bool:
    return (
        not Check.objects.filter(account=account)
        .exclude(pk=check.pk)
        .exclude(status=CheckStatus.CANCELLED)
        .exists()
    )


def on_check_committed(sender, *, account, check, result, now, **kwargs) -> None:
    """Receiver of ``check_committed``: note a referred customer's first completed check.

    Writes only the referral row here (in the check's transaction); the points follow once
    the check is committed, from ``referral_grant``.
    """
    customer = account.customer
    if customer.referred_by_id is None:
        return
    config = trigger_config(account.program)
    if not (config.referral_referrer_points or config.referral_friend_points):
        return
    referral = Referral.objects.filter(friend=account).first()
    if referral is not None and referral.status not in (
        ReferralStatus.CANCELLED,
        ReferralStatus.REVERSED,
    ):
        return
    if not _first_completed_check(account, check):
        return
    referrer = Account.objects.filter(
        program_id=account.program_id, customer_id=customer.referred_by_id
    ).first()
    if referral is None:
        referral = Referral.objects.create(
            program_id=account.program_id,
            referrer=referrer,
            friend=account,
            check_obj=check,
            created_at=now,
        )
    else:
        Referral.objects.filter(pk=referral.pk).update(
            referrer=referrer, check_obj=check, status=ReferralStatus.PENDING, reason=""
        )
    transaction.on_commit(lambda: referral_grant_soon(referral.pk), robust=True)


def on_check_cancelled(sender, *, account, check, operation, now, **kwargs) -> None:
    """Receiver of ``check_cancelled``: void the referral its first check earned."""
    referral = Referral.objects.filter(friend=account, check_obj=check).first()
    if referral is None:
        return
    if referral.status == ReferralStatus.PENDING:
        Referral.objects.filter(pk=referral.pk, status=ReferralStatus.PENDING).update(
            status=ReferralStatus.CANCELLED, reason=_("the first check was cancelled")
        )
    elif referral.status == ReferralStatus.GRANTED:
        transaction.on_commit(lambda: referral_reverse_soon(referral.pk), robust=True)


def referral_grant_soon(referral_id: int) -> None:
    from campaigns.tasks import referral_grant as task

    task.apply_async(kwargs={"referral_id": referral_id})


def referral_reverse_soon(referral_id: int) -> None:
    from campaigns.tasks import referral_reverse as task

    task.apply_async(kwargs={"referral_id": referral_id})


def _lock_accounts(*ids: int | None) -> dict[int, Account]:
    wanted = sorted({i for i in ids if i is not None})
    return {
        a.pk: a
        for a in Account.objects.select_for_update(of=("self",))
        .select_related("program", "customer")
        .filter(pk__in=wanted)
        .order_by("pk")
    }


def _same_person(a, b) -> bool:
    if a.pk == b.pk:
        return True
    for attr in ("email", "phone", "card_number"):
        x, y = getattr(a, attr), getattr(b, attr)
        if x and y and x.strip().lower() == y.strip().lower():
            return True
    return False


def _referral_problem(referral: Referral, accounts: dict, check: Check, config, now):
    """(status, reason) that keeps the referral from being granted, or None."""
    friend = accounts[referral.friend_id]
    referrer = accounts.get(referral.referrer_id)
    if check.status in (CheckStatus.CANCELLED, CheckStatus.REFUNDED):
        # Not final: the friend's next completed check may qualify.
        return ReferralStatus.CANCELLED, _("the first check was cancelled or refunded")
    if referrer is None:
        return ReferralStatus.REJECTED, _("the referrer is not a member of this programme")
    if referrer.customer.is_blocked or friend.customer.is_blocked:
        return ReferralStatus.REJECTED, _("a blocked customer")
    if _same_person(referrer.customer, friend.customer):
        return ReferralStatus.REJECTED, _("self-referral")
    if friend.customer.referred_by_id != referrer.customer_id:
        return ReferralStatus.REJECTED, _("the referrer changed")
    if check.payable - check.refunded_amount < config.referral_min_amount:
        return ReferralStatus.REJECTED, _("the first purchase is below the minimum")
    if config.referral_limit_per_year is not None:
        done = Referral.objects.filter(
            referrer=referrer,
            status=ReferralStatus.GRANTED,
            granted_at__gt=now - timedelta(days=365),
        ).count()
        if done >= config.referral_limit_per_year:
            return ReferralStatus.REJECTED, _("the referrer reached the yearly limit")
    return None


def referral_grant(*, referral_id: int, now: datetime) -> Referral:
    """Grant both sides of a pending referral, or reject it with the reason. Idempotent.

    Locks both accounts (by id), then the check, then the referral row, then the trigger
    budget (inside ``_trigger_grant``); both bonuses or neither.
    """
    with transaction.atomic():
        referral = Referral.objects.get(pk=referral_id)
        accounts = _lock_accounts(referral.friend_id, referral.referrer_id)
        check = Check.objects.select_for_update().get(pk=referral.check_obj_id)
        referral = Referral.objects.select_for_update().get(pk=referral_id)
        if referral.status != ReferralStatus.PENDING or referral.check_obj_id != check.pk:
            return referral
        config = trigger_config(accounts[referral.friend_id].program)
        problem = _referral_problem(referral, accounts, check, config, now)
        if problem is not None:
            status, reason = problem
            Referral.objects.filter(pk=referral.pk).update(status=status, reason=reason)
            referral.status, referral.reason = status, reason
            return referral
        budget = (
            TriggerConfig.objects.select_for_update()
            .filter(program_id=referral.program_id, budget_points__isnull=False)
            .first()
        )
        total = config.referral_referrer_points + config.referral_friend_points
        if budget is not None and budget.budget_used + total > budget.budget_points:
            Referral.objects.filter(pk=referral.pk).update(
                status=ReferralStatus.REJECTED, reason=_("the trigger budget is spent")
            )
            referral.status = ReferralStatus.REJECTED
            return referral
        sides = (
            ("referrer", referral.referrer_id, config.referral_referrer_points),
            ("friend", referral.friend_id, config.referral_friend_points),
        )
        for side, account_id, points in sides:
            if not points:
                continue
            key = f"referral:{referral.pk}:{check.pk}:{side}"
            granted = _trigger_grant(
                account=accounts[account_id],
                trigger="referral",
                points=points,
                key=key,
                now=now,
                lifetime_days=config.referral_lifetime_days,
                description=_("Referral bonus"),
                meta={"referral": referral.pk, "side": side, "check": check.pk},
            )
            if granted is None:
                raise RuntimeError("the trigger budget changed under its lock")
            _notify(
                accounts[account_id],
                event="referral_bonus",
                context={"points": points, "friend": side == "friend"},
                key=key,
                now=now,
            )
        Referral.objects.filter(pk=referral.pk).update(
            status=ReferralStatus.GRANTED, granted_at=now, reason=""
        )
        referral.status, referral.granted_at = ReferralStatus.GRANTED, now
        return referral


def referral_reverse(*, referral_id: int, now: datetime) -> Referral:
    """Take back a granted referral whose first check was cancelled. Idempotent.

    Takes back what is left of each bonus on the account (never below zero); the check's
    next completed purchase may qualify again.
    """
    with transaction.atomic():
        referral = Referral.objects.get(pk=referral_id)
        accounts = _lock_accounts(referral.friend_id, referral.referrer_id)
        referral = Referral.objects.select_for_update().get(pk=referral_id)
        if referral.status != ReferralStatus.GRANTED:
            return referral
        if Check.objects.get(pk=referral.check_obj_id).status != CheckStatus.CANCELLED:
            return referral
        for side, account_id in (
            ("referrer", referral.referrer_id),
            ("friend", referral.friend_id),
        ):
            key = f"referral:{referral.pk}:{referral.check_obj_id}:{side}"
            granted = Operation.objects.filter(
                program_id=referral.program_id, source=SOURCE, idempotency_key=key
            ).first()
            if granted is None:
                continue
            account = accounts[account_id]
            balance = account_balance(account, now=now)
            take = min(granted.points, balance.available + balance.pending)
            if take > 0:
                ledger.points_adjust(
                    account=account,
                    points=-take,
                    reason=_("Referral bonus reversed: the first check was cancelled"),
                    created_by=None,
                    now=now,
                    idempotency_key=f"{key}:reverse",
                )
        Referral.objects.filter(pk=referral.pk).update(
            status=ReferralStatus.REVERSED,
            reversed_at=now,
            reason=_("the first check was cancelled"),
        )
        referral.status = ReferralStatus.REVERSED
        return referral


def referrals_sweep(*, now: datetime, older_than: timedelta = timedelta(minutes=10)) -> int:
    """Process referrals whose after-commit task was lost (broker down, worker killed)."""
    done = 0
    pending = Referral.objects.filter(
        status=ReferralStatus.PENDING, created_at__lte=now - older_than
    ).order_by("pk")
    for referral_id in pending.values_list("pk", flat=True)[:CHUNK]:
        referral_grant(referral_id=referral_id, now=now)
        done += 1
    reversals = Referral.objects.filter(
        status=ReferralStatus.GRANTED, check_obj__status=CheckStatus.CANCELLED
    ).order_by("pk")
    for referral_id in reversals.values_list("pk", flat=True)[:CHUNK]:
        referral_reverse(referral_id=referral_id, now=now)
        done += 1
    return done
