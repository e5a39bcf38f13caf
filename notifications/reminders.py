"""The daily reminder about points that expire in N days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction

from customers.models import Customer
from loyalty.ledger.models import Account
from loyalty.ledger.selectors import expiring_points
from loyalty.rules.models import Program
from notifications.contexts import balance_data, points
from notifications.services import dispatch_soon, message_enqueue


@dataclass(frozen=True)
class ReminderResult:
    customers: int
    messages: int


def _windows(program: Program, now: datetime, offsets) -> list[tuple[datetime, datetime]]:
    """[start, end) of the programme-local days ``offsets`` days after today."""
    zone = ZoneInfo(program.timezone)
    today = now.astimezone(zone).date()
    out = []
    for offset in sorted(set(offsets)):
        day = today + timedelta(days=offset)
        start = datetime.combine(day, time.min, tzinfo=zone)
        out.append((start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)))
    return out


def expiry_reminders_send(
    *, now: datetime, days: list[int] | None = None, chunk_size: int = 500
) -> ReminderResult:
    """Remind every customer whose points expire on a day ``days`` ahead (default
    NOTIFICATIONS_EXPIRY_REMINDER_DAYS, e.g. 7 and 1) in their programme's time zone.

    One message per customer and programme per day, listing each expiry date with its
    points; the key ``points_expiring:<account>:<local date>`` makes a re-run a no-op. Each
    chunk of accounts is one transaction; the dispatcher is queued once at the end.
    """
    offsets = days if days is not None else settings.NOTIFICATIONS_EXPIRY_REMINDER_DAYS
    customers = messages = 0
    for program in Program.objects.filter(is_active=True).order_by("pk"):
        windows = _windows(program, now, offsets)
        local_day = now.astimezone(ZoneInfo(program.timezone)).date().isoformat()
        last = 0
        while True:
            batch = expiring_points(
                program_id=program.pk, windows=windows, after_account_id=last, limit=chunk_size
            )
            if not batch:
                break
            last = batch[-1].account_id
            accounts = Account.objects.select_related("program").in_bulk(
                [b.account_id for b in batch]
            )
            people = Customer.objects.in_bulk([b.customer_id for b in batch])
            with transaction.atomic():
                for item in batch:
                    account = accounts[item.account_id]
                    written = message_enqueue(
                        customer=people[item.customer_id],
                        program=program,
                        event="points_expiring",
                        context={
                            **balance_data(account, now=now),
                            "total": points(program, item.total),
                            "items": [
                                {"date": at, "points": points(program, amount)}
                                for at, amount in item.items
                            ],
                            "first_date": item.items[0][0],
                        },
                        idempotency_key=f"points_expiring:{account.pk}:{local_day}",
                        now=now,
                        dispatch=False,
                    )
                    customers += 1
                    messages += len(written)
    if messages:
        transaction.on_commit(dispatch_soon, robust=True)
    return ReminderResult(customers=customers, messages=messages)
