"""The win-back bonus and message: once per sleeping episode of a member."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from campaigns.models import TriggerConfig
from campaigns.triggers.grants import Bonus, TriggerRun, bonus_expires_at, bonuses_run, in_chunks
from loyalty.ledger.models import Account
from loyalty.rules.models import Program

# A job that missed a few days still finds customers who fell asleep meanwhile.
WINBACK_CATCH_UP_DAYS = 7


def _winback_bonuses(config: TriggerConfig, *, now: datetime) -> Iterator[Bonus]:
    prog = config.program
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
    for account in in_chunks(candidates):
        last = account.last_purchase_at.astimezone(ZoneInfo(prog.timezone)).date()
        yield Bonus(
            account=account,
            key=f"winback:{account.pk}:{last.isoformat()}",
            points=config.winback_points,
            lifetime_days=config.winback_lifetime_days,
            description=_("Win-back bonus"),
            meta={"last_purchase": last.isoformat()},
            event="win_back" if config.winback_message else "",
            context={
                "points": config.winback_points,
                "expires_at": bonus_expires_at(prog, now, config.winback_lifetime_days),
                "days": (now - account.last_purchase_at).days,
            },
        )


def winback_bonuses(*, now: datetime, program: Program | None = None) -> TriggerRun:
    """Bonus and message for members who have just become sleeping.

    Sleeping: no purchase for ``winback_after_days``. Only members who crossed the line in the
    last few days are considered (a missed run catches up), and the key carries the date of
    the last purchase, so each sleeping episode earns once and a new purchase starts a new one.
    """
    return bonuses_run(
        trigger="winback",
        points_field="winback_points",
        bonuses=lambda config: _winback_bonuses(config, now=now),
        program=program,
        now=now,
    )
