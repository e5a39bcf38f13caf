"""Measure point expiry on N lots: build them in bulk, time points_expire, reconcile, clean up.

    manage.py benchmark_expiry --lots 1000000

Everything it creates lives in its own throw-away programme (``bench-expiry-…``), only that
programme's lots are expired, and it is deleted afterwards unless ``--keep``. Customers,
accounts and grant operations go in with ``bulk_create``; the lots and their entries with one
``INSERT … SELECT`` each (a recursive series, so the same SQL runs on PostgreSQL and SQLite).
A share of the lots is partly redeemed, and every account also holds one lot that is not due.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from customers.models import Customer
from loyalty.ledger.models import Account, Entry, Lot, Operation, OperationKind
from loyalty.ledger.services import ledger_reconcile, points_expire
from loyalty.rules.models import Program

BATCH = 5000


class Command(BaseCommand):
    help = "Benchmark point expiry: create N due lots, time the expiry, verify with reconcile."

    def add_arguments(self, parser):
        parser.add_argument("--lots", type=int, default=1_000_000, help="due lots to expire")
        parser.add_argument("--per-account", type=int, default=10, help="due lots per account")
        parser.add_argument("--chunk-size", type=int, default=None, help="accounts per chunk")
        parser.add_argument("--method", choices=["sql", "orm"], default=None)
        parser.add_argument(
            "--workers", type=int, default=None, help="parallel chunks (LEDGER_EXPIRY_WORKERS)"
        )
        parser.add_argument(
            "--layout",
            choices=["scattered", "grouped"],
            default="scattered",
            help="lots in random heap order (a year of purchases) or grouped by account",
        )
        parser.add_argument("--keep", action="store_true", help="keep the data afterwards")
        parser.add_argument(
            "--build-only", action="store_true", help="only create the data (implies --keep)"
        )
        parser.add_argument(
            "--no-reconcile", action="store_true", help="skip the reconcile check (faster)"
        )

    def handle(
        self,
        *args,
        lots,
        per_account,
        chunk_size,
        method,
        workers,
        layout,
        keep,
        build_only,
        no_reconcile,
        **opts,
    ):
        if lots <= 0 or per_account <= 0:
            raise CommandError("--lots and --per-account must be positive")
        n_accounts = -(-lots // per_account)
        per_account = -(-lots // n_accounts)
        now = timezone.now()
        vendor = connection.vendor
        self.stdout.write(
            f"{vendor}: {n_accounts} accounts × {per_account} due lots "
            f"(+1 not due each, {layout}), method {method or 'auto'}, "
            f"workers {workers or settings.LEDGER_EXPIRY_WORKERS}"
        )
        program = Program.objects.create(
            code=f"bench-expiry-{uuid.uuid4().hex[:8]}", name="Expiry benchmark", lifetime_days=365
        )
        try:
            started = time.perf_counter()
            account_ids = self._build(program, n_accounts, per_account, now, layout=layout)
            due = Lot.objects.filter(
                account__program=program, remaining__gt=0, expires_at__lte=now
            ).count()
            self.stdout.write(f"built {due} due lots in {time.perf_counter() - started:.1f} s")
            if build_only:
                keep = True
                return

            started = time.perf_counter()
            result = points_expire(
                now=now,
                program_id=program.pk,
                chunk_size=chunk_size,
                method=method,
                workers=workers,
            )
            elapsed = time.perf_counter() - started
            self.stdout.write(
                self.style.SUCCESS(
                    f"EXPIRY: {result.lots} lots of {result.accounts} accounts "
                    f"({result.points} points) in {elapsed:.2f} s "
                    f"= {result.lots / elapsed:,.0f} lots/s"
                )
            )
            if result.lots != due:
                raise CommandError(f"expired {result.lots} lots, expected {due}")
            again = points_expire(now=now, program_id=program.pk, method=method)
            if again.lots:
                raise CommandError(f"a second run expired {again.lots} more lots")
            if not no_reconcile:
                started = time.perf_counter()
                found = ledger_reconcile(now=now, account_ids=account_ids)
                self.stdout.write(
                    f"reconcile: {len(found)} discrepancies ({time.perf_counter() - started:.1f} s)"
                )
                for discrepancy in found[:20]:
                    self.stdout.write(f"  {discrepancy}")
                if found:
                    raise CommandError("the ledger does not reconcile after expiry")
        finally:
            if keep:
                self.stdout.write(f"kept programme {program.code}")
            else:
                self._drop(program)

    # --- data ---------------------------------------------------------------------------------

    def _build(self, program, n_accounts, per_account, now, *, layout: str) -> list[int]:
        t0 = now - timedelta(days=400)
        tag = program.code
        customers = [
            Customer(
                registered_at=t0,
                first_name="Bench",
                last_name=tag,
                referral_code=f"B{program.pk:x}-{i}"[:16],
            )
            for i in range(n_accounts)
        ]
        for start in range(0, n_accounts, BATCH):
            Customer.objects.bulk_create(customers[start : start + BATCH])
        accounts = [
            Account(program=program, customer=c, enrolled_at=t0, tier=None) for c in customers
        ]
        for start in range(0, n_accounts, BATCH):
            Account.objects.bulk_create(accounts[start : start + BATCH])
        operations = [
            Operation(
                program=program,
                account=a,
                kind=OperationKind.GRANT,
                source="bench",
                idempotency_key=f"bench:{a.pk}",
                occurred_at=t0,
            )
            for a in accounts
        ]
        for start in range(0, n_accounts, BATCH):
            Operation.objects.bulk_create(operations[start : start + BATCH])
        names = {
            "lot": Lot._meta.db_table,
            "entry": Entry._meta.db_table,
            "operation": Operation._meta.db_table,
            "account": Account._meta.db_table,
        }
        params = {
            "program": program.pk,
            "per": per_account,
            "t0": t0,
            "expired": now - timedelta(days=1),
            "future": now + timedelta(days=300),
        }
        with transaction.atomic(), connection.cursor() as cursor:
            # Due lots: 100 points each, every fifth one 60 % redeemed; plus one lot not due.
            cursor.execute(
                """
                WITH RECURSIVE series(n) AS (
                    SELECT 0 UNION ALL SELECT n + 1 FROM series WHERE n < %(per)s
                )
                INSERT INTO {lot} (account_id, operation_id, kind, amount, remaining,
                                   available_at, expires_at, rule_code, created_at)
                SELECT o.account_id, o.id, 'grant', 100,
                       CASE WHEN s.n > 0 AND (o.id + s.n) %% 5 = 0 THEN 40 ELSE 100 END,
                       %(t0)s,
                       CASE WHEN s.n = 0 THEN %(future)s ELSE %(expired)s END,
                       '', %(t0)s
                FROM {operation} o CROSS JOIN series s
                WHERE o.program_id = %(program)s
                ORDER BY {order}
                """.format(
                    order="random()" if layout == "scattered" else "o.account_id, s.n", **names
                ),
                params,
            )
            cursor.execute(
                """
                INSERT INTO {entry} (operation_id, account_id, lot_id, kind, amount, created_at)
                SELECT l.operation_id, l.account_id, l.id, 'earn', l.amount, %(t0)s
                FROM {lot} l JOIN {account} a ON a.id = l.account_id
                WHERE a.program_id = %(program)s
                """.format(**names),
                params,
            )
            cursor.execute(
                """
                INSERT INTO {entry} (operation_id, account_id, lot_id, kind, amount, created_at)
                SELECT l.operation_id, l.account_id, l.id, 'redeem', l.remaining - l.amount,
                       %(t0)s
                FROM {lot} l JOIN {account} a ON a.id = l.account_id
                WHERE a.program_id = %(program)s AND l.remaining < l.amount
                """.format(**names),
                params,
            )
            cursor.execute(
                """
                UPDATE {account} SET available = (
                    SELECT COALESCE(SUM(l.remaining), 0) FROM {lot} l
                    WHERE l.account_id = {account}.id
                ), pending = 0, pending_release_at = NULL
                WHERE program_id = %(program)s
                """.format(**names),
                params,
            )
            cursor.execute(
                """
                UPDATE {operation} SET points = (
                    SELECT COALESCE(SUM(e.amount), 0) FROM {entry} e
                    WHERE e.operation_id = {operation}.id
                )
                WHERE program_id = %(program)s AND source = 'bench'
                """.format(**names),
                params,
            )
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for table in names.values():
                    cursor.execute(f"ANALYZE {table}")
        return [a.pk for a in accounts]

    def _drop(self, program) -> None:
        started = time.perf_counter()
        names = {
            "lot": Lot._meta.db_table,
            "entry": Entry._meta.db_table,
            "operation": Operation._meta.db_table,
            "account": Account._meta.db_table,
            "customer": Customer._meta.db_table,
        }
        # Plain DELETEs: the ORM would collect a million rows and write history for each.
        with transaction.atomic(), connection.cursor() as cursor:
            customers = list(
                Account.objects.filter(program=program).values_list("customer_id", flat=True)
            )
            accounts = f"SELECT id FROM {names['account']} WHERE program_id = %s"
            for table in ("entry", "lot"):
                cursor.execute(
                    f"DELETE FROM {names[table]} WHERE account_id IN ({accounts})", [program.pk]
                )
            for table in ("operation", "account"):
                cursor.execute(f"DELETE FROM {names[table]} WHERE program_id = %s", [program.pk])
            for start in range(0, len(customers), BATCH):
                chunk = customers[start : start + BATCH]
                marks = ", ".join(["%s"] * len(chunk))
                cursor.execute(f"DELETE FROM {names['customer']} WHERE id IN ({marks})", chunk)
            # The throw-away programme owns nothing else; a raw DELETE does not depend on
            # every app's relations to Program being migrated.
            cursor.execute(f"DELETE FROM {Program._meta.db_table} WHERE id = %s", [program.pk])
        self.stdout.write(f"cleaned up in {time.perf_counter() - started:.1f} s")
