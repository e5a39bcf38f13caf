"""Referral: both sides earn after the friend's first completed check; the abuse cases.

A ``Referral`` row is the unit of work of this trigger, the way a ``Message`` row is the unit
of work of the outbox. ``referral_note`` writes it (pending) inside the check's transaction,
and ``referral_withdraw`` takes a pending one back inside a cancel's; both are called from
``campaigns.receivers`` because the ledger, below campaigns, only announces its checks. They
move no points and take no locks. The points move after the check commits, in
``referral_grant`` / ``referral_reverse`` (Celery tasks queued on commit, and the daily
``referrals_sweep`` for tasks that were lost): granting the referrer inside the check would lock
a second account after the budget rows, against the lock order.

Keys (source ``campaigns``): ``referral:<referral>:<check>:referrer|friend``, once per
qualifying first check.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils.translation import gettext as _

from campaigns.models import Referral, ReferralStatus, TriggerConfig
from campaigns.triggers.grants import CHUNK, SOURCE, trigger_config, trigger_grant, trigger_notify
from loyalty.ledger import services as ledger
from loyalty.ledger.models import NOT_PURCHASES, Account, Check, CheckStatus, Operation
from loyalty.ledger.selectors import account_balance


def _first_completed_check(account: Account, check: Check) -> bool:
    return (
        not Check.objects.filter(account=account)
        .exclude(pk=check.pk)
        .exclude(status__in=NOT_PURCHASES)
        .exists()
    )


def referral_note(*, account: Account, check: Check, now: datetime) -> Referral | None:
    """Note a referred customer's first completed check as a pending referral; None if not one.

    Runs in the check's transaction and writes only the referral row; the caller queues
    ``referral_grant`` for after the commit.
    """
    customer = account.customer
    if customer.referred_by_id is None:
        return None
    config = trigger_config(account.program)
    if not (config.referral_referrer_points or config.referral_friend_points):
        return None
    referral = Referral.objects.filter(friend=account).first()
    if referral is not None and referral.status not in (
        ReferralStatus.CANCELLED,
        ReferralStatus.REVERSED,
    ):
        return None
    if not _first_completed_check(account, check):
        return None
    referrer = Account.objects.filter(
        program_id=account.program_id, customer_id=customer.referred_by_id
    ).first()
    if referral is None:
        return Referral.objects.create(
            program_id=account.program_id,
            referrer=referrer,
            friend=account,
            check_obj=check,
            created_at=now,
        )
    Referral.objects.filter(pk=referral.pk).update(
        referrer=referrer, check_obj=check, status=ReferralStatus.PENDING, reason=""
    )
    return referral


def referral_withdraw(*, account: Account, check: Check) -> Referral | None:
    """The friend's first check was cancelled: void its pending referral.

    Returns a granted referral of that check, which ``referral_reverse`` must take back after
    the commit; None when there is nothing more to do.
    """
    referral = Referral.objects.filter(friend=account, check_obj=check).first()
    if referral is None:
        return None
    if referral.status == ReferralStatus.PENDING:
        Referral.objects.filter(pk=referral.pk, status=ReferralStatus.PENDING).update(
            status=ReferralStatus.CANCELLED, reason=_("the first check was cancelled")
        )
        return None
    return referral if referral.status == ReferralStatus.GRANTED else None


def _lock_accounts(*ids: int | None) -> dict[int, Account]:
    return ledger.accounts_lock(*ids, related=("program", "customer"))


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
    budget (inside ``trigger_grant``); both bonuses or neither.
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
            granted = trigger_grant(
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
            trigger_notify(
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
