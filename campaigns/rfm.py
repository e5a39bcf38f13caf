"""RFM: recency, frequency and monetary quintiles (1–5, 5 best) for every account, nightly.

One set-based statement per programme: the accounts with their purchases over the period
(cancelled checks excluded, refunds netted) are ranked with ``NTILE(5)``, and the table is
replaced inside one transaction, so readers see either the old scores or the new ones.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction

from campaigns.models import RfmScore
from campaigns.segments import _table
from loyalty.ledger.models import NOT_PURCHASES, Account, Check
from loyalty.rules.models import Program

RFM_PERIOD_DAYS = 365


@dataclass
class RfmResult:
    accounts: int = 0
    seconds: float = 0.0


def _days_since(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"FLOOR(EXTRACT(EPOCH FROM (%s - {column})) / 86400)::integer"
    return f"CAST(julianday(%s) - julianday({column}) AS INTEGER)"


def rfm_refresh(
    *, program: Program, now: datetime, period_days: int = RFM_PERIOD_DAYS
) -> RfmResult:
    """Recompute the programme's RFM scores as of ``now``. Idempotent."""
    started = time.monotonic()
    scores, accounts, checks = _table(RfmScore), _table(Account), _table(Check)
    adapt = connection.ops.adapt_datetimefield_value
    at, since = adapt(now), adapt(now - timedelta(days=period_days))
    sql = (
        f"INSERT INTO {scores} (account_id, program_id, recency_days, frequency, monetary,"
        f" r, f, m, computed_at)"
        f" SELECT a.id, a.program_id, {_days_since('a.last_purchase_at')},"
        f" COALESCE(c.n, 0), COALESCE(c.s, 0),"
        f" NTILE(5) OVER (ORDER BY a.last_purchase_at ASC NULLS FIRST, a.id),"
        f" NTILE(5) OVER (ORDER BY COALESCE(c.n, 0), a.id),"
        f" NTILE(5) OVER (ORDER BY COALESCE(c.s, 0), a.id),"
        f" %s"
        f" FROM {accounts} a LEFT JOIN ("
        f"SELECT account_id, COUNT(*) AS n, SUM(payable - refunded_amount) AS s FROM {checks}"
        f" WHERE program_id = %s AND account_id IS NOT NULL AND occurred_at > %s"
        f" AND status NOT IN (%s, %s, %s) GROUP BY account_id) c ON c.account_id = a.id"
        f" WHERE a.program_id = %s"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Three sorts of every account: in memory rather than in temporary files.
            cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(f"DELETE FROM {scores} WHERE program_id = %s", [program.pk])
        cursor.execute(sql, [at, at, program.pk, since, *NOT_PURCHASES, program.pk])
        count = max(cursor.rowcount, 0)
    return RfmResult(accounts=count, seconds=time.monotonic() - started)
