"""Point expiry: set-based over lots, in chunks of accounts, idempotent, safe to run twice.

Two implementations of one contract, chosen by the database:

* **PostgreSQL** (production): per chunk of accounts, one ``SELECT … FOR UPDATE`` on the
  accounts and one statement that reads the accounts' open lots once and, in data-modifying
  CTEs, inserts the expiry operations (``INSERT … SELECT … GROUP BY``), inserts one entry per
  lot (joined to the operations by ``RETURNING``), zeroes the lots and sets the cached
  balances from the lots left open (no second pass over the lots). No row travels to
  Python. Chunks cover disjoint accounts, so ``LEDGER_EXPIRY_WORKERS`` of them run at once on
  their own connections. The cost is per row (index maintenance, WAL, and the deferred
  foreign-key checks of the entries at commit); see docs/benchmarks.md for the figure.
* **Anything else** (SQLite in the embedded mode): the same steps through the ORM with bulk
  writes per chunk.

Both write exactly the same rows: per account one ``expire`` operation (source ``job:expire``,
key ``expire:<account>:<now>``) and per expired lot one ``expire`` entry of ``-remaining``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import connection, connections, transaction

from loyalty.ledger.models import Account, Entry, EntryKind, Lot, Operation, OperationKind
from loyalty.ledger.selectors import lots_balance

ZERO = Decimal("0")
SOURCE = "job:expire"
DESCRIPTION = "Points expired"
# Accounts per transaction. Each chunk holds its accounts' row locks for its duration, so a
# till serving one of them waits at most that long (about a second on PostgreSQL at 5 000).
CHUNK_SQL = 5000
CHUNK_ORM = 500


@dataclass(frozen=True)
class ExpiryResult:
    accounts: int
    lots: int
    points: Decimal


def _due_account_ids(*, now: datetime, program_id: int | None) -> list[int]:
    """Accounts holding a positive lot whose expiry has passed (the ``lot_expiry`` index)."""
    due = Lot.objects.filter(remaining__gt=0, expires_at__lte=now)
    if program_id is not None:
        due = due.filter(account__program_id=program_id)
    return sorted(due.order_by().values_list("account_id", flat=True).distinct())


def points_expire(
    *,
    now: datetime,
    chunk_size: int | None = None,
    program_id: int | None = None,
    method: str | None = None,
    workers: int | None = None,
) -> ExpiryResult:
    """Expire every lot whose ``expires_at`` has passed (``<= now``), in chunks of accounts.

    Guarantees: each chunk is one transaction that locks its accounts (by id, in order),
    writes one operation per account and one entry per lot, zeroes the lots and refreshes the
    cached balances, so the ledger invariants hold after every chunk. Lots are re-read under
    the locks, so a concurrent run or redemption is never double-counted, and a second run
    finds nothing to do. Pending lots (not yet available) expire too once their expiry passed;
    debt lots never expire. ``method`` forces ``"sql"`` (PostgreSQL only) or ``"orm"``.

    ``workers`` (default ``LEDGER_EXPIRY_WORKERS``) chunks run in parallel threads, each on its
    own connection — only with the SQL method and only when called outside a transaction
    (threads could not see the caller's uncommitted rows); otherwise chunks run one by one.
    """
    if method is None:
        method = "sql" if connection.vendor == "postgresql" else "orm"
    if method == "sql" and connection.vendor != "postgresql":
        raise ValueError("the set-based SQL expiry needs PostgreSQL")
    expire_chunk = _expire_chunk_sql if method == "sql" else _expire_chunk_orm
    size = chunk_size or (CHUNK_SQL if method == "sql" else CHUNK_ORM)
    ids = _due_account_ids(now=now, program_id=program_id)
    chunks = [ids[start : start + size] for start in range(0, len(ids), size)]
    if workers is None:
        workers = settings.LEDGER_EXPIRY_WORKERS
    if method != "sql" or connection.in_atomic_block:
        workers = 1
    if workers > 1 and len(chunks) > 1:
        results = _in_threads(expire_chunk, chunks, now=now, workers=workers)
    else:
        results = [expire_chunk(chunk, now=now) for chunk in chunks]
    return ExpiryResult(
        accounts=sum(r[0] for r in results),
        lots=sum(r[1] for r in results),
        points=sum((r[2] for r in results), ZERO),
    )


def _in_threads(expire_chunk, chunks, *, now: datetime, workers: int):
    def work(chunk):
        try:
            return expire_chunk(chunk, now=now)
        finally:
            connections.close_all()  # this thread's connection only

    # Every chunk is its own transaction: if one fails, the others still commit or have
    # committed, the ledger stays consistent and the next run picks up what is left.
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="expiry") as pool:
        return list(pool.map(work, chunks))


def _idempotency_key(account_id: int, now: datetime) -> str:
    return f"expire:{account_id}:{now.isoformat()}"


# --- PostgreSQL: set-based ------------------------------------------------------------------------


def _sql_names() -> dict[str, str]:
    return {
        "account": Account._meta.db_table,
        "lot": Lot._meta.db_table,
        "operation": Operation._meta.db_table,
        "entry": Entry._meta.db_table,
    }


# All sub-statements of one statement see the same snapshot, taken after the account locks
# were granted (a separate, earlier statement), so ``open`` is what the lots hold under lock.
# ``open`` reads every open lot of the chunk's accounts once (the ``lot_open_fifo`` index):
# the due ones are expired, the others give the new cached balances, so no second pass over
# the lots is needed — the same split as selectors.lots_balance(): available once
# available_at <= now, pending before, and the next moment a pending lot matures.
_EXPIRE_SQL = """
WITH open AS (
    SELECT l.id, l.account_id, l.remaining, l.available_at,
           (l.remaining > 0 AND l.expires_at <= %(now)s) AS due
    FROM {lot} l
    WHERE l.account_id = ANY(%(ids)s) AND l.remaining <> 0
),
due AS (
    SELECT o.id, o.account_id, o.remaining FROM open o WHERE o.due
),
per_account AS (
    SELECT o.account_id,
           SUM(o.remaining) FILTER (WHERE o.due) AS total,
           COALESCE(SUM(o.remaining)
                    FILTER (WHERE NOT o.due AND o.available_at <= %(now)s), 0) AS available,
           COALESCE(SUM(o.remaining)
                    FILTER (WHERE NOT o.due AND o.available_at > %(now)s), 0) AS pending,
           MIN(o.available_at) FILTER (WHERE NOT o.due AND o.available_at > %(now)s)
               AS release_at
    FROM open o
    GROUP BY o.account_id
    HAVING bool_or(o.due)
),
ops AS (
    INSERT INTO {operation} (
        public_id, program_id, account_id, kind, source, idempotency_key, check_id, points,
        description, reason, created_by_id, meta, occurred_at, created_at
    )
    SELECT gen_random_uuid(), a.program_id, p.account_id, %(kind)s, %(source)s,
           'expire:' || p.account_id || ':' || %(stamp)s, NULL, -p.total,
           %(description)s, '', NULL, '{{}}'::jsonb, %(now)s, statement_timestamp()
    FROM per_account p JOIN {account} a ON a.id = p.account_id
    ORDER BY p.account_id
    RETURNING id, account_id
),
entries AS (
    INSERT INTO {entry} (operation_id, account_id, lot_id, kind, amount, created_at)
    SELECT ops.id, d.account_id, d.id, %(entry_kind)s, -d.remaining, statement_timestamp()
    FROM due d JOIN ops ON ops.account_id = d.account_id
    ORDER BY d.id
),
zeroed AS (
    -- By primary key: joined to ``due`` the planner may pick a hash join over every lot.
    UPDATE {lot} SET remaining = 0 WHERE id = ANY(ARRAY(SELECT id FROM due))
),
balances AS (
    UPDATE {account} a
    SET available = p.available, pending = p.pending, pending_release_at = p.release_at
    FROM per_account p
    WHERE a.id = p.account_id
)
SELECT (SELECT COUNT(*) FROM per_account),
       (SELECT COUNT(*) FROM due),
       (SELECT COALESCE(SUM(total), 0) FROM per_account)
"""


@transaction.atomic
def _expire_chunk_sql(account_ids: list[int], *, now: datetime) -> tuple[int, int, Decimal]:
    names = _sql_names()
    with connection.cursor() as cursor:
        # The sorts of one chunk (tens of thousands of rows) stay in memory.
        cursor.execute("SET LOCAL work_mem = '64MB'")
        # Safe to lose on a crash: a chunk either fully commits or not at all, and a lost
        # commit only means the next run (idempotent, it reads what the lots hold) expires
        # those lots again; nothing outside the database learns of a chunk before it is
        # durable. It saves the WAL flush wait of every chunk.
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute(
            "SELECT id FROM {account} WHERE id = ANY(%(ids)s) ORDER BY id FOR UPDATE".format(
                **names
            ),
            {"ids": account_ids},
        )
        cursor.execute(
            _EXPIRE_SQL.format(**names),
            {
                "ids": account_ids,
                "now": now,
                "stamp": now.isoformat(),
                "kind": OperationKind.EXPIRE.value,
                "entry_kind": EntryKind.EXPIRE.value,
                "source": SOURCE,
                "description": DESCRIPTION,
            },
        )
        accounts, lots, points = cursor.fetchone()
    return accounts, lots, Decimal(points)


# --- portable: the ORM with bulk writes -----------------------------------------------------------


@transaction.atomic
def _expire_chunk_orm(account_ids: list[int], *, now: datetime) -> tuple[int, int, Decimal]:
    locked = list(Account.objects.select_for_update().filter(pk__in=account_ids).order_by("pk"))
    # Re-read under the locks: a concurrent run may have expired these lots already.
    due = list(
        Lot.objects.filter(account_id__in=account_ids, remaining__gt=0, expires_at__lte=now)
        .order_by("account_id", "id")
        .values_list("id", "account_id", "remaining")
    )
    if not due:
        return 0, 0, ZERO
    per_account: dict[int, Decimal] = {}
    for _, account_id, remaining in due:
        per_account[account_id] = per_account.get(account_id, ZERO) + remaining
    by_id = {a.pk: a for a in locked}
    ops = Operation.objects.bulk_create(
        [
            Operation(
                program_id=by_id[account_id].program_id,
                account_id=account_id,
                kind=OperationKind.EXPIRE,
                source=SOURCE,
                idempotency_key=_idempotency_key(account_id, now),
                points=-total,
                description=DESCRIPTION,
                occurred_at=now,
            )
            for account_id, total in per_account.items()
        ]
    )
    # bulk_create sets primary keys on PostgreSQL and SQLite alike (RETURNING).
    op_by_account = {op.account_id: op.pk for op in ops}
    Entry.objects.bulk_create(
        [
            Entry(
                operation_id=op_by_account[account_id],
                account_id=account_id,
                lot_id=lot_id,
                kind=EntryKind.EXPIRE,
                amount=-remaining,
            )
            for lot_id, account_id, remaining in due
        ],
        batch_size=5000,
    )
    due_ids = [lot_id for lot_id, _, _ in due]
    for start in range(0, len(due_ids), 5000):
        Lot.objects.filter(pk__in=due_ids[start : start + 5000]).update(remaining=ZERO)
    balances = lots_balance(account_ids=list(per_account), now=now)
    changed = [a for a in locked if a.pk in per_account]
    for account in changed:
        account.available, account.pending, account.pending_release_at = balances[account.pk]
    Account.objects.bulk_update(changed, ["available", "pending", "pending_release_at"])
    return len(per_account), len(due), sum(per_account.values(), ZERO)
