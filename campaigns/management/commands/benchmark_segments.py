"""Measure the nightly segment refresh on N customers.

    manage.py benchmark_segments --customers 1000000

Builds a throw-away programme (``bench-seg-…``) with N customers and accounts and about three
checks per account over the last year, all with ``INSERT … SELECT`` over a recursive series
(the same SQL on PostgreSQL and SQLite; "random" values are hashes of the row number, so runs
are repeatable). Then times, for that programme only: the first refresh of every segment (all
joiners), a steady-state refresh a day later (joiners and leavers), the RFM scores, a campaign's
10 % control-group draw and the engine's per-check segment lookup. Drops everything afterwards
unless ``--keep``.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from campaigns.audience import campaign_audience_assign
from campaigns.models import (
    Campaign,
    CampaignMember,
    RfmScore,
    Segment,
    SegmentMembership,
)
from campaigns.providers import customer_state
from campaigns.rfm import rfm_refresh
from campaigns.segments import CHUNK, segment_refresh, segments_for_program
from customers.models import Customer
from loyalty.ledger.models import Account, Check
from loyalty.rules.models import Outlet, Program, Tier

CHECKS_PER_ACCOUNT = 6  # 0…6 checks, about three on average

EXTRA_SEGMENTS = {
    "gold-or-big-spenders-with-sms": {
        "all": [
            {"field": "consent_sms", "op": "is", "value": True},
            {
                "any": [
                    {"field": "tier", "op": "in", "value": ["gold"]},
                    {"field": "monetary", "op": "gte", "value": "20000", "period_days": 180},
                ]
            },
        ]
    },
    "birthday-this-month-active": {
        "all": [
            {"field": "birthday_month", "op": "current"},
            {"field": "recency_days", "op": "lte", "value": 180},
        ]
    },
}


def _series(n: int) -> str:
    return (
        "WITH RECURSIVE series(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM series"
        f" WHERE i < {int(n)})"
    )


def _uuid_sql() -> str:
    if connection.vendor == "postgresql":
        return "gen_random_uuid()"
    return "lower(hex(randomblob(16)))"


def _insert(model, values: dict[str, str], source: str) -> tuple[str, list]:
    """INSERT … SELECT naming every concrete column: the given expression, else its default.

    Listing every column keeps the command working when a model gains a field with a default.
    """
    columns, exprs, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key and field.column not in values:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.column in values:
            exprs.append(values[field.column])
            continue
        default = field.get_default()
        exprs.append("%s")
        params.append(field.get_db_prep_save(default, connection))
    table = connection.ops.quote_name(model._meta.db_table)
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(exprs)} {source}", params


class Command(BaseCommand):
    help = "Benchmark the segment refresh on N generated customers (PostgreSQL for the figure)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=1_000_000)
        parser.add_argument("--chunk-size", type=int, default=CHUNK)
        parser.add_argument("--keep", action="store_true", help="keep the data afterwards")
        parser.add_argument(
            "--program", help="measure again on a programme an earlier --keep run left (kept)"
        )

    def handle(self, *args, customers, chunk_size, keep, program, **opts):
        if customers <= 0:
            raise CommandError("--customers must be positive")
        now = timezone.now()
        if program:
            try:
                prog = Program.objects.get(code=program, code__startswith="bench-seg-")
            except Program.DoesNotExist:
                raise CommandError(f"no benchmark programme {program}") from None
            self._reset(prog)
            self.stdout.write(
                f"{connection.vendor}: {prog.accounts.count()} customers, programme {prog.code}"
            )
            self._measure(prog, now, chunk_size)
            return
        tag = uuid.uuid4().hex[:8]
        prog = Program.objects.create(code=f"bench-seg-{tag}", name="Segment benchmark")
        self.stdout.write(f"{connection.vendor}: {customers} customers, programme {prog.code}")
        try:
            started = time.perf_counter()
            checks = self._build(prog, customers, now, tag)
            self.stdout.write(
                f"built {customers} accounts and {checks} checks"
                f" in {time.perf_counter() - started:.1f} s"
            )
            for code, conditions in EXTRA_SEGMENTS.items():
                Segment.objects.create(program=prog, code=code, name=code, conditions=conditions)
            self._measure(prog, now, chunk_size)
        finally:
            if keep:
                self.stdout.write(f"kept programme {prog.code}")
            else:
                self._drop(prog)

    def _reset(self, program) -> None:
        """Forget earlier measurements on a kept programme (its generated data stays)."""
        q = connection.ops.quote_name
        accounts = f"SELECT id FROM {q(Account._meta.db_table)} WHERE program_id = %s"
        with transaction.atomic(), connection.cursor() as cursor:
            for model in (SegmentMembership, CampaignMember, RfmScore):
                cursor.execute(
                    f"DELETE FROM {q(model._meta.db_table)} WHERE account_id IN ({accounts})",
                    [program.pk],
                )
            Campaign.objects.filter(program=program).delete()
            for code, conditions in EXTRA_SEGMENTS.items():
                Segment.objects.get_or_create(
                    program=program, code=code, defaults={"name": code, "conditions": conditions}
                )
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for model in (SegmentMembership, CampaignMember):
                    cursor.execute(f"ANALYZE {q(model._meta.db_table)}")

    # --- measuring ----------------------------------------------------------------------------

    def _refresh_all(self, program, now, chunk_size, label):
        total = time.perf_counter()
        rows = []
        for segment in segments_for_program(program):
            result = segment_refresh(segment, program=program, now=now, chunk=chunk_size)
            size = SegmentMembership.objects.filter(
                segment=segment, account__program=program
            ).count()
            rows.append((segment.code, size, result.joined, result.left, result.seconds))
        elapsed = time.perf_counter() - total
        for code, size, joined, left, seconds in rows:
            self.stdout.write(
                f"  {code:32} {size:>9} members  +{joined:<8} -{left:<8} {seconds:7.2f} s"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"SEGMENT REFRESH ({label}): {len(rows)} segments in {elapsed:.2f} s"
            )
        )
        return elapsed

    def _measure(self, program, now, chunk_size):
        self._refresh_all(program, now, chunk_size, "first run, everyone joins")
        self._refresh_all(program, now + timedelta(days=1), chunk_size, "next night")

        started = time.perf_counter()
        rfm = rfm_refresh(program=program, now=now)
        self.stdout.write(
            self.style.SUCCESS(
                f"RFM: {rfm.accounts} accounts in {time.perf_counter() - started:.2f} s"
            )
        )

        sleeping = Segment.objects.get(program__isnull=True, code="sleeping")
        campaign = Campaign.objects.create(
            program=program,
            code="bench",
            name="Bench",
            starts_at=now,
            segment=sleeping,
            control_percent=Decimal("10"),
        )
        started = time.perf_counter()
        drawn = campaign_audience_assign(campaign, now=now, chunk=chunk_size)
        self.stdout.write(
            self.style.SUCCESS(
                f"CONTROL DRAW: {drawn.assigned} members, {drawn.control} in control"
                f" in {time.perf_counter() - started:.2f} s"
            )
        )

        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for model in (SegmentMembership, CampaignMember):
                    cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
        sample = list(Account.objects.filter(program=program).order_by("pk")[:500])
        started = time.perf_counter()
        for account in sample:
            customer_state(account, now)
        per_call = (time.perf_counter() - started) / max(len(sample), 1) * 1000
        self.stdout.write(f"customer_state provider: {per_call:.2f} ms per check")

    # --- data ---------------------------------------------------------------------------------

    def _build(self, program, n, now, tag) -> int:
        tiers = [
            Tier.objects.create(program=program, code=code, name=code, rank=rank, threshold=t)
            for rank, (code, t) in enumerate((("base", 0), ("silver", 20000), ("gold", 60000)))
        ]
        outlets = [
            Outlet.objects.create(program=program, code=f"o{i}", name=f"Outlet {i}")
            for i in range(5)
        ]
        pg = connection.vendor == "postgresql"
        # Generated values only (no user input), so they are written into the SQL directly;
        # the only placeholders are the model defaults of columns not listed here.
        stamp = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

        def ago(days_expr: str) -> str:
            if pg:
                return f"(TIMESTAMPTZ '{stamp}+00' - ({days_expr}) * INTERVAL '1 day')"
            return f"datetime('{stamp}', '-' || ({days_expr}) || ' days')"

        def before(column: str, days_expr: str) -> str:
            if pg:
                return f"({column} - ({days_expr}) * INTERVAL '1 day')"
            return f"datetime({column}, '-' || ({days_expr}) || ' days')"

        # One account in twenty spends big (VIP material).
        amount = "100 + (a.id * s.i * 37) %% 5000 + CASE WHEN a.id %% 20 = 0 THEN 15000 ELSE 0 END"
        birth = (
            "make_date(1960 + (i * 7) %% 45, 1 + (i * 13) %% 12, 1 + (i * 17) %% 28)"
            if pg
            else "printf('%%04d-%%02d-%%02d', 1960 + (i * 7) %% 45, 1 + (i * 13) %% 12,"
            " 1 + (i * 17) %% 28)"
        )
        customer_sql, customer_params = _insert(
            Customer,
            {
                "public_id": _uuid_sql(),
                "first_name": "'Bench'",
                "last_name": f"'{tag}'",
                "referral_code": f"'S{tag}' || i",
                "registered_at": ago("400 + i %% 500"),
                "birth_date": f"CASE WHEN i %% 10 = 0 THEN NULL ELSE {birth} END",
                "consent_sms": "(i %% 3 = 0)",
                "consent_email": "(i %% 2 = 0)",
            },
            f"FROM ({_series(n)} SELECT i FROM series) s",
        )
        x = "((c.id * 7919) %% 1000)"
        account_sql, account_params = _insert(
            Account,
            {
                "program_id": str(program.pk),
                "customer_id": "c.id",
                "tier_id": (
                    f"CASE WHEN c.id %% 10 = 0 THEN {tiers[2].pk}"
                    f" WHEN c.id %% 10 < 3 THEN {tiers[1].pk} ELSE {tiers[0].pk} END"
                ),
                "tier_since": ago("400"),
                "lifetime_spend": "(c.id * 7919) %% 90000",
                "lifetime_visits": "(c.id * 31) %% 40",
                # Skewed to recent: x⁴/2·10⁹ days for x in 0…999, about a third past 90.
                "last_purchase_at": (
                    f"CASE WHEN c.id %% 11 = 0 THEN NULL"
                    f" ELSE {ago(f'{x} * {x} * {x} * {x} / 2000000000')} END"
                ),
                "enrolled_at": ago("(c.id * 40503) %% 900"),
                "enrolled_outlet_id": "CASE c.id %% 5 "
                + " ".join(f"WHEN {i} THEN {o.pk}" for i, o in enumerate(outlets))
                + " END",
            },
            f"FROM {connection.ops.quote_name(Customer._meta.db_table)} c"
            f" WHERE c.last_name = '{tag}'",
        )
        check_sql, check_params = _insert(
            Check,
            {
                "public_id": _uuid_sql(),
                "program_id": str(program.pk),
                "outlet_id": "a.enrolled_outlet_id",
                "account_id": "a.id",
                "receipt_number": f"'B{tag}-' || a.id || '-' || s.i",
                "status": "CASE WHEN (a.id + s.i) %% 17 = 0 THEN 'cancelled' ELSE 'completed' END",
                "channel": "'offline'",
                # The latest check is the account's last purchase, the others every few days.
                "occurred_at": before("a.last_purchase_at", "(s.i - 1) * (3 + a.id %% 40)"),
                "subtotal": amount,
                "payable": amount,
                "breakdown": "'[]'",
                "created_at": ago("0"),
            },
            f"FROM {connection.ops.quote_name(Account._meta.db_table)} a"
            f" JOIN ({_series(CHECKS_PER_ACCOUNT)} SELECT i FROM series) s"
            f" ON s.i <= (a.id * 48271) %% {CHECKS_PER_ACCOUNT + 1}"
            f" WHERE a.program_id = {program.pk} AND a.last_purchase_at IS NOT NULL",
        )
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(customer_sql, customer_params)
            cursor.execute(account_sql, account_params)
            cursor.execute(check_sql, check_params)
            checks = max(cursor.rowcount, 0)
        if pg:
            with connection.cursor() as cursor:
                for model in (Customer, Account, Check, SegmentMembership):
                    cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
        return checks

    def _drop(self, program) -> None:
        started = time.perf_counter()
        q = connection.ops.quote_name
        accounts = f"SELECT id FROM {q(Account._meta.db_table)} WHERE program_id = %s"
        with transaction.atomic(), connection.cursor() as cursor:
            for model in (SegmentMembership, CampaignMember, RfmScore):
                cursor.execute(
                    f"DELETE FROM {q(model._meta.db_table)} WHERE account_id IN ({accounts})",
                    [program.pk],
                )
            Campaign.objects.filter(program=program).delete()
            Segment.objects.filter(program=program).delete()
            cursor.execute(
                f"DELETE FROM {q(Check._meta.db_table)} WHERE program_id = %s", [program.pk]
            )
            cursor.execute(
                f"DELETE FROM {q(Account._meta.db_table)} WHERE program_id = %s", [program.pk]
            )
            cursor.execute(
                f"DELETE FROM {q(Customer._meta.db_table)} WHERE last_name = %s",
                [program.code.removeprefix("bench-seg-")],
            )
            Outlet.objects.filter(program=program).delete()
            Tier.objects.filter(program=program).delete()
            Program.objects.filter(pk=program.pk).delete()
        self.stdout.write(f"dropped the benchmark data in {time.perf_counter() - started:.1f} s")
