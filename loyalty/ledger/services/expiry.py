"""Point expiry: set-based over lots, in chunks of accounts, idempotent, safe to run twice.

Two implementations of one contract, chosen by the database (the chunk writers are
``movements.expire_chunk_sql`` and ``movements.expire_chunk_orm``):

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
from django.db import connection, connections

from loyalty.ledger.models import Lot
from loyalty.ledger.services.movements import expire_chunk_orm, expire_chunk_sql

ZERO = Decimal("0")
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
    expire_chunk = expire_chunk_sql if method == "sql" else expire_chunk_orm
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
