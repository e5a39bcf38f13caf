"""Measure the reports at scale on PostgreSQL: build, aggregate a day, rebuild, dashboard.

    manage.py benchmark_reports --customers 1000000 --entries 10000000 --days 365

Everything lives in a throw-away programme (``bench-reports-…``), deleted afterwards unless
``--keep``. The data is written with set-based SQL (``generate_series``): customers, one
account each, member and anonymous checks spread evenly over the last ``--days`` days (today
included, so the dashboard's live part has work); each member check goes to an account drawn
at random, skewed towards frequent buyers (account index ∝ u^1.5), and 70 % of a member's
checks to its home outlet, the rest to any (so visits have irregular gaps and outlets mix);
one check operation per member check with two earned lots (base rate and a rule), every
fourth lot partly redeemed, a campaign with a 10 % audience (a tenth of it control) whose rule
awarded on 1 % of the checks, 1 % of checks cancelled. Check lines and refunds are not
generated (refund values are per refund and tiny). Ids rise with the clock, entries included,
as the ledger writes them; the tables are vacuumed after the build, as autovacuum would.

Times: the nightly aggregation of one day (yesterday), a full rebuild of every day, the
nightly tier snapshot, and the dashboard (all KPIs with the previous period, series, outlets,
tiers, cohorts, campaigns) for the last 30 and 365 days, read from the aggregates plus today
live — with the marks as the nightly refresh at today's start would have left them, so that
today's ledger rows are the live part. ``--now`` builds (or measures a kept dataset) as of a
given instant.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from campaigns.models import Campaign, CampaignMember, CampaignRule
from customers.models import Customer
from loyalty.ledger.models import (
    Account,
    Check,
    Entry,
    Lot,
    MemberProfile,
    Operation,
    RuleAward,
    TierChange,
)
from loyalty.rules.models import EarnRule, Outlet, Program, Tier
from reports.models import (
    ActivityCell,
    AggregationState,
    CampaignDay,
    CohortMonth,
    MemberDay,
    MemberVisit,
    OutletDay,
    ProgramDay,
    TierCount,
)
from reports.periods import Period, day_start, local_today
from reports.selectors.dashboard import dashboard
from reports.selectors.tiers import TierMarks
from reports.services import aggregates_rebuild, tiers_snapshot

REPORT_TABLES = (
    ProgramDay,
    OutletDay,
    MemberDay,
    MemberVisit,
    ActivityCell,
    CampaignDay,
    CohortMonth,
    TierCount,
)
ENTRIES_PER_CHECK = 2.5  # two earned lots, a quarter of them partly redeemed


class Command(BaseCommand):
    help = "Benchmark the reports: N customers, M ledger entries (PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=1_000_000)
        parser.add_argument("--entries", type=int, default=10_000_000)
        parser.add_argument("--days", type=int, default=365, help="days of history")
        parser.add_argument("--outlets", type=int, default=20)
        parser.add_argument("--keep", action="store_true", help="keep the data afterwards")
        parser.add_argument("--program", help="reuse a kept benchmark programme (skips the build)")
        parser.add_argument("--skip-rebuild", action="store_true", help="no full rebuild")
        parser.add_argument(
            "--now",
            help="build (or, with --program, measure) as of this ISO instant, so that 'today' "
            "holds a day of live checks however late it is measured; not in the future",
        )

    def handle(
        self, *args, customers, entries, days, outlets, keep, program, skip_rebuild, now, **o
    ):
        if connection.vendor != "postgresql":
            raise CommandError("benchmark_reports needs PostgreSQL (DATABASE_URL=postgres://…)")
        if customers <= 0 or entries <= 0 or days <= 1:
            raise CommandError("--customers, --entries must be positive and --days above 1")
        if now:
            try:
                now = datetime.fromisoformat(now)
            except ValueError as exc:
                raise CommandError(f"--now: not an ISO date and time: {now!r}") from exc
            if timezone.is_naive(now):
                raise CommandError("--now: give the offset, e.g. 2026-12-01T20:00:00+00:00")
            if now > timezone.now():
                raise CommandError("--now: in the future")
        else:
            now = timezone.now()
        if program:
            prog = Program.objects.filter(code=program).first()
            if prog is None:
                raise CommandError(f"--program: no programme {program!r}")
            keep = True
        else:
            prog = Program.objects.create(
                code=f"bench-reports-{uuid.uuid4().hex[:8]}",
                name="Reports benchmark",
                timezone="Europe/Moscow",
                lifetime_days=365,
                gross_margin="0.35",
            )
        try:
            if not program:
                started = time.perf_counter()
                self._build(prog, customers, entries, days, outlets, now)
                self.stdout.write(f"built in {time.perf_counter() - started:.1f} s")
            self._sizes(prog)
            self._measure(prog, now, days, skip_rebuild)
        finally:
            if keep:
                self.stdout.write(f"kept programme {prog.code} (built as of {now.isoformat()})")
            else:
                self._drop(prog)

    # --- measurements ----------------------------------------------------------------------------

    def _measure(self, program, now, days, skip_rebuild):
        today = local_today(program, now)
        yesterday = today - timedelta(days=1)
        first = today - timedelta(days=days - 1)
        started = time.perf_counter()
        result = aggregates_rebuild(program=program, first=yesterday, last=yesterday, now=now)
        self.stdout.write(
            self.style.SUCCESS(
                f"ONE DAY: {yesterday} aggregated ({result.member_rows} member rows) in "
                f"{time.perf_counter() - started:.2f} s"
            )
        )
        if not skip_rebuild:
            started = time.perf_counter()
            result = aggregates_rebuild(program=program, first=first, last=yesterday, now=now)
            elapsed = time.perf_counter() - started
            self.stdout.write(
                self.style.SUCCESS(
                    f"REBUILD: {result.days} days, {result.months} months, "
                    f"{result.member_rows} member rows in {elapsed:.1f} s"
                )
            )
        self._as_left_by_the_night(program, today)
        with connection.cursor() as cursor:
            # What autovacuum does after a bulk write: statistics, and the visibility map that
            # lets the live members' corrections read the indexes alone.
            for model in REPORT_TABLES:
                cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
        for span in (30, 365):
            period = Period(today - timedelta(days=span - 1), today)
            timings = []
            for _ in range(3):
                started = time.perf_counter()
                board = dashboard(program=program, period=period, now=now)
                timings.append(time.perf_counter() - started)
            self.stdout.write(
                self.style.SUCCESS(
                    f"DASHBOARD {span} days: best {min(timings):.2f} s, first "
                    f"{timings[0]:.2f} s (members {board.kpis['members']['total']}, "
                    f"member checks {board.kpis['checks']['member']}, "
                    f"active {board.kpis['members']['active']})"
                )
            )

    def _as_left_by_the_night(self, program, today) -> None:
        """The marks as the nightly refresh at today's start would have left them.

        The build wrote today's rows together with the history, so the rebuild's marks cover
        them; a real day starts with the marks below today's first rows, so the dashboard's
        live part reads today's ledger rows after them (the ids rise with the clock).
        """
        start = day_start(program, today)
        before = {"operation__occurred_at__lt": start}
        marks = {
            "last_operation_id": Operation.objects.filter(program=program, occurred_at__lt=start),
            "last_check_id": Check.objects.filter(program=program, occurred_at__lt=start),
            "last_account_id": Account.objects.filter(program=program, enrolled_at__lt=start),
            "last_entry_id": Entry.objects.filter(operation__program=program, **before),
        }
        marks = {name: rows.aggregate(m=Max("pk"))["m"] or 0 for name, rows in marks.items()}
        ProgramDay.objects.filter(program=program, day__lt=today).update(
            entry_mark=marks["last_entry_id"]
        )
        AggregationState.objects.update_or_create(
            program=program, defaults={**marks, "updated_at": start}
        )
        tier_marks = TierMarks(
            account=marks["last_account_id"],
            check=marks["last_check_id"],
            change=TierChange.objects.filter(program=program, changed_at__lt=start).aggregate(
                m=Max("pk")
            )["m"]
            or 0,
        )
        started = time.perf_counter()
        members = tiers_snapshot(program=program, now=start, marks=tier_marks)
        self.stdout.write(
            self.style.SUCCESS(
                f"TIERS: {members} members counted by joining day and tier in "
                f"{time.perf_counter() - started:.2f} s (the nightly snapshot)"
            )
        )

    def _sizes(self, program):
        counts = {
            "customers/accounts": Account.objects.filter(program=program).count(),
            "checks": Check.objects.filter(program=program).count(),
            "operations": Operation.objects.filter(program=program).count(),
            "lots": Lot.objects.filter(account__program=program).count(),
            "entries": Entry.objects.filter(account__program=program).count(),
        }
        self.stdout.write("size: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))

    # --- data ------------------------------------------------------------------------------------

    def _build(self, program, n_customers, n_entries, days, n_outlets, now):
        base = Tier.objects.create(program=program, code="base", name="Base", rank=0)
        silver = Tier.objects.create(
            program=program, code="silver", name="Silver", rank=1, threshold=10000
        )
        outlet_ids = [
            Outlet.objects.create(program=program, code=f"o{n}", name=f"Outlet {n}").pk
            for n in range(n_outlets)
        ]
        rule = EarnRule.objects.create(
            program=program,
            code="bench-campaign",
            kind="fixed_per_item",
            points=10,
            is_active=False,
        )
        campaign = Campaign.objects.create(
            program=program,
            code="bench",
            name="Benchmark campaign",
            starts_at=now - timedelta(days=days // 2),
            launched_at=now - timedelta(days=days // 2),
            status="running",
        )
        CampaignRule.objects.create(campaign=campaign, rule=rule)
        member_checks = int(n_entries / ENTRIES_PER_CHECK)
        anonymous_checks = member_checks // 4
        t0 = now - timedelta(days=days - 1)
        p = {
            "program": program.pk,
            "n": n_customers,
            "tag": program.code,
            "t0": t0,
            "span": (now - t0).total_seconds(),
            "checks": member_checks + anonymous_checks,
            "every_anon": 5,
            "outlets": outlet_ids,
            "base": base.pk,
            "silver": silver.pk,
            "rule": rule.pk,
            "campaign": campaign.pk,
            "campaign_start": campaign.launched_at,
        }
        names = {
            "customer": Customer._meta.db_table,
            "account": Account._meta.db_table,
            "check": Check._meta.db_table,
            "operation": Operation._meta.db_table,
            "lot": Lot._meta.db_table,
            "entry": Entry._meta.db_table,
            "award": RuleAward._meta.db_table,
            "member": CampaignMember._meta.db_table,
        }

        def run(label, sql):
            started = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(sql.format(**names), p)
                rows = cursor.rowcount
            self.stdout.write(f"  {label}: {rows:,} rows in {time.perf_counter() - started:.1f} s")

        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                if cursor.fetchone()[0]:
                    # Every key comes from rows just inserted: skip the per-row foreign-key
                    # checks, most of the build's time (a superuser only; this transaction).
                    cursor.execute("SET LOCAL session_replication_role = replica")
                cursor.execute("SELECT setseed(0.42)")  # the same dataset on every run
            run(
                "customers",
                """
                INSERT INTO {customer} (public_id, phone, email, card_number, first_name,
                    last_name, registered_at, referral_code, consent_sms, consent_email,
                    is_blocked, blocked_reason)
                SELECT md5(%(tag)s || g)::uuid, NULL, '', NULL, 'Bench', %(tag)s, %(t0)s,
                       substr(md5(%(tag)s || 'r' || g), 1, 16), false, false, false, ''
                FROM generate_series(1, %(n)s) g
                """,
            )
            run(
                "accounts",
                """
                INSERT INTO {account} (program_id, customer_id, tier_id, tier_since, available,
                    pending, held, lifetime_spend, lifetime_visits, lifetime_earned, enrolled_at)
                SELECT %(program)s, c.id, CASE WHEN c.id %% 10 = 0 THEN %(silver)s
                       ELSE %(base)s END, %(t0)s, 0, 0, 0, 0, 0, 0,
                       %(t0)s + make_interval(secs => (c.id %% 997) / 997.0 * %(span)s * 0.9)
                FROM {customer} c WHERE c.last_name = %(tag)s
                """,
            )
            run(
                "checks",
                """
                WITH acc AS (SELECT min(id) AS a0, count(*) AS n FROM {account}
                             WHERE program_id = %(program)s),
                draws AS (SELECT g, random() AS who, random() AS away, random() AS where_
                          FROM generate_series(1, %(checks)s) g)
                INSERT INTO {check} (public_id, program_id, outlet_id, account_id,
                    receipt_number, status, channel, occurred_at, subtotal, discount, payable,
                    redeemed_points, earned_points, refunded_amount, tier_code, breakdown,
                    coupon_discount, coupons, created_at)
                SELECT gen_random_uuid(), %(program)s,
                       (%(outlets)s::bigint[])[1 + CASE
                           WHEN away < 0.3 OR g %% %(every_anon)s = 0
                           THEN floor(where_ * cardinality(%(outlets)s::bigint[]))::int
                           ELSE (floor(power(who, 1.5) * acc.n)::bigint
                                 %% cardinality(%(outlets)s::bigint[]))::int END],
                       CASE WHEN g %% %(every_anon)s = 0 THEN NULL
                            ELSE acc.a0 + floor(power(who, 1.5) * acc.n)::bigint END,
                       'B' || g, CASE WHEN g %% 100 = 1 THEN 'cancelled' ELSE 'completed' END,
                       'offline',
                       %(t0)s + make_interval(secs => g::float / %(checks)s * %(span)s),
                       100 + (g %% 4900), 0, 100 + (g %% 4900), 0, 0, 0, '', '[]', 0, '[]',
                       %(t0)s + make_interval(secs => g::float / %(checks)s * %(span)s)
                FROM draws CROSS JOIN acc
                """,
            )
            run(
                "operations",
                """
                INSERT INTO {operation} (public_id, program_id, account_id, kind, source,
                    idempotency_key, check_id, points, description, reason, meta, occurred_at,
                    created_at)
                SELECT gen_random_uuid(), %(program)s, c.account_id, 'check', 'bench',
                       'c' || c.id, c.id, 0, '', '', '{{}}', c.occurred_at, c.occurred_at
                FROM {check} c WHERE c.program_id = %(program)s AND c.account_id IS NOT NULL
                """,
            )
            run(
                "lots",
                """
                INSERT INTO {lot} (account_id, operation_id, kind, amount, remaining,
                    available_at, expires_at, rule_code, created_at)
                SELECT o.account_id, o.id, 'earn', 5 + (o.id %% 50),
                       CASE WHEN k = 0 AND o.id %% 2 = 0 THEN (5 + (o.id %% 50)) / 2
                            ELSE 5 + (o.id %% 50) END,
                       o.occurred_at, o.occurred_at + interval '365 days',
                       CASE WHEN k = 0 THEN 'base' ELSE 'rule' END, o.occurred_at
                FROM {operation} o CROSS JOIN generate_series(0, 1) k
                WHERE o.program_id = %(program)s
                """,
            )
            run(
                "entries",
                """
                INSERT INTO {entry} (operation_id, account_id, lot_id, kind, amount, created_at)
                SELECT l.operation_id, l.account_id, l.id, m.kind, m.amount, l.created_at
                FROM {lot} l JOIN {account} a ON a.id = l.account_id
                CROSS JOIN LATERAL (VALUES ('earn', l.amount),
                                           ('redeem', l.remaining - l.amount)) m(kind, amount)
                WHERE a.program_id = %(program)s
                  AND (m.kind = 'earn' OR l.remaining < l.amount)
                -- in time order, as the ledger writes them: ids that rise with the clock
                ORDER BY l.created_at, l.id, m.kind
                """,
            )
            run(
                "rule awards",
                """
                INSERT INTO {award} (operation_id, account_id, rule_id, rule_code, points,
                    cancelled, created_at)
                SELECT o.id, o.account_id, %(rule)s, 'bench-campaign', 10, false, o.occurred_at
                FROM {operation} o
                WHERE o.program_id = %(program)s AND o.id %% 100 = 7
                  AND o.occurred_at >= %(campaign_start)s
                """,
            )
            run(
                "campaign audience",
                """
                INSERT INTO {member} (campaign_id, account_id, is_control, assigned_at)
                SELECT %(campaign)s, a.id, a.id %% 100 < 1, %(t0)s
                FROM {account} a WHERE a.program_id = %(program)s AND a.id %% 10 = 3
                """,
            )
            run(
                "balances",
                """
                UPDATE {account} a SET available = s.total
                FROM (SELECT account_id, SUM(remaining) AS total FROM {lot} l
                      WHERE l.account_id IN (SELECT id FROM {account}
                                             WHERE program_id = %(program)s)
                      GROUP BY account_id) s
                WHERE a.id = s.account_id
                """,
            )
        with connection.cursor() as cursor:
            # What autovacuum does after a bulk insert: statistics and the visibility map.
            for table in names.values():
                cursor.execute(f"VACUUM ANALYZE {table}")

    def _drop(self, program) -> None:
        started = time.perf_counter()
        tables = {
            "customer": Customer._meta.db_table,
            "account": Account._meta.db_table,
            "check": Check._meta.db_table,
            "operation": Operation._meta.db_table,
            "lot": Lot._meta.db_table,
            "entry": Entry._meta.db_table,
            "award": RuleAward._meta.db_table,
        }
        accounts = f"SELECT id FROM {tables['account']} WHERE program_id = %s"
        with transaction.atomic(), connection.cursor() as cursor:
            for model in REPORT_TABLES:
                cursor.execute(
                    f"DELETE FROM {model._meta.db_table} WHERE program_id = %s", [program.pk]
                )
            AggregationState.objects.filter(program=program).delete()
            CampaignMember.objects.filter(campaign__program=program).delete()
            TierChange.objects.filter(program=program).delete()
            for table in ("award", "entry", "lot"):
                cursor.execute(
                    f"DELETE FROM {tables[table]} WHERE account_id IN ({accounts})", [program.pk]
                )
            for table in ("operation", "check"):
                cursor.execute(f"DELETE FROM {tables[table]} WHERE program_id = %s", [program.pk])
            cursor.execute(
                f"DELETE FROM {MemberProfile._meta.db_table} WHERE program_id = %s", [program.pk]
            )
            cursor.execute(
                f"DELETE FROM {tables['account']} WHERE program_id = %s RETURNING customer_id",
                [program.pk],
            )
            cursor.execute(f"DELETE FROM {tables['customer']} WHERE last_name = %s", [program.code])
            CampaignRule.objects.filter(campaign__program=program).delete()
            Campaign.objects.filter(program=program).delete()
            EarnRule.objects.filter(program=program).delete()
            Outlet.objects.filter(program=program).delete()
            Tier.objects.filter(program=program).delete()
            cursor.execute(f"DELETE FROM {Program._meta.db_table} WHERE id = %s", [program.pk])
        self.stdout.write(f"cleaned up in {time.perf_counter() - started:.1f} s")
