"""The core every trigger bonus goes through: the programme's config, the budgeted grant, the
message, and the chunked loop of the scheduled triggers (birthday, win-back).

``trigger_grant`` locks the account first, then (only if the programme caps trigger points)
the programme's ``TriggerConfig`` row; a replayed key returns the first operation, and a bonus
that does not fit the remaining budget is not granted at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import CharField, Exists, F, OuterRef, QuerySet, Value
from django.db.models.functions import Cast, Concat

from campaigns.models import TriggerConfig
from loyalty.ledger import services as ledger
from loyalty.ledger.models import Account, Operation, OperationKind
from loyalty.rules.models import Program
from notifications.contexts import balance_data
from notifications.services import message_enqueue

logger = logging.getLogger(__name__)

SOURCE = "campaigns"
ZERO = Decimal("0")
CHUNK = 1000


def trigger_config(program: Program) -> TriggerConfig:
    config = TriggerConfig.objects.filter(program=program).first()
    return config if config is not None else TriggerConfig(program=program)


def bonus_expires_at(program: Program, now: datetime, lifetime_days: int | None) -> datetime | None:
    days = lifetime_days if lifetime_days is not None else program.lifetime_days
    return now + timedelta(days=days) if days else None


@dataclass(frozen=True)
class Granted:
    operation: Operation
    created: bool  # False: an earlier run granted it (replay)


def trigger_grant(
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
        account = ledger.account_lock(account.pk)
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


def trigger_notify(account: Account, *, event: str, context: dict, key: str, now: datetime) -> None:
    """Write the trigger's message in the caller's transaction; never fail the bonus for it."""
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


# --- the scheduled triggers' loop -----------------------------------------------------------------


@dataclass
class TriggerRun:
    granted: int = 0
    over_budget: int = 0
    programs: int = 0
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Bonus:
    """One candidate's bonus, and the message that goes with it (``event`` empty: none)."""

    account: Account
    key: str
    points: Decimal
    lifetime_days: int | None
    description: str
    meta: dict
    event: str = ""
    context: dict = field(default_factory=dict)


def granted_key(prefix: str, suffix: str) -> Exists:
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


def in_chunks(queryset: QuerySet[Account]) -> Iterator[Account]:
    """Iterate in primary-key chunks; rows granted meanwhile drop out of the next query."""
    last = 0
    while True:
        batch = list(queryset.filter(pk__gt=last)[:CHUNK])
        if not batch:
            return
        last = batch[-1].pk
        yield from batch


def _configs(program: Program | None, *, points_field: str) -> QuerySet[TriggerConfig]:
    configs = TriggerConfig.objects.filter(
        **{f"{points_field}__gt": 0}, program__is_active=True
    ).select_related("program")
    if program is not None:
        configs = configs.filter(program=program)
    return configs.order_by("program_id")


def bonuses_run(
    *,
    trigger: str,
    points_field: str,
    bonuses: Callable[[TriggerConfig], Iterable[Bonus]],
    program: Program | None,
    now: datetime,
) -> TriggerRun:
    """Grant ``bonuses(config)`` for every active programme whose ``points_field`` is set.

    Each bonus and its message are one transaction; a replayed key is skipped quietly, and a
    bonus over the trigger budget is counted in ``over_budget``.
    """
    run = TriggerRun()
    for config in _configs(program, points_field=points_field):
        run.programs += 1
        for bonus in bonuses(config):
            with transaction.atomic():
                granted = trigger_grant(
                    account=bonus.account,
                    trigger=trigger,
                    points=bonus.points,
                    key=bonus.key,
                    now=now,
                    lifetime_days=bonus.lifetime_days,
                    description=bonus.description,
                    meta=bonus.meta,
                )
                if granted is None:
                    run.over_budget += 1
                    continue
                if not granted.created:
                    continue  # an earlier run granted it
                run.granted += 1
                if bonus.event:
                    trigger_notify(
                        bonus.account,
                        event=bonus.event,
                        context=bonus.context,
                        key=bonus.key,
                        now=now,
                    )
    return run
