"""Ledger events that send messages. Connected in NotificationsConfig.ready().

The ledger sends its signals inside its transaction; the outbox rows are written there too
(in a savepoint, except inside the API's unit of work: ``core.db``), and the dispatcher is
queued on commit. A failure here is logged and
swallowed: a broken template must never fail a purchase at the till.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction

from core.db import in_unit_of_work
from loyalty.ledger import signals
from loyalty.ledger.selectors import member_profile
from notifications.contexts import balance_data, points, tier_data
from notifications.services import message_enqueue

logger = logging.getLogger(__name__)


def _safely(**kwargs) -> None:
    try:
        if in_unit_of_work():
            # The API's one transaction, without savepoints: a template error is caught where
            # the row is rendered (it is written as failed) and any other Python error here,
            # before a write, leaves the transaction intact. A database error would fail the
            # request as a whole (rolled back) — the statements are a read and an insert that
            # ignores conflicts.
            message_enqueue(**kwargs)
        else:
            with transaction.atomic():
                message_enqueue(**kwargs)
    except Exception:
        logger.exception(
            "could not enqueue %s for customer %s", kwargs["event"], kwargs["customer"].pk
        )


def on_check_committed(sender, *, account, check, result, now, **kwargs) -> None:
    earned = getattr(result, "earned_points", None) or check.earned_points
    if not earned or earned <= 0:
        return
    program = account.program
    available_at = check.occurred_at + timedelta(days=program.hold_days)
    _safely(
        customer=account.customer,
        program=program,
        profile=member_profile(account),  # read with the account lock in a commit
        event="points_earned",
        context={
            **balance_data(account, now=now),
            "points": points(program, earned),
            "pending": available_at > now,
            "available_at": available_at,
            "check": {
                "receipt_number": check.receipt_number,
                "amount": check.payable,
                "occurred_at": check.occurred_at,
            },
        },
        idempotency_key=f"points_earned:check:{check.pk}",
        now=now,
        fresh=True,  # the check was created in this transaction: no row of its key exists
    )


def on_tier_changed(sender, *, account, old_tier, new_tier, upgrade, now, **kwargs) -> None:
    if new_tier is None:
        return
    _safely(
        customer=account.customer,
        program=account.program,
        event="tier_upgraded" if upgrade else "tier_downgraded",
        context={
            **balance_data(account, now=now),
            "tier": tier_data(new_tier),
            "old_tier": tier_data(old_tier),
        },
        idempotency_key=f"tier:{account.pk}:{new_tier.pk}:{now.isoformat()}",
        now=now,
    )


def on_customer_enrolled(sender, *, customer, account, created, now, **kwargs) -> None:
    if not created:
        return
    program = account.program if account is not None else None
    context = {"referral_code": customer.referral_code}
    if account is not None:
        context.update(balance_data(account, now=now))
    _safely(
        customer=customer,
        program=program,
        event="welcome",
        context=context,
        idempotency_key=f"welcome:{account.pk if account else f'customer-{customer.pk}'}",
        now=now,
    )


def connect() -> None:
    signals.check_committed.connect(on_check_committed, dispatch_uid="notifications.points_earned")
    signals.tier_changed.connect(on_tier_changed, dispatch_uid="notifications.tier_changed")
    signals.customer_enrolled.connect(on_customer_enrolled, dispatch_uid="notifications.welcome")
