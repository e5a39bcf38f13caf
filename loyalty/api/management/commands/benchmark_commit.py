"""Measure the POS hot path in-process: commit, calculate and lookup through the API.

    manage.py benchmark_commit --commits 200 --history 10 1000 [--profile commit.html]

Builds a throw-away programme (``bench-commit-…``, from examples/programs/coffee.json) with an
API key, and for each ``--history`` size N a few customers holding N open lots each. Then it
sends requests through the API test client (authentication, idempotency, serializers and the
ledger, as a till would, minus HTTP), interleaving the history sizes request by request so
machine noise hits them alike, and prints the statements and the milliseconds per request.
Every commit has a 10-line basket and redeems 10 points. The data is deleted afterwards
unless ``--keep``. Run it on PostgreSQL (``DATABASE_URL``) for figures that mean something.
"""

from __future__ import annotations

import itertools
import json
import statistics
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

EXAMPLE = Path(settings.BASE_DIR) / "examples" / "programs" / "coffee.json"


def _basket() -> list[dict]:
    lines = [
        {"sku": "LATTE", "category": "coffee", "name": "Latte", "quantity": "1", "price": "250.00"}
    ]
    lines += [
        {
            "sku": f"BUN{i}",
            "category": "bakery",
            "name": f"Bun {i}",
            "quantity": "1",
            "price": "150.00",
        }
        for i in range(9)
    ]
    return lines


class Command(BaseCommand):
    help = "Benchmark commit / calculate / lookup in-process, by the customer's lot history."

    def add_arguments(self, parser):
        parser.add_argument("--commits", type=int, default=200, help="commits per history size")
        parser.add_argument("--calculates", type=int, default=200, help="per history size")
        parser.add_argument("--lookups", type=int, default=200, help="per history size")
        parser.add_argument(
            "--history", type=int, nargs="+", default=[10, 1000], help="open lots per customer"
        )
        parser.add_argument("--customers", type=int, default=10, help="customers per size")
        parser.add_argument("--warmup", type=int, default=10)
        parser.add_argument(
            "--profile",
            metavar="FILE",
            help="also profile --commits commits of the largest history with pyinstrument "
            "(dev extra) and write FILE (.html, else text)",
        )
        parser.add_argument("--keep", action="store_true", help="keep the data afterwards")

    def handle(self, *args, commits, calculates, lookups, history, customers, warmup, **opts):
        from loyalty.rules.models import Program

        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
        code = f"bench-commit-{uuid.uuid4().hex[:8]}"
        _program, client, phones = self._build(code, history, customers)
        self.stdout.write(
            f"{connection.vendor}: programme {code}, {customers} customers per history size "
            f"{history}, 10-line basket, redeem 10"
        )
        try:
            seq = itertools.count()

            def commit(phone):
                n = next(seq)
                body = {
                    "customer": {"phone": phone},
                    "lines": _basket(),
                    "redeem_points": "10",
                    "receipt_number": f"R{n}",
                }
                r = client.post(
                    "/api/v1/checks", body, format="json", HTTP_IDEMPOTENCY_KEY=f"{code}-{n}"
                )
                assert r.status_code == 201, r.content

            def calculate(phone):
                body = {"customer": {"phone": phone}, "lines": _basket(), "redeem_points": "10"}
                r = client.post("/api/v1/checks/calculate", body, format="json")
                assert r.status_code == 200, r.content

            def lookup(phone):
                r = client.get("/api/v1/customers/lookup", {"phone": phone})
                assert r.status_code == 200, r.content

            for name, act, n in (
                ("commit", commit, commits),
                ("calculate", calculate, calculates),
                ("lookup", lookup, lookups),
            ):
                self._measure(name, act, n, warmup, phones)
            if opts["profile"]:
                self._profile(commit, phones[max(history)], commits, opts["profile"])
        finally:
            if not opts["keep"]:
                self._clean(Program.objects.get(code=code))

    def _measure(self, name, act, n, warmup, phones):
        sizes = sorted(phones)
        for size in sizes:
            for phone in phones[size][:warmup]:
                act(phone)
        statements = {}
        for size in sizes:
            with CaptureQueriesContext(connection) as ctx:
                act(phones[size][0])
            statements[size] = len(ctx.captured_queries)
        times: dict[int, list[float]] = {size: [] for size in sizes}
        cpu: dict[int, float] = dict.fromkeys(sizes, 0.0)
        cycles = {size: itertools.cycle(phones[size]) for size in sizes}
        for _ in range(n):
            for size in sizes:  # interleaved, so noise hits every size alike
                phone = next(cycles[size])
                start, start_cpu = time.perf_counter(), time.process_time()
                act(phone)
                times[size].append((time.perf_counter() - start) * 1000)
                cpu[size] += (time.process_time() - start_cpu) * 1000
        for size in sizes:
            t = sorted(times[size])
            self.stdout.write(
                f"{name:9} {size:5} lots: {statements[size]:3} statements, "
                f"median {statistics.median(t):6.2f} ms, mean {statistics.fmean(t):6.2f} ms, "
                f"p90 {t[int(len(t) * 0.9)]:6.2f} ms, Python CPU {cpu[size] / len(t):6.2f} ms"
                f"  (n={len(t)})"
            )

    def _profile(self, commit, phones, n, path):
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        cycle = itertools.cycle(phones)
        profiler.start()
        for _ in range(n):
            commit(next(cycle))
        profiler.stop()
        out = Path(path)
        if out.suffix == ".html":
            out.write_text(profiler.output_html())
        else:
            out.write_text(profiler.output_text(unicode=True, show_all=False))
        self.stdout.write(f"profile of {n} commits written to {out}")

    # --- data -------------------------------------------------------------------------------

    def _build(self, code, history, customers):
        from loyalty.api.models import OutletAPIKey
        from loyalty.ledger.models import Entry, EntryKind, Lot, LotKind, Operation, OperationKind
        from loyalty.ledger.services import customer_enrol
        from loyalty.ledger.services.movements import balances_refresh
        from loyalty.rules.program_io import program_load

        data = json.loads(EXAMPLE.read_text())
        data["code"] = code
        now = timezone.now()
        with transaction.atomic():
            program = program_load(data=data)
            outlet = program.outlets.order_by("pk").first()
            _, key = OutletAPIKey.objects.create_key(outlet=outlet, name=code)
        phones: dict[int, list[str]] = {}
        prefix = uuid.uuid4().int % 10_000
        serial = itertools.count()
        for size in history:
            phones[size] = []
            for _ in range(customers):
                phone = f"+7999{prefix:04d}{next(serial):03d}"
                with transaction.atomic():
                    _, account, _ = customer_enrol(
                        program=program, outlet=outlet, phone=phone, now=now
                    )
                    op = Operation.objects.create(
                        program=program,
                        account=account,
                        kind=OperationKind.GRANT,
                        source="bench",
                        idempotency_key=f"{code}-seed-{account.pk}",
                        points=Decimal(50) * size,
                        occurred_at=now,
                    )
                    lots = Lot.objects.bulk_create(
                        [
                            Lot(
                                account=account,
                                operation=op,
                                kind=LotKind.GRANT,
                                amount=Decimal(50),
                                remaining=Decimal(50),
                                available_at=now - timedelta(days=1),
                                expires_at=now + timedelta(days=300 + i % 30),
                            )
                            for i in range(size)
                        ],
                        batch_size=2000,
                    )
                    if not lots or lots[0].pk is None:  # SQLite before RETURNING
                        lots = list(Lot.objects.filter(operation=op))
                    Entry.objects.bulk_create(
                        [
                            Entry(
                                operation=op,
                                account=account,
                                lot=lot,
                                kind=EntryKind.EARN,
                                amount=lot.amount,
                            )
                            for lot in lots
                        ],
                        batch_size=2000,
                    )
                    balances_refresh(account, now=now)
                phones[size].append(phone)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        return program, client, phones

    def _clean(self, program):
        from customers.models import Customer
        from loyalty.api.models import IdempotentRequest, OutletAPIKey
        from loyalty.ledger.models import (
            Account,
            Check,
            CheckLine,
            Entry,
            Lot,
            Operation,
            RuleAward,
        )
        from notifications.models import Message

        with transaction.atomic():
            accounts = Account.objects.filter(program=program)
            customer_ids = list(accounts.values_list("customer_id", flat=True))
            outlets = list(program.outlets.values_list("pk", flat=True))
            Entry.objects.filter(account__in=accounts).delete()
            RuleAward.objects.filter(account__in=accounts).delete()
            Message.objects.filter(customer_id__in=customer_ids).delete()
            IdempotentRequest.objects.filter(outlet_id__in=outlets).delete()
            OutletAPIKey.objects.filter(outlet_id__in=outlets).delete()
            Lot.objects.filter(account__in=accounts).delete()
            CheckLine.objects.filter(check_obj__program=program).delete()
            Operation.objects.filter(program=program).delete()
            Check.objects.filter(program=program).delete()
            accounts.delete()
            Customer.objects.filter(pk__in=customer_ids).delete()
            program.delete()
