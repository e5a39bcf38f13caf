"""Members by tier at a day's end: the nightly snapshot plus the ledger rows after its marks.

REPORTS.md: ``members.by_tier`` counts the members who joined on or before ``to`` (the earlier
of the account's opening and its first check) by their tier *now*. Counting that from the
accounts reads every account of the programme; instead the nightly refresh counts them once
into ``TierCount`` (per joining day and tier) as of three marks — the highest account, check
and tier change ids it counted — and a report adds what changed after them:

- accounts opened after the account mark: counted as they are now;
- accounts of the snapshot whose tier changed since (``TierChange`` rows above the change
  mark), or whose joining moved earlier (an offline check above the check mark, dated before
  the latest opening the snapshot counted): taken out where the snapshot counted them (their
  tier then: the previous tier of their first later change; their joining from the checks up
  to the mark) and counted where they are now.

A row written in a transaction that committed after the snapshot read the table but with an
id below its mark is seen by neither (the same late-commit gap as the daily aggregates' marks);
the next night's snapshot counts it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    Exists,
    F,
    Max,
    Min,
    OuterRef,
    Subquery,
    When,
)
from django.db.models.functions import TruncDate

from loyalty.ledger.models import Account, Check, TierChange
from reports.models import TierCount
from reports.periods import local_day, zone
from reports.selectors.days import join_instant


@dataclass(frozen=True)
class TierMarks:
    account: int
    check: int
    change: int


def current_marks(program) -> TierMarks:
    """The highest account, check and tier change ids of the programme now."""
    return TierMarks(
        account=Account.objects.filter(program=program).aggregate(m=Max("pk"))["m"] or 0,
        check=Check.objects.filter(program=program).aggregate(m=Max("pk"))["m"] or 0,
        change=TierChange.objects.filter(program=program).aggregate(m=Max("pk"))["m"] or 0,
    )


def tier_then(program, change_mark: int, account: str = "pk"):
    """An account's tier as of ``change_mark``: the previous tier of its first later change,
    or its tier now when it has none (``account``: the account's key in the queryset)."""
    tier_now = F("tier_id" if account == "pk" else "account__tier_id")
    if not TierChange.objects.filter(program=program, pk__gt=change_mark).exists():
        return tier_now
    later = TierChange.objects.filter(account=OuterRef(account), pk__gt=change_mark).order_by("pk")
    return Case(
        When(Exists(later), then=Subquery(later.values("old_tier_id")[:1])),
        default=tier_now,
        output_field=BigIntegerField(),
    )


def snapshot_rows(
    program, marks: TierMarks
) -> tuple[list[tuple[date, int | None, int]], datetime | None]:
    """(joining day, tier id, members) of the accounts up to the marks, and the latest opening
    among them (a later check dated before it may move a joining).

    Counted by the day of opening, then the few members whose first check (up to the check
    mark) came before their opening are moved to that check's day: one pass over the accounts
    and one join of the checks dated before their account's opening, instead of a probe for
    the first check of every account.
    """
    tz = zone(program)
    accounts = Account.objects.filter(program=program, pk__lte=marks.account)
    counts: dict[tuple[date, int | None], int] = defaultdict(int)
    opened = (
        accounts.annotate(
            tier_then=tier_then(program, marks.change), day=TruncDate("enrolled_at", tzinfo=tz)
        )
        .values("day", "tier_then")
        .annotate(members=Count("id"))
        .order_by()
        .values_list("day", "tier_then", "members")
    )
    for day, tier_id, n in opened:
        counts[(day, tier_id)] += n
    early = (
        Check.objects.filter(
            program=program,
            pk__lte=marks.check,
            account__pk__lte=marks.account,
            occurred_at__lt=F("account__enrolled_at"),
        )
        .values("account_id")
        .annotate(
            first=Min("occurred_at"),
            opened=Min("account__enrolled_at"),
            tier_then=Min(tier_then(program, marks.change, account="account_id")),
        )
        .values_list("tier_then", "opened", "first")
    )
    for tier_id, opened_at, first in early:
        counts[(local_day(program, opened_at), tier_id)] -= 1
        counts[(local_day(program, first), tier_id)] += 1
    latest = accounts.aggregate(m=Max("enrolled_at"))["m"]
    return [(day, tier_id, n) for (day, tier_id), n in counts.items() if n], latest


def snapshot_counts(
    program, lasts: list[date], marks: TierMarks, joined_before: datetime | None
) -> list[dict[int | None, int]]:
    """For each day of ``lasts``: tier id → members joined on or before it, by tier now."""
    counts: list[dict[int | None, int]] = [defaultdict(int) for _ in lasts]

    def add(day: date, tier_id: int | None, n: int) -> None:
        for k, last in enumerate(lasts):
            if day <= last:
                counts[k][tier_id] += n

    for day, tier_id, n in TierCount.objects.filter(program=program).values_list(
        "day", "tier_id", "members"
    ):
        add(day, tier_id, n)
    opened = Account.objects.filter(program=program, pk__gt=marks.account)
    for tier_id, at in opened.annotate(joined=join_instant("pk")).values_list("tier_id", "joined"):
        add(local_day(program, at), tier_id, 1)
    changed = set(
        TierChange.objects.filter(program=program, pk__gt=marks.change).values_list(
            "account_id", flat=True
        )
    )
    if joined_before is not None:
        changed |= set(
            Check.objects.filter(
                program=program,
                pk__gt=marks.check,
                account_id__lte=marks.account,
                account__isnull=False,
                occurred_at__lt=joined_before,
            ).values_list("account_id", flat=True)
        )
    if changed:
        moved = (
            Account.objects.filter(pk__in=changed, pk__lte=marks.account)
            .annotate(
                tier_then=tier_then(program, marks.change),
                joined_then=join_instant("pk", check_mark=marks.check),
                joined=join_instant("pk"),
            )
            .values_list("tier_then", "joined_then", "tier_id", "joined")
        )
        for old_tier, then, tier_id, now in moved:
            add(local_day(program, then), old_tier, -1)
            add(local_day(program, now), tier_id, 1)
    return counts
