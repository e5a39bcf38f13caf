"""The birthday bonus: once per birthday, on whichever day of its window the job sees it."""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils.translation import gettext as _

from campaigns.models import TriggerConfig
from campaigns.triggers.grants import (
    Bonus,
    TriggerRun,
    bonus_expires_at,
    bonuses_run,
    granted_key,
    in_chunks,
)
from loyalty.ledger.models import Account
from loyalty.rules.models import Program


def birthday_window(today: date, days_before: int) -> list[tuple[date, int, int]]:
    """(birthday being celebrated, month, day) pairs matching from ``today``.

    A birthday is celebrated on one of the ``days_before`` days before it, or on the day. The
    29th of February is celebrated on the 28th in years without it.
    """
    out = []
    for offset in range(days_before + 1):
        day = today + timedelta(days=offset)
        out.append((day, day.month, day.day))
        if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
            out.append((day, 2, 29))
    return out


def _birthday_bonuses(config: TriggerConfig, *, now: datetime) -> Iterator[Bonus]:
    prog = config.program
    today = now.astimezone(ZoneInfo(prog.timezone)).date()
    by_year: dict[int, list[tuple[date, int, int]]] = {}
    for item in birthday_window(today, config.birthday_days_before):
        by_year.setdefault(item[0].year, []).append(item)
    for year, items in sorted(by_year.items()):
        match = Q()
        for _day, month, day in items:
            match |= Q(profile__birth_date__month=month, profile__birth_date__day=day)
        candidates = (
            Account.objects.filter(program=prog, customer__is_blocked=False)
            .filter(match)
            .filter(~granted_key("birthday", f":{year}"))
            .order_by("pk")
        )
        celebrated = {(m, d): day for day, m, d in items}
        for account in in_chunks(candidates.select_related("customer", "program", "profile")):
            born = account.profile.birth_date  # the date this programme collected
            day = celebrated[(born.month, born.day)]
            yield Bonus(
                account=account,
                key=f"birthday:{account.pk}:{year}",
                points=config.birthday_points,
                lifetime_days=config.birthday_lifetime_days,
                description=_("Birthday bonus"),
                meta={"birthday": day.isoformat()},
                event="birthday_bonus",
                context={
                    "points": config.birthday_points,
                    "expires_at": bonus_expires_at(prog, now, config.birthday_lifetime_days),
                    "birthday": day,
                },
            )


def birthday_bonuses(*, now: datetime, program: Program | None = None) -> TriggerRun:
    """Grant the birthday bonus to every member whose birthday window includes today.

    "Today" is the programme's local date. Members already granted for that birthday are
    skipped in SQL; a rerun (or a run every hour) grants nothing twice.
    """
    return bonuses_run(
        trigger="birthday",
        points_field="birthday_points",
        bonuses=lambda config: _birthday_bonuses(config, now=now),
        program=program,
        now=now,
    )
