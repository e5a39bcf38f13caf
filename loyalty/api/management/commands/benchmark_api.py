"""The POS API over HTTP, on the production server, against pgbench on the same machine.

    DATABASE_URL=postgres://…/kopilka_bench manage.py benchmark_api [--customers 1000000]

1. Migrates and builds (or reuses) a dataset in the programme ``bench-api`` (examples/programs/
   coffee.json under another code: three tiers, five earn rules): N customers with accounts and
   three purchases each (checks, operations, lots, entries), plus two groups of 256 customers
   with the same balance held in ``--lots-per-customer`` lots (default 1 000) and in 10 lots.
   Set-based ``INSERT … SELECT`` over ``generate_series``; a second run reuses what is there and
   only adds customers when ``--customers`` grew. Use a database of its own.
2. Starts gunicorn with config/gunicorn.conf.py (``--workers`` sync workers, DEBUG off,
   persistent connections), the throttle raised out of the way (its cost stays in).
3. Runs ``pgbench`` TPC-B (``-i`` on a scratch database ``<db>_pgbench``, then
   ``-c <connections> -j 2 -T <duration>``) before and after the HTTP runs, and drives lookup,
   calculate and commit with wrk (benchmark_api.lua: random customer by phone or card, a
   10-line basket, unique idempotency keys and receipt numbers) at ``--connections`` terminals.
4. Prints req/s, p50, p99 and non-2xx per run, and the ratios commit/pgbench and
   calculate/commit: on a shared machine the ratios are what compares across runs.

``--baseline GIT_REV`` also serves that revision (``git archive`` into var/, the same
virtualenv, database and dataset) on another port and runs every mode on both servers back to
back, ``--rounds`` times (the order flipped each round, pgbench before every round): the
before/after figures of one run, with new/old ratios per run and per round.

``--profile`` instead commits ``--profile-commits`` checks in this process (Django's test
client, the whole middleware stack, no HTTP server) under cProfile and prints where the time
goes: SQL round trips, psycopg, the ORM, DRF, the project's code.
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import UTC
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from customers.models import Customer
from loyalty.api.models import OutletAPIKey
from loyalty.ledger.models import Account, Check, Entry, Lot, MemberProfile, Operation
from loyalty.rules.models import Outlet, Program, Tier
from loyalty.rules.program_io import program_load

PROGRAM = "bench-api"
OUTLET = "msk-1"
TAG = "bench-api"  # customers' last_name
GROUP = 256  # customers in each of the many-lots and few-lots groups
HEAVY_FIRST = 50_000_001  # customer numbers of the many-lots group
LIGHT_FIRST = 60_000_001  # … and of the few-lots group
LIGHT_LOTS = 10
GROUP_BALANCE = 5000  # both groups hold the same points, in many or in few lots
HISTORY = 3  # purchases of every ordinary customer
CHUNK = 100_000  # customers per build transaction
ROOT = Path(settings.BASE_DIR)
LUA = Path(__file__).with_suffix(".lua")


def _phone(i: int) -> str:
    return f"+79{i:09d}"


def _card(i: int) -> str:
    return f"2{i:09d}"


class Command(BaseCommand):
    help = "Benchmark the POS API over HTTP (gunicorn + wrk) against pgbench, on PostgreSQL."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=1_000_000)
        parser.add_argument("--lots-per-customer", type=int, default=1000, help="many-lots group")
        parser.add_argument("--connections", type=int, default=16, help="concurrent terminals")
        parser.add_argument("--threads", type=int, default=2, help="wrk and pgbench threads")
        parser.add_argument("--duration", type=int, default=30, help="seconds per run")
        parser.add_argument("--warmup", type=int, default=5, help="seconds before each run")
        parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
        parser.add_argument(
            "--modes",
            default="lookup,calculate,commit,lots",
            help="runs, comma-separated: lookup, calculate, commit, lots (many vs few lots)",
        )
        parser.add_argument("--redeem", default="10", help="points redeemed per check (0: none)")
        parser.add_argument("--pgbench-scale", type=int, default=None, help="default: connections")
        parser.add_argument("--no-pgbench", action="store_true")
        parser.add_argument("--build-only", action="store_true")
        parser.add_argument("--profile", action="store_true", help="cProfile commits in-process")
        parser.add_argument("--profile-commits", type=int, default=300)
        parser.add_argument(
            "--baseline",
            default=None,
            metavar="GIT_REV",
            help="also serve this revision (git archive into var/) on the same dataset and"
            " interleave its runs with this code's: before/after figures from one run",
        )
        parser.add_argument(
            "--rounds",
            type=int,
            default=None,
            help="repetitions of every run (default 1; 2 with --baseline), pgbench between rounds",
        )

    # --- entry -----------------------------------------------------------------------------

    def handle(self, *args, **o):
        if connection.vendor != "postgresql":
            raise CommandError(
                "benchmark_api measures PostgreSQL: set DATABASE_URL=postgres://…/kopilka_bench"
                " (a database of its own; `make benchmark-api` does)."
            )
        if o["customers"] <= 0 or o["lots_per_customer"] <= 0:
            raise CommandError("--customers and --lots-per-customer must be positive")
        modes = [m.strip() for m in o["modes"].split(",") if m.strip()]
        unknown = set(modes) - {"lookup", "calculate", "commit", "lots"}
        if unknown:
            raise CommandError(f"unknown --modes: {', '.join(sorted(unknown))}")
        if o["rounds"] is None:
            o["rounds"] = 2 if o["baseline"] else 1
        if o["rounds"] <= 0:
            raise CommandError("--rounds must be positive")
        if not (o["build_only"] or o["profile"]):
            self._need_tools(pgbench=not o["no_pgbench"])
        if o["baseline"] and not (o["build_only"] or o["profile"]):
            o["baseline_dir"], o["baseline_sha"] = self._baseline_tree(o["baseline"])
        call_command("migrate", verbosity=0, interactive=False)
        program = self._program()
        self._dataset(program, o["customers"], o["lots_per_customer"])
        if o["build_only"]:
            return
        if o["profile"]:
            self._profile(program, o["customers"], o["profile_commits"], o["redeem"])
            return
        self._benchmark(program, modes, o)

    def _need_tools(self, *, pgbench: bool) -> None:
        missing = [
            tool for tool in ("wrk",) + (("pgbench",) if pgbench else ()) if not shutil.which(tool)
        ]
        if missing:
            raise CommandError(
                f"{' and '.join(missing)} not found: apt-get install wrk postgresql-contrib"
                " (Debian: pgbench comes with the PostgreSQL client packages,"
                " postgresql-client-NN / postgresql-contrib)"
            )

    # --- dataset ---------------------------------------------------------------------------

    def _program(self) -> Program:
        data = json.loads((ROOT / "examples/programs/coffee.json").read_text(encoding="utf-8"))
        data["code"], data["name"] = PROGRAM, "API benchmark (coffee.json)"
        program = Program.objects.filter(code=PROGRAM).first()
        return program or program_load(data=data)

    def _dataset(self, program: Program, customers: int, lots: int) -> None:
        have = Customer.objects.filter(last_name=TAG, card_number__lt=_card(HEAVY_FIRST)).count()
        started = time.perf_counter()
        if have < customers:
            self.stdout.write(f"building customers {have + 1}…{customers} ({HISTORY} checks each)")
            for lo in range(have + 1, customers + 1, CHUNK):
                hi = min(lo + CHUNK - 1, customers)
                self._build(program, lo, hi, history=HISTORY, lot_points="50 + (i * 37) %% 200")
                self.stdout.write(f"  {hi} customers ({time.perf_counter() - started:.0f} s)")
        for first, n_lots, label in ((HEAVY_FIRST, lots, "many"), (LIGHT_FIRST, LIGHT_LOTS, "few")):
            if not Customer.objects.filter(card_number=_card(first)).exists():
                self.stdout.write(f"building {GROUP} customers with {n_lots} lots each ({label})")
                self._build(
                    program,
                    first,
                    first + GROUP - 1,
                    history=n_lots,
                    lot_points=str(GROUP_BALANCE // n_lots),
                )
        if time.perf_counter() - started > 1:
            with connection.cursor() as cursor:
                for model in (Customer, Account, Check, Operation, Lot, Entry):
                    cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
            self.stdout.write(f"dataset built in {time.perf_counter() - started:.0f} s")
        else:
            self.stdout.write(f"reusing the dataset of programme {PROGRAM} ({have} customers)")

    def _build(self, program, lo: int, hi: int, *, history: int, lot_points: str) -> None:
        """Customers lo…hi with an account and ``history`` completed checks, each of which
        earned one lot of ``lot_points`` (an SQL expression of the customer number ``i``)."""
        now = timezone.now()
        stamp = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00")
        ago = lambda days: f"(TIMESTAMPTZ '{stamp}' - ({days}) * INTERVAL '1 day')"  # noqa: E731
        expires = f"(TIMESTAMPTZ '{stamp}' + INTERVAL '300 days')"
        tiers = {t.code: t.pk for t in Tier.objects.filter(program=program)}
        outlet = Outlet.objects.get(program=program, code=OUTLET)
        q = connection.ops.quote_name
        t = {
            m.__name__: q(m._meta.db_table)
            for m in (Customer, Account, Check, Operation, Lot, Entry)
        }
        # The customer number i is kept in the card number ('2' + 9 digits).
        num = "(substr(c.card_number, 2)::bigint)"
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            if cursor.fetchone()[0]:
                # The rows are consistent by construction (every key comes from the rows just
                # inserted): skip the per-row foreign-key checks, most of the build's time
                # (a superuser only; this transaction only).
                cursor.execute("SET LOCAL session_replication_role = replica")

            def insert(model, values: dict[str, str], source: str, params=()) -> None:
                columns, exprs, args = [], [], []
                for field in model._meta.concrete_fields:
                    if field.primary_key:
                        continue
                    columns.append(q(field.column))
                    if field.column in values:
                        exprs.append(values[field.column])
                    else:
                        exprs.append("%s")
                        args.append(field.get_db_prep_save(field.get_default(), connection))
                cursor.execute(
                    f"INSERT INTO {q(model._meta.db_table)} ({', '.join(columns)})"
                    f" SELECT {', '.join(exprs)} {source}",
                    [*args, *params],
                )

            def top(model) -> int:
                cursor.execute(f"SELECT coalesce(max(id), 0) FROM {t[model.__name__]}")
                return cursor.fetchone()[0]

            marks = {m: top(m) for m in (Customer, Account, Check, Operation, Lot)}
            insert(
                Customer,
                {
                    "public_id": "gen_random_uuid()",
                    "phone": "'+79' || lpad(i::text, 9, '0')",
                    "card_number": "'2' || lpad(i::text, 9, '0')",
                    "first_name": "'Bench'",
                    "last_name": f"'{TAG}'",
                    "referral_code": "'BA' || i",
                    "registered_at": ago("400 + i %% 300"),
                    "consent_sms": "(i %% 3 = 0)",
                    "consent_email": "(i %% 2 = 0)",
                },
                "FROM generate_series(%s::bigint, %s::bigint) i",
                (lo, hi),
            )
            insert(
                Account,
                {
                    "program_id": str(program.pk),
                    "customer_id": "c.id",
                    "tier_id": f"CASE WHEN {num} %% 10 = 0 THEN {tiers['gold']}"
                    f" WHEN {num} %% 10 < 3 THEN {tiers['silver']} ELSE {tiers['base']} END",
                    "tier_since": ago("300"),
                    "lifetime_spend": f"({num} * 7919) %% 250000",
                    "lifetime_visits": str(history),
                    "last_purchase_at": ago("1"),
                    "enrolled_at": ago("390"),
                    "enrolled_outlet_id": str(outlet.pk),
                },
                f"FROM {t['Customer']} c WHERE c.id > %s",
                (marks[Customer],),
            )
            # Each membership's own profile (docs/architecture.md: what a programme collected),
            # holding the card the till looks the member up by.
            insert(
                MemberProfile,
                {
                    "account_id": "a.id",
                    "program_id": str(program.pk),
                    "public_id": "gen_random_uuid()",
                    "first_name": "'Bench'",
                    "last_name": f"'{TAG}'",
                    "card_number": "c.card_number",
                    "consent_sms": "c.consent_sms",
                    "consent_email": "c.consent_email",
                },
                f"FROM {t['Account']} a JOIN {t['Customer']} c ON c.id = a.customer_id"
                " WHERE a.id > %s",
                (marks[Account],),
            )
            insert(
                Check,
                {
                    "public_id": "gen_random_uuid()",
                    "program_id": str(program.pk),
                    "outlet_id": str(outlet.pk),
                    "account_id": "a.id",
                    "receipt_number": "'H' || a.id || '-' || s",
                    "status": "'completed'",
                    "channel": "'offline'",
                    "occurred_at": ago(f"1 + (s * 300.0 / {history})"),
                    "subtotal": "1000",
                    "payable": "1000",
                    "earned_points": f"({lot_points.replace('i', num)})",
                    "tier_code": "'base'",
                    "breakdown": "'[]'",
                    "created_at": ago("0"),
                },
                f"FROM {t['Account']} a JOIN {t['Customer']} c ON c.id = a.customer_id"
                f" CROSS JOIN generate_series(1, {int(history)}) s WHERE a.id > %s",
                (marks[Account],),
            )
            insert(
                Operation,
                {
                    "public_id": "gen_random_uuid()",
                    "program_id": str(program.pk),
                    "account_id": "k.account_id",
                    "kind": "'check'",
                    "source": "'bench'",
                    "idempotency_key": "'bench-check:' || k.id",
                    "check_id": "k.id",
                    "points": "k.earned_points",
                    "description": "'Purchase'",
                    "occurred_at": "k.occurred_at",
                    "created_at": "k.occurred_at",
                },
                f"FROM {t['Check']} k WHERE k.id > %s",
                (marks[Check],),
            )
            insert(
                Lot,
                {
                    "account_id": "o.account_id",
                    "operation_id": "o.id",
                    "kind": "'earn'",
                    "amount": "o.points",
                    "remaining": "o.points",
                    "available_at": "o.occurred_at",
                    "expires_at": expires,
                    "rule_code": "''",
                    "restored_from_id": "NULL",
                    "created_at": "o.occurred_at",
                },
                f"FROM {t['Operation']} o WHERE o.id > %s",
                (marks[Operation],),
            )
            insert(
                Entry,
                {
                    "operation_id": "l.operation_id",
                    "account_id": "l.account_id",
                    "lot_id": "l.id",
                    "kind": "'earn'",
                    "amount": "l.amount",
                    "created_at": "l.created_at",
                },
                f"FROM {t['Lot']} l WHERE l.id > %s",
                (marks[Lot],),
            )
            cursor.execute(
                f"UPDATE {t['Account']} a SET available = s.total, lifetime_earned = s.total"
                f" FROM (SELECT account_id, sum(remaining) AS total FROM {t['Lot']}"
                f" WHERE id > %s GROUP BY account_id) s WHERE a.id = s.account_id",
                [marks[Lot]],
            )

    # --- HTTP runs -------------------------------------------------------------------------

    def _baseline_tree(self, rev: str) -> tuple[Path, str]:
        """The source of ``rev`` in var/bench-baseline-<sha> (``git archive``: no worktree is
        registered in the repository). It runs on this checkout's virtualenv and database: the
        revision must not need other packages or migrations this database lacks (the later
        migrations are additive, so an older revision runs on the migrated schema)."""
        try:
            sha = subprocess.run(
                ["git", "rev-parse", "--verify", f"{rev}^{{commit}}"],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError) as exc:
            raise CommandError(f"--baseline {rev}: not a git revision of {ROOT} ({exc})") from None
        target = Path(settings.VAR_DIR) / f"bench-baseline-{sha[:12]}"
        if not (target / "manage.py").exists():
            target.mkdir(parents=True, exist_ok=True)
            archive = subprocess.run(
                ["git", "archive", "--format=tar", sha], cwd=ROOT, check=True, capture_output=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
        self.stdout.write(f"baseline {rev} = {sha[:12]} in {target}")
        return target, sha

    def _benchmark(self, program: Program, modes: list[str], o: dict) -> None:
        outlet = Outlet.objects.get(program=program, code=OUTLET)
        OutletAPIKey.objects.filter(outlet=outlet, name="benchmark_api").delete()
        _, key = OutletAPIKey.objects.create_key(outlet=outlet, name="benchmark_api")
        conns, threads, duration = o["connections"], o["threads"], o["duration"]
        load = os.getloadavg()
        baseline = o.get("baseline_dir")
        self.stdout.write(
            f"{o['customers']} customers, gunicorn {o['workers']} sync workers,"
            f" {conns} terminals, {duration} s per run, {o['rounds']} round(s),"
            f" load average {load[0]:.1f}"
        )
        # (name, source tree) of each server: this checkout, and the baseline if asked.
        revisions = [("new", ROOT)] + ([("old", baseline)] if baseline else [])
        pg_runs = []
        pg_db = None
        if not o["no_pgbench"]:
            pg_db = self._pgbench_init(o["pgbench_scale"] or conns)
        servers = {}
        results: list[tuple[str, str, int, dict]] = []  # (revision, label, round, figures)
        try:
            for name, tree in revisions:
                port = _free_port()
                server, log = self._start_server(port, o["workers"], tree=tree, name=name)
                servers[name] = (server, log, f"http://127.0.0.1:{port}")
            run_tag = uuid.uuid4().hex[:8]
            groups = {
                "ordinary": (1, o["customers"]),
                f"{o['lots_per_customer']} lots": (HEAVY_FIRST, HEAVY_FIRST + GROUP - 1),
                f"{LIGHT_LOTS} lots": (LIGHT_FIRST, LIGHT_FIRST + GROUP - 1),
            }
            plan = []
            for mode in modes:
                if mode == "lots":
                    plan += [
                        (
                            "commit",
                            f"commit, {o['lots_per_customer']} lots",
                            groups[f"{o['lots_per_customer']} lots"],
                        ),
                        ("commit", f"commit, {LIGHT_LOTS} lots", groups[f"{LIGHT_LOTS} lots"]),
                    ]
                else:
                    plan.append((mode, mode, groups["ordinary"]))
            n = 0
            for round_no in range(o["rounds"]):
                if pg_db:
                    pg_runs.append(self._pgbench(pg_db, conns, threads, duration))
                for mode, label, (first, last) in plan:
                    # Alternate which revision goes first, so a drift of the machine's load
                    # within a round does not always favour the same one.
                    order = revisions if (round_no + n) % 2 == 0 else revisions[::-1]
                    for name, _tree in order:
                        server, log, base = servers[name]
                        n += 1
                        env = {
                            "BENCH_MODE": mode,
                            "BENCH_API_KEY": key,
                            "BENCH_FIRST": str(first),
                            "BENCH_LAST": str(last),
                            "BENCH_REDEEM": o["redeem"],
                        }
                        if o["warmup"]:
                            env["BENCH_RUN"] = f"{run_tag}w{n}"
                            _wrk(base, env, conns, threads, o["warmup"])
                            _drain(log)
                        env["BENCH_RUN"] = f"{run_tag}r{n}"
                        result = _wrk(base, env, conns, threads, duration)
                        _drain(log)
                        results.append((name, label, round_no, result))
                        who = f"{name} " if baseline else ""
                        self.stdout.write(
                            f"  {who}{label:24} {result['rps']:8.1f} req/s"
                            f"  p50 {result['p50']:7.1f} ms  p99 {result['p99']:7.1f} ms"
                            f"  non-2xx {result['non2xx']}"
                        )
                        if result.get("sample"):
                            self.stdout.write(f"    first non-2xx: {result['sample']}")
        finally:
            for server, _log, _base in servers.values():
                server.send_signal(signal.SIGTERM)
            for server, _log, _base in servers.values():
                try:
                    server.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    server.kill()
            self._purge_broker()
        if pg_db:
            pg_runs.append(self._pgbench(pg_db, conns, threads, duration))
        self._report(results, pg_runs, o, [log for _s, log, _b in servers.values()])

    def _start_server(self, port: int, workers: int, *, tree: Path = ROOT, name: str = "new"):
        suffix = "" if tree == ROOT else f"-{name}"
        log = Path(settings.VAR_DIR) / "log" / f"benchmark_api-gunicorn{suffix}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "WEB_CONCURRENCY": str(workers),
            "CONN_MAX_AGE": os.environ.get("CONN_MAX_AGE", "600"),
            # 16 terminals on one key are far over the per-key rate; the throttle still runs.
            "API_THROTTLE_RATE": "1000000/min",
            "GUNICORN_MAX_REQUESTS": "0",
            # Production refuses the console backend (kopilka.E003); nothing mails here.
            "EMAIL_BACKEND": os.environ.get(
                "EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend"
            ),
            "GUNICORN_ACCESS_LOG": str(log),
            "GUNICORN_ERROR_LOG": str(log),
            # The baseline's packages before this checkout's (installed editable).
            "PYTHONPATH": str(tree),
            "KOPILKA_VAR_DIR": str(settings.VAR_DIR),
        }
        gunicorn = Path(sys.executable).with_name("gunicorn")
        server = subprocess.Popen(
            [str(gunicorn), "-c", "config/gunicorn.conf.py", "config.wsgi:application"],
            cwd=tree,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise CommandError(f"gunicorn exited with {server.returncode}; see {log}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=5) as r:
                    if r.status == 200:
                        return server, log
            except OSError:
                pass
            time.sleep(0.5)
        server.kill()
        raise CommandError(f"gunicorn did not answer /health/ within 60 s; see {log}")

    def _purge_broker(self) -> None:
        """Commits queue notification dispatches; nobody consumes them during the run."""
        if settings.CELERY_BROKER_URL.startswith(("filesystem", "memory")):
            return
        from celery import current_app as app  # config.celery, set up with Django

        try:
            app.control.purge()
        except Exception as exc:  # the benchmark's figures do not depend on it
            self.stderr.write(f"could not purge the broker: {exc}")

    # --- pgbench ---------------------------------------------------------------------------

    def _pg_env(self) -> tuple[dict, list[str]]:
        db = connection.settings_dict
        env = {**os.environ}
        if db.get("PASSWORD"):
            env["PGPASSWORD"] = str(db["PASSWORD"])
        args = ["-h", db.get("HOST") or "127.0.0.1", "-p", str(db.get("PORT") or 5432)]
        if db.get("USER"):
            args += ["-U", db["USER"]]
        return env, args

    def _pgbench_init(self, scale: int) -> str:
        name = f"{connection.settings_dict['NAME']}_pgbench"
        env, args = self._pg_env()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {connection.ops.quote_name(name)}")
            cursor.execute(f"CREATE DATABASE {connection.ops.quote_name(name)}")
        started = time.perf_counter()
        subprocess.run(
            ["pgbench", *args, "-i", "-q", "-s", str(scale), name],
            env=env,
            check=True,
            capture_output=True,
        )
        self.stdout.write(
            f"pgbench -i -s {scale} on {name} in {time.perf_counter() - started:.0f} s"
        )
        return name

    def _pgbench(self, name: str, conns: int, threads: int, duration: int) -> dict:
        env, args = self._pg_env()
        out = subprocess.run(
            [
                "pgbench",
                *args,
                "-n",
                "-c",
                str(conns),
                "-j",
                str(threads),
                "-T",
                str(duration),
                name,
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        tps = float(re.search(r"tps = ([0-9.]+)", out).group(1))
        latency = float(re.search(r"latency average = ([0-9.]+) ms", out).group(1))
        self.stdout.write(f"  pgbench TPC-B             {tps:8.1f} tps    avg {latency:7.1f} ms")
        return {"tps": tps, "latency": latency}

    # --- report ----------------------------------------------------------------------------

    def _report(self, results, pg_runs, o, logs) -> None:
        """Means over the rounds per revision and run; the ratios within each revision (the
        targets of issue 15) and, with a baseline, new / old per run and per round."""
        revisions = list(dict.fromkeys(rev for rev, _l, _r, _f in results))
        labels = list(dict.fromkeys(label for _rev, label, _r, _f in results))
        runs: dict[tuple[str, str], list[dict]] = {}
        for rev, label, _round, figures in results:
            runs.setdefault((rev, label), []).append(figures)

        def mean(rev: str, label: str, key: str) -> float | None:
            values = [r[key] for r in runs.get((rev, label), [])]
            return statistics.mean(values) if values else None

        pg = statistics.mean(r["tps"] for r in pg_runs) if pg_runs else None
        baseline = "old" in revisions
        w = self.stdout.write
        w("")
        w(
            f"benchmark_api --customers {o['customers']} --connections {o['connections']}"
            f" --duration {o['duration']} --workers {o['workers']} --rounds {o['rounds']}"
            + (f" --baseline {o['baseline']} ({o['baseline_sha'][:12]})" if baseline else "")
            + f" (load average {os.getloadavg()[0]:.1f} at the end;"
            f" gunicorn logs {', '.join(str(log) for log in logs)})"
        )
        w("")
        if baseline:
            w("means over the rounds; old = the baseline revision, new = this checkout")
            w("")
            w(
                "| run | old req/s | new req/s | new / old | old p50 ms | new p50 ms"
                " | old p99 ms | new p99 ms | non-2xx old / new |"
            )
            w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
            for label in labels:
                old_rps, new_rps = mean("old", label, "rps"), mean("new", label, "rps")
                bad = [
                    sum(r["non2xx"] for r in runs.get((rev, label), [])) for rev in ("old", "new")
                ]
                w(
                    f"| {label} | {old_rps:.1f} | {new_rps:.1f} | {new_rps / old_rps:.2f}"
                    f" | {mean('old', label, 'p50'):.1f} | {mean('new', label, 'p50'):.1f}"
                    f" | {mean('old', label, 'p99'):.1f} | {mean('new', label, 'p99'):.1f}"
                    f" | {bad[0]} / {bad[1]} |"
                )
        else:
            w("| run | req/s | p50 ms | p99 ms | non-2xx |")
            w("| --- | ---: | ---: | ---: | ---: |")
            for label in labels:
                bad = sum(r["non2xx"] for r in runs[("new", label)])
                w(
                    f"| {label} | {mean('new', label, 'rps'):.1f} | {mean('new', label, 'p50'):.1f}"
                    f" | {mean('new', label, 'p99'):.1f} | {bad} |"
                )
        if pg_runs:
            tps = " / ".join(f"{r['tps']:.0f}" for r in pg_runs)
            w(f"| pgbench TPC-B (tps, mean of {len(pg_runs)}: {tps}) | {pg:.0f} | | | |")
        w("")
        many_label = f"commit, {o['lots_per_customer']} lots"
        few_label = f"commit, {LIGHT_LOTS} lots"
        for rev in revisions:
            prefix = f"{rev}: " if baseline else ""
            rps = {label: mean(rev, label, "rps") for label in labels}
            if pg and rps.get("commit"):
                w(f"{prefix}commit / pgbench    = {rps['commit'] / pg:.4f}  (target >= 0.05)")
            if rps.get("commit") and rps.get("calculate"):
                w(
                    f"{prefix}calculate / commit  = {rps['calculate'] / rps['commit']:.2f}"
                    "  (target >= 2)"
                )
            if rps.get("commit") and rps.get("lookup"):
                w(f"{prefix}lookup / commit     = {rps['lookup'] / rps['commit']:.2f}")
            if rps.get("commit"):
                w(
                    f"{prefix}commit p99          = {mean(rev, 'commit', 'p99'):.0f} ms"
                    "  (target <= 200)"
                )
            if rps.get(many_label) and rps.get(few_label):
                w(
                    f"{prefix}commit with {o['lots_per_customer']} lots / with {LIGHT_LOTS} lots"
                    f" = {rps[many_label] / rps[few_label]:.2f} (1.00: cost independent of"
                    " history; target within 10 %)"
                )
        if baseline and o["rounds"] > 1:
            w("")
            w("new / old req/s per round (the spread is the machine's noise):")
            for label in labels:
                per_round = [
                    f"{new['rps'] / old['rps']:.2f}"
                    for old, new in zip(runs[("old", label)], runs[("new", label)], strict=False)
                ]
                w(f"  {label:24} {'  '.join(per_round)}")

    # --- profile ---------------------------------------------------------------------------

    def _profile(self, program: Program, customers: int, commits: int, redeem: str) -> None:
        from celery import current_app as app  # config.celery, set up with Django
        from django.test import Client
        from django.test.utils import override_settings

        if settings.DEBUG:
            raise CommandError("profile with DEBUG=0: DEBUG records every query")
        if settings.CELERY_BROKER_URL.startswith("filesystem"):
            # Not into the embedded queue a `make run` worker reads.
            app.conf.broker_url, app.conf.broker_transport_options = "memory://", {}
        outlet = Outlet.objects.get(program=program, code=OUTLET)
        OutletAPIKey.objects.filter(outlet=outlet, name="benchmark_api").delete()
        _, key = OutletAPIKey.objects.create_key(outlet=outlet, name="benchmark_api")
        client = Client(HTTP_AUTHORIZATION=f"Api-Key {key}")
        lines = _basket()
        tag = uuid.uuid4().hex[:8]
        sql = {"n": 0, "seconds": 0.0}

        def timed(execute, query, params, many, context):
            started = time.perf_counter()
            try:
                return execute(query, params, many, context)
            finally:
                sql["n"] += 1
                sql["seconds"] += time.perf_counter() - started

        def commit(n: int) -> None:
            i = random.randint(1, customers)
            ref = {"phone": _phone(i)} if i % 2 == 0 else {"card": _card(i)}
            body = {"customer": ref, "lines": lines, "receipt_number": f"P{tag}-{n}"}
            if redeem != "0":
                body["redeem_points"] = redeem
            response = client.post(
                "/api/v1/checks",
                json.dumps(body),
                content_type="application/json",
                headers={"Idempotency-Key": f"P{tag}-{n}"},
            )
            if response.status_code != 201:
                raise CommandError(f"commit answered {response.status_code}: {response.content!r}")

        with override_settings(API_THROTTLE_RATE="1000000/min"):
            for n in range(20):  # warm caches, connection, imports
                commit(-n - 1)
            profiler = cProfile.Profile()
            with connection.execute_wrapper(timed):
                started = time.perf_counter()
                profiler.enable()
                for n in range(commits):
                    commit(n)
                profiler.disable()
                wall = time.perf_counter() - started
        per = wall / commits * 1000
        self.stdout.write(
            f"{commits} commits in-process: {per:.1f} ms each, {sql['n'] / commits:.1f} SQL"
            f" statements each, {sql['seconds'] / commits * 1000:.1f} ms of them in execute()"
            " (psycopg + the round trip + PostgreSQL)"
        )
        stats = pstats.Stats(profiler)
        groups: dict[str, float] = {}
        total = 0.0
        for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
            group = _group(filename, name)
            groups[group] = groups.get(group, 0.0) + tottime
            total += tottime
        self.stdout.write("\nown time by package (cProfile tottime, % of the profiled total):")
        for group, seconds in sorted(groups.items(), key=lambda kv: -kv[1]):
            self.stdout.write(
                f"  {group:44} {seconds / commits * 1000:6.2f} ms  {seconds / total * 100:5.1f} %"
            )
        self.stdout.write("\nthe project's functions by cumulative time (per commit):")
        root = str(ROOT)
        own = [
            (ct, nc, f"{fn[len(root) + 1 :]}:{line}({name})")
            for (fn, line, name), (_cc, nc, _tt, ct, _callers) in stats.stats.items()
            if fn.startswith(root)
            and "/.venv/" not in fn
            and "/site-packages/" not in fn
            and "/management/" not in fn
        ]
        for ct, nc, where in sorted(own, reverse=True)[:25]:
            self.stdout.write(
                f"  {ct / commits * 1000:7.2f} ms  {nc / commits:6.1f} calls  {where}"
            )
        self.stdout.write("\ntop functions by cumulative time:")
        stats.sort_stats("cumulative").print_stats(40)


def _group(filename: str, name: str) -> str:
    path = filename.replace("\\", "/")
    if filename == "~":
        if "psycopg" in name or "wait" in name or "socket" in name or "select" in name:
            return "psycopg C / waiting for PostgreSQL"
        return "Python built-ins"
    for marker, label in (
        ("/psycopg", "psycopg (Python, incl. waiting for PostgreSQL)"),
        ("/django/db/", "Django ORM (django/db)"),
        ("/rest_framework_api_key/", "djangorestframework-api-key (key hashing)"),
        ("/rest_framework/", "Django REST framework"),
        ("/django/", "Django (other: request, middleware, i18n…)"),
        ("/site-packages/", "other libraries"),
    ):
        if marker in path:
            return label
    root = str(ROOT).replace("\\", "/")
    if path.startswith(root):
        app = path[len(root) + 1 :].split("/")
        return f"project: {'/'.join(app[:2]) if app[0] == 'loyalty' else app[0]}"
    return "Python stdlib"


def _basket() -> list[dict]:
    """The same 10 lines as benchmark_api.lua."""
    rows = [
        ("LATTE", "coffee", "2", "250.00"),
        ("CAPPUCCINO", "coffee", "1", "230.00"),
        ("ESPRESSO", "coffee", "2", "150.00"),
        ("CROISSANT", "bakery", "2", "180.00"),
        ("CHEESECAKE", "desserts", "1", "320.00"),
        ("SANDWICH", "food", "1", "390.00"),
        ("WATER", "drinks", "2", "90.00"),
        ("BEANS-250", "coffee-beans", "1", "690.00"),
        ("MUG", "merch", "1", "450.00"),
        ("CIGARILLO", "tobacco", "1", "260.00"),
    ]
    return [
        {
            "sku": sku,
            "category": cat,
            "name": sku.title(),
            "quantity": qty,
            "price": price,
            **({"is_promo": True} if sku == "BEANS-250" else {}),
        }
        for sku, cat, qty, price in rows
    ]


def _drain(log: Path) -> None:
    """wrk leaves up to one request per connection queued in gunicorn when it stops: wait until
    the server has answered them (its access log stops growing), so no run starts behind the
    previous one's backlog."""
    size, deadline = -1, time.monotonic() + 120
    while time.monotonic() < deadline:
        now = log.stat().st_size
        if now == size:
            return
        size = now
        time.sleep(1.5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wrk(base: str, env: dict, conns: int, threads: int, duration: int) -> dict:
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(conns),
            "-d",
            f"{duration}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            base,
        ],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"^BENCH (\{.*\})$", out, re.M)
    if not match:
        raise CommandError(f"wrk printed no result:\n{out}")
    data = json.loads(match.group(1))
    sample = re.search(r"^BENCH_SAMPLE (.*)$", out, re.M)
    seconds = data["duration_us"] / 1e6
    return {
        "rps": data["requests"] / seconds,
        "p50": data["p50_us"] / 1000,
        "p99": data["p99_us"] / 1000,
        "non2xx": data["non2xx"] + data["socket_errors"],
        "sample": sample.group(1) if sample else "",
        "requests": data["requests"],
    }
