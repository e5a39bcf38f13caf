"""Lot movements: the only code that creates lots and entries and sets cached balances.

Every function here runs inside the caller's transaction, under the account lock the caller
took (``accounts.account_lock`` / ``accounts.accounts_lock``). An operation collects its
entries and lot changes in a ``Movements`` and writes them in bulk with ``finish``, which
also sets the operation's net points and the account's cached balances from its lots, so
``available + pending == Σ entries == Σ lot.remaining`` holds when the transaction commits.
The batch expiry's chunk writers (``expire_chunk_sql`` / ``expire_chunk_orm``) are here too:
they are the same movements, written set-based.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from loyalty.ledger.models import Account, Entry, EntryKind, Lot, LotKind, Operation, OperationKind
from loyalty.ledger.selectors import lots_balance
from loyalty.ledger.services.accounts import accounts_lock
from loyalty.rules.models import Program

ZERO = Decimal("0")
EXPIRY_SOURCE = "job:expire"
EXPIRY_DESCRIPTION = "Points expired"


# --- operations -----------------------------------------------------------------------------------


def operation_replay(*, program: Program, source: str, idempotency_key: str) -> Operation | None:
    """The operation already recorded under (source, key) in the programme, if any."""
    return Operation.objects.filter(
        program=program, source=source, idempotency_key=idempotency_key
    ).first()


def operation_new(account: Account, *, kind: str, source: str, key: str, now: datetime, **kw):
    return Operation.objects.create(
        program_id=account.program_id,
        account=account,
        kind=kind,
        source=source,
        idempotency_key=key,
        occurred_at=kw.pop("occurred_at", None) or now,
        **kw,
    )


def lot_expiry(program: Program, now: datetime, lifetime_days: int | None) -> datetime | None:
    """When points credited at ``now`` expire: the given lifetime, else the programme's."""
    days = lifetime_days if lifetime_days is not None else program.lifetime_days
    return now + timedelta(days=days) if days else None


def balances_refresh(account: Account, *, now: datetime) -> None:
    split = lots_balance(account_ids=[account.pk], now=now)[account.pk]
    account.available, account.pending = split.available, split.pending
    account.held, account.pending_release_at = split.held, split.release
    Account.objects.filter(pk=account.pk).update(
        available=split.available,
        pending=split.pending,
        held=split.held,
        pending_release_at=split.release,
    )


# --- movements of one operation -------------------------------------------------------------------


@dataclass
class Movements:
    """Entries and lot changes of one operation, written in bulk at the end."""

    operation: Operation
    entries: list[Entry] = field(default_factory=list)
    touched: dict[int, Lot] = field(default_factory=dict)

    def move(self, lot: Lot, amount: Decimal, kind: str) -> None:
        if amount == 0:
            return
        lot.remaining += amount
        self.touched[lot.pk] = lot
        self.entries.append(
            Entry(
                operation=self.operation,
                account_id=lot.account_id,
                lot=lot,
                kind=kind,
                amount=amount,
            )
        )

    def flush(self) -> Decimal:
        Entry.objects.bulk_create(self.entries)
        if self.touched:
            Lot.objects.bulk_update(list(self.touched.values()), ["remaining"])
        net = sum((e.amount for e in self.entries), ZERO)
        self.entries, self.touched = [], {}
        return net


def credit(
    mv: Movements,
    account: Account,
    *,
    amount: Decimal,
    kind: str,
    available_at: datetime,
    expires_at: datetime | None,
    rule_code: str = "",
    restored_from: Lot | None = None,
    now: datetime | None = None,
) -> Lot:
    """Create a lot of ``amount`` points; debt, if any, is repaid from it first.

    A lot already past its expiry at ``now`` (an event reported late) is written as it is and
    repays nothing: its points never count, and the expiry job zeroes it.
    """
    lot = Lot.objects.create(
        account=account,
        operation=mv.operation,
        kind=kind,
        amount=amount,
        remaining=ZERO,
        available_at=available_at,
        expires_at=expires_at,
        rule_code=rule_code,
        restored_from=restored_from,
    )
    entry_kind = {
        LotKind.EARN: EntryKind.EARN,
        LotKind.GRANT: EntryKind.EARN,
        LotKind.RESTORE: EntryKind.RESTORE,
        LotKind.ADJUST: EntryKind.ADJUST,
    }[kind]
    mv.move(lot, amount, entry_kind)
    if now is not None and expires_at is not None and expires_at <= now:
        return lot
    debts = sorted(
        (lot for lot in current_lots(mv, account) if lot.kind == LotKind.DEBT), key=lambda x: x.pk
    )
    _repay(mv, lot, debts)
    return lot


def credit_earned(mv: Movements, account: Account, rows, *, debts, at, program) -> None:
    """``credit`` for all of a check's rule rows at once: one insert of the lots, and the debts
    (read once with the redemption's lots) repaid from them in order, as ``credit`` would."""
    if not rows:
        return
    lots = [
        Lot(
            account=account,
            operation=mv.operation,
            kind=LotKind.EARN,
            amount=row.points,
            remaining=ZERO,
            available_at=at + timedelta(days=program.hold_days),
            expires_at=lot_expiry(program, at, row.lifetime_days),
            rule_code=row.rule,
        )
        for row in rows
    ]
    if connection.features.can_return_rows_from_bulk_insert:
        lots = Lot.objects.bulk_create(lots)
    else:
        for lot in lots:
            lot.save(force_insert=True)
    for lot in lots:
        mv.move(lot, lot.amount, EntryKind.EARN)
        _repay(mv, lot, debts)


def _repay(mv: Movements, lot: Lot, debts: Iterable[Lot]) -> None:
    """Repay ``debts`` (in order) from the new ``lot`` as far as it goes."""
    for debt in debts:
        if lot.remaining == 0:
            break
        if debt.remaining >= 0:
            continue
        repay = min(-debt.remaining, lot.remaining)
        mv.move(lot, -repay, EntryKind.REPAY)
        mv.move(debt, repay, EntryKind.REPAY)


def current_lots(mv: Movements, account: Account) -> list[Lot]:
    """The account's non-empty lots as this operation sees them (unflushed moves included)."""
    fetched = Lot.objects.filter(account=account).filter(
        ~Q(remaining=0) | Q(pk__in=list(mv.touched))
    )
    return [lot for lot in (mv.touched.get(lot.pk, lot) for lot in fetched) if lot.remaining != 0]


def fifo(lots: Iterable[Lot], *, tz: tzinfo | None = UTC) -> list[Lot]:
    """Redemption order: what expires first goes first, then what matured first; never-expiring
    points last."""
    far = datetime.max.replace(tzinfo=tz)
    return sorted(lots, key=lambda lot: (lot.expires_at or far, lot.available_at, lot.pk))


def open_lots(mv: Movements, account: Account, *, now: datetime, include_pending: bool):
    lots = [
        lot
        for lot in current_lots(mv, account)
        if lot.remaining > 0
        and (include_pending or lot.available_at <= now)
        and (lot.expires_at is None or lot.expires_at > now)
    ]
    return fifo(lots, tz=now.tzinfo)


def debit(mv: Movements, lots: Iterable[Lot], *, amount: Decimal, kind: str) -> Decimal:
    """Burn up to ``amount`` from ``lots`` in the given order; returns what was burnt."""
    left = amount
    for lot in lots:
        if left == 0:
            break
        take = min(lot.remaining, left)
        if take > 0:
            mv.move(lot, -take, kind)
            left -= take
    return amount - left


def take_back(
    mv: Movements,
    account: Account,
    *,
    amount: Decimal,
    now: datetime,
    first: Sequence[Lot] = (),
) -> tuple[Decimal, Decimal]:
    """Claw back ``amount``: from ``first`` lots, then any open lot, then as debt if allowed.

    Returns (clawed back, forgiven): what the programme could not take back because it does
    not allow a negative balance is forgiven and recorded on the operation.
    """
    live = [
        lot
        for lot in first
        if lot.remaining > 0 and (lot.expires_at is None or lot.expires_at > now)
    ]
    taken = debit(mv, live, amount=amount, kind=EntryKind.CLAWBACK)
    if taken < amount:
        seen = {lot.pk for lot in first}
        others = [
            lot
            for lot in open_lots(mv, account, now=now, include_pending=True)
            if lot.pk not in seen
        ]
        taken += debit(mv, others, amount=amount - taken, kind=EntryKind.CLAWBACK)
    rest = amount - taken
    if rest == 0:
        return amount, ZERO
    if not account.program.allow_negative_after_refund:
        return taken, rest
    debt = Lot.objects.create(
        account=account,
        operation=mv.operation,
        kind=LotKind.DEBT,
        amount=-rest,
        remaining=ZERO,
        available_at=now,
        expires_at=None,
    )
    mv.move(debt, -rest, EntryKind.DEBT)
    return amount, ZERO


def finish(mv: Movements, account: Account, *, now: datetime) -> Operation:
    """Write the movements, set the operation's net points and the account's cached balances."""
    net = mv.flush()
    op = mv.operation
    op.points = net
    Operation.objects.filter(pk=op.pk).update(points=net)
    balances_refresh(account, now=now)
    return op


# --- expiry: one chunk of accounts, set-based -----------------------------------------------------


def _expiry_key(account_id: int, now: datetime) -> str:
    return f"expire:{account_id}:{now.isoformat()}"


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
# available_at <= now, pending before, and the next moment a pending lot matures or a
# positive lot expires.
_EXPIRE_SQL = """
WITH open AS (
    SELECT l.id, l.account_id, l.remaining, l.available_at, l.expires_at,
           (l.kind = %(hold)s AND l.available_at > %(now)s) AS held,
           (l.remaining > 0 AND l.expires_at <= %(now)s
            AND NOT (l.kind = %(hold)s AND l.available_at > %(now)s)) AS due
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
                    FILTER (WHERE NOT o.due AND o.available_at > %(now)s AND NOT o.held), 0)
               AS pending,
           COALESCE(SUM(o.remaining) FILTER (WHERE o.held), 0) AS held,
           LEAST(MIN(o.available_at) FILTER (WHERE NOT o.due AND o.available_at > %(now)s),
                 MIN(o.expires_at) FILTER (WHERE o.remaining > 0 AND o.expires_at > %(now)s))
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
    SET available = p.available, pending = p.pending, held = p.held,
        pending_release_at = p.release_at
    FROM per_account p
    WHERE a.id = p.account_id
)
SELECT (SELECT COUNT(*) FROM per_account),
       (SELECT COUNT(*) FROM due),
       (SELECT COALESCE(SUM(total), 0) FROM per_account)
"""


@transaction.atomic
def expire_chunk_sql(account_ids: list[int], *, now: datetime) -> tuple[int, int, Decimal]:
    """PostgreSQL: expire the due lots of ``account_ids`` in one statement (see expiry.py)."""
    with connection.cursor() as cursor:
        # The sorts of one chunk (tens of thousands of rows) stay in memory.
        cursor.execute("SET LOCAL work_mem = '64MB'")
        # Safe to lose on a crash: a chunk either fully commits or not at all, and a lost
        # commit only means the next run (idempotent, it reads what the lots hold) expires
        # those lots again; nothing outside the database learns of a chunk before it is
        # durable. It saves the WAL flush wait of every chunk.
        cursor.execute("SET LOCAL synchronous_commit = off")
    accounts_lock(*account_ids, related=())
    with connection.cursor() as cursor:
        cursor.execute(
            _EXPIRE_SQL.format(**_sql_names()),
            {
                "ids": account_ids,
                "now": now,
                "stamp": now.isoformat(),
                "kind": OperationKind.EXPIRE.value,
                "entry_kind": EntryKind.EXPIRE.value,
                "hold": LotKind.HOLD.value,
                "source": EXPIRY_SOURCE,
                "description": EXPIRY_DESCRIPTION,
            },
        )
        accounts, lots, points = cursor.fetchone()
    return accounts, lots, Decimal(points)


@transaction.atomic
def expire_chunk_orm(account_ids: list[int], *, now: datetime) -> tuple[int, int, Decimal]:
    """Any database: the same rows as ``expire_chunk_sql``, through the ORM in bulk."""
    locked = list(accounts_lock(*account_ids, related=()).values())
    # Re-read under the locks: a concurrent run may have expired these lots already.
    due = list(
        Lot.objects.filter(account_id__in=account_ids, remaining__gt=0, expires_at__lte=now)
        .exclude(kind=LotKind.HOLD, available_at__gt=now)  # a reservation still holds it
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
                source=EXPIRY_SOURCE,
                idempotency_key=_expiry_key(account_id, now),
                points=-total,
                description=EXPIRY_DESCRIPTION,
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
        split = balances[account.pk]
        account.available, account.pending = split.available, split.pending
        account.held, account.pending_release_at = split.held, split.release
    Account.objects.bulk_update(changed, ["available", "pending", "held", "pending_release_at"])
    return len(per_account), len(due), sum(per_account.values(), ZERO)


# --- a check's movements: read as values, written in bulk, balances by arithmetic -----------------

# Open lots read per page for a redemption: almost every burn is paid by the first few.
BURN_PAGE = 20


@dataclass(frozen=True)
class OpenLot:
    """An open lot as a redemption or a debt repayment needs it (read with values_list)."""

    id: int
    remaining: Decimal
    available_at: datetime
    expires_at: datetime | None
    rule_code: str = ""


def _fifo_available(account_id: int, now: datetime):
    # A lot past its expiry is gone at once, whether or not the job has zeroed it yet.
    return (
        Lot.objects.filter(account_id=account_id, remaining__gt=0, available_at__lte=now)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .exclude(remaining=0)  # the predicate of the ``lot_open_fifo`` partial index
        .order_by(F("expires_at").asc(nulls_last=True), "available_at", "id")
        .values_list("id", "remaining", "available_at", "expires_at", "rule_code")
    )


def _debts(account_id: int):
    return (
        Lot.objects.filter(account_id=account_id, remaining__lt=0)
        .order_by("id")
        .values_list("id", "remaining", "available_at", "expires_at", "rule_code")
    )


def check_lots(
    account_id: int, *, now: datetime, redeem: Decimal, debts: bool
) -> tuple[list[OpenLot], list[OpenLot]]:
    """(available lots in redemption order, enough to pay ``redeem`` or all of them; the debt
    lots by id if ``debts``). The caller holds the account lock. No lot is read for what is
    not needed; on PostgreSQL both come in one statement."""
    burn: list[OpenLot] = []
    owed: list[OpenLot] = []
    if redeem > 0 and debts and connection.features.supports_slicing_ordering_in_compound:
        rows = list(
            _debts(account_id).union(_fifo_available(account_id, now)[:BURN_PAGE], all=True)
        )
        owed = sorted((OpenLot(*r) for r in rows if r[1] < 0), key=lambda lot: lot.id)
        far = datetime.max.replace(tzinfo=now.tzinfo)
        burn = sorted(
            (OpenLot(*r) for r in rows if r[1] > 0),
            key=lambda lot: (lot.expires_at or far, lot.available_at, lot.id),
        )
    else:
        if redeem > 0:
            burn = [OpenLot(*r) for r in _fifo_available(account_id, now)[:BURN_PAGE]]
        if debts:
            owed = [OpenLot(*r) for r in _debts(account_id)]
    if len(burn) == BURN_PAGE and sum((lot.remaining for lot in burn), ZERO) < redeem:
        burn = [OpenLot(*r) for r in _fifo_available(account_id, now)]  # a long tail: rare
    return burn, owed


def burn_plan(lots: Sequence[OpenLot], amount: Decimal) -> list[tuple[OpenLot, Decimal]] | None:
    """What to take from each lot, in order, to pay ``amount``; None if they cannot."""
    plan, left = [], amount
    for lot in lots:
        if left == 0:
            break
        take = min(lot.remaining, left)
        if take > 0:
            plan.append((lot, take))
            left -= take
    return plan if left == 0 else None


@dataclass(frozen=True)
class CheckCounters:
    """What a check adds to the account's lifetime counters."""

    spend: Decimal
    visits: int
    earned: Decimal
    last_purchase_at: datetime


@dataclass(frozen=True)
class CheckBalance:
    available: Decimal
    pending: Decimal
    release_at: datetime | None
    held: Decimal = ZERO


def check_write(
    op: Operation,
    account: Account,
    *,
    program: Program,
    now: datetime,
    at: datetime,
    balance: CheckBalance,
    burn: Sequence[tuple[OpenLot, Decimal]],
    earning,
    debts: Sequence[OpenLot],
    counters: CheckCounters,
    burn_held: bool = False,
) -> CheckBalance:
    """Write a check's movements: the redemption ``burn`` (from ``burn_plan``), one lot per
    ``earning`` row created with its final ``remaining`` after repaying ``debts`` in order,
    all entries in one insert, the lots changed in one update, and the account's balances
    with ``counters`` (field → expression) in one update.

    The caller holds the account lock and read ``balance`` under it (the cached one, valid at
    ``now``, or from the lots), so the new balances follow by arithmetic from the movements
    written here, without summing the lots again (invariant 1 holds: every change of a lot's
    remaining is an entry and moves the same amount of the balance it belongs to at ``now``).
    ``burn_held``: the burn takes the hold lots of a reservation being confirmed (still held
    at ``now``), so it leaves ``held``, not ``available``.
    """
    available, pending, release = balance.available, balance.pending, balance.release_at
    held = balance.held

    def add(available_at: datetime, amount: Decimal) -> None:
        nonlocal available, pending
        if available_at <= now:
            available += amount
        else:
            pending += amount

    entries: list[Entry] = []
    changed: dict[int, Decimal] = {}
    for lot, take in burn:
        changed[lot.id] = lot.remaining - take
        if burn_held:
            held -= take
        else:
            add(lot.available_at, -take)
        entries.append(
            Entry(
                operation=op,
                account_id=account.pk,
                lot_id=lot.id,
                kind=EntryKind.REDEEM,
                amount=-take,
            )
        )
    owed = {debt.id: debt.remaining for debt in debts}
    new_lots: list[tuple[Lot, list[tuple[OpenLot, Decimal]]]] = []
    available_at = at + timedelta(days=program.hold_days)
    for row in earning:
        left, repays = row.points, []
        expires_at = lot_expiry(program, at, row.lifetime_days)
        if expires_at is not None and expires_at <= now:
            # A check reported after its points' lifetime: the lot is written already past
            # its expiry, repays nothing and counts in no balance; the job zeroes it.
            new_lots.append((_earned_lot(op, account, row, available_at, expires_at), []))
            continue
        for debt in debts:
            if left == 0:
                break
            if owed[debt.id] >= 0:
                continue
            repay = min(-owed[debt.id], left)
            owed[debt.id] += repay
            changed[debt.id] = owed[debt.id]
            add(debt.available_at, repay)
            left -= repay
            repays.append((debt, repay))
        add(available_at, left)
        if left > 0 and available_at > now:
            release = available_at if release is None else min(release, available_at)
        if left > 0 and expires_at is not None:
            release = expires_at if release is None else min(release, expires_at)
        lot = _earned_lot(op, account, row, available_at, expires_at)
        lot.remaining = left
        new_lots.append((lot, repays))
    if new_lots:
        lots = [lot for lot, _ in new_lots]
        if connection.features.can_return_rows_from_bulk_insert:
            Lot.objects.bulk_create(lots)
        else:
            for lot in lots:
                lot.save(force_insert=True)
    for lot, repays in new_lots:
        entries.append(
            Entry(
                operation=op, account_id=account.pk, lot=lot, kind=EntryKind.EARN, amount=lot.amount
            )
        )
        for debt, repay in repays:
            entries.append(
                Entry(
                    operation=op,
                    account_id=account.pk,
                    lot=lot,
                    kind=EntryKind.REPAY,
                    amount=-repay,
                )
            )
            entries.append(
                Entry(
                    operation=op,
                    account_id=account.pk,
                    lot_id=debt.id,
                    kind=EntryKind.REPAY,
                    amount=repay,
                )
            )
    if connection.vendor == "postgresql":
        _entries_lots_and_account_write(
            account.pk, entries, changed, available, pending, held, release, counters
        )
    else:
        if entries:
            Entry.objects.bulk_create(entries)
        if changed:
            Lot.objects.bulk_update(
                [Lot(pk=pk, remaining=remaining) for pk, remaining in sorted(changed.items())],
                ["remaining"],
            )
        Account.objects.filter(pk=account.pk).update(
            available=available,
            pending=pending,
            held=held,
            pending_release_at=release,
            lifetime_spend=F("lifetime_spend") + counters.spend,
            lifetime_visits=F("lifetime_visits") + counters.visits,
            lifetime_earned=F("lifetime_earned") + counters.earned,
            last_purchase_at=counters.last_purchase_at,
        )
    account.available, account.pending, account.pending_release_at = available, pending, release
    account.held = held
    return CheckBalance(available, pending, release, held)


def _earned_lot(op, account, row, available_at, expires_at) -> Lot:
    return Lot(
        account=account,
        operation=op,
        kind=LotKind.EARN,
        amount=row.points,
        remaining=row.points,
        available_at=available_at,
        expires_at=expires_at,
        rule_code=row.rule,
    )


def _entries_lots_and_account_write(
    account_id, entries, changed, available, pending, held, release, counters
) -> None:
    """PostgreSQL: the check's entries, the changed lots' remaining and the account's balances
    and counters in one statement (data-modifying CTEs; all run on the same snapshot, on rows
    this transaction holds: the account is locked, the lots are its own or were inserted by it
    just before). Entries are append-only and nothing reads their ids back, so they need no
    RETURNING; their foreign keys are checked at commit (deferred) as with the ORM insert."""
    names = _sql_names()
    ctes: list[str] = []
    params: list = []
    if entries:
        ctes.append(
            f"entries AS (INSERT INTO {names['entry']}"
            " (operation_id, account_id, lot_id, kind, amount, created_at)"
            " SELECT * FROM UNNEST(%s::bigint[], %s::bigint[], %s::bigint[], %s::varchar[],"
            " %s::numeric[], %s::timestamptz[]))"
        )
        created_at = timezone.now()
        params += [
            [e.operation_id for e in entries],
            [e.account_id for e in entries],
            [e.lot_id for e in entries],
            [str(e.kind) for e in entries],
            [e.amount for e in entries],
            [created_at] * len(entries),
        ]
    if changed:
        values = ", ".join(["(%s::bigint, %s::numeric)"] * len(changed))
        ctes.append(
            f"lots AS (UPDATE {names['lot']} l SET remaining = v.remaining"
            f" FROM (VALUES {values}) AS v(id, remaining) WHERE l.id = v.id)"
        )
        params += [x for pair in sorted(changed.items()) for x in pair]
    params += [
        available,
        pending,
        held,
        release,
        counters.spend,
        counters.visits,
        counters.earned,
        counters.last_purchase_at,
        account_id,
    ]
    with_clause = f"WITH {', '.join(ctes)} " if ctes else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"{with_clause}UPDATE {names['account']} SET available = %s, pending = %s, held = %s,"
            " pending_release_at = %s, lifetime_spend = lifetime_spend + %s,"
            " lifetime_visits = lifetime_visits + %s, lifetime_earned = lifetime_earned + %s,"
            " last_purchase_at = %s WHERE id = %s",
            params,
        )


# --- two-phase payment: holds (docs/adr/0007-two-phase-payment.md) ------------------------------


def hold_write(
    op: Operation,
    account: Account,
    *,
    burn: Sequence[tuple[OpenLot, Decimal]],
    until: datetime,
    now: datetime,
    balance: CheckBalance,
) -> CheckBalance:
    """Hold the points of ``burn`` (a ``burn_plan`` over available lots) for a reservation.

    Each source lot gives what it pays to a new *hold lot* of ``op``: the same expiry and
    rule, ``held_from`` the source, and ``available_at`` = ``until``, so the hold is available
    again by time alone once the reservation is over (``selectors.lots_balance``). Entries
    ``hold`` −x on the source and +x on the hold lot: Σ entries and Σ lots do not change; the
    points leave ``available`` for ``held``. Balances by arithmetic, as in ``check_write``.
    """
    total = sum((take for _, take in burn), ZERO)
    available, pending, release = balance.available, balance.pending, balance.release_at
    held = balance.held
    if total == 0:
        return balance
    lots = [
        Lot(
            account=account,
            operation=op,
            kind=LotKind.HOLD,
            amount=take,
            remaining=take,
            available_at=until,
            expires_at=lot.expires_at,
            rule_code=lot.rule_code,
            held_from_id=lot.id,
        )
        for lot, take in burn
    ]
    if connection.features.can_return_rows_from_bulk_insert:
        Lot.objects.bulk_create(lots)
    else:
        for lot in lots:
            lot.save(force_insert=True)
    entries: list[Entry] = []
    changed: dict[int, Decimal] = {}
    for (source, take), hold in zip(burn, lots, strict=True):
        changed[source.id] = source.remaining - take
        entries.append(
            Entry(
                operation=op,
                account_id=account.pk,
                lot_id=source.id,
                kind=EntryKind.HOLD,
                amount=-take,
            )
        )
        entries.append(
            Entry(operation=op, account_id=account.pk, lot=hold, kind=EntryKind.HOLD, amount=take)
        )
    Entry.objects.bulk_create(entries)
    available -= total  # the burn plan pays only from lots available at ``now``
    held += total
    if until > now:
        release = until if release is None else min(release, until)
    if connection.vendor == "postgresql":
        names = _sql_names()
        values = ", ".join(["(%s::bigint, %s::numeric)"] * len(changed))
        params: list = [x for pair in sorted(changed.items()) for x in pair]
        params += [available, pending, held, release, account.pk]
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH lots AS (UPDATE {names['lot']} l SET remaining = v.remaining"
                f" FROM (VALUES {values}) AS v(id, remaining) WHERE l.id = v.id)"
                f" UPDATE {names['account']} SET available = %s, pending = %s, held = %s,"
                " pending_release_at = %s WHERE id = %s",
                params,
            )
    else:
        Lot.objects.bulk_update(
            [Lot(pk=pk, remaining=remaining) for pk, remaining in sorted(changed.items())],
            ["remaining"],
        )
        Account.objects.filter(pk=account.pk).update(
            available=available, pending=pending, held=held, pending_release_at=release
        )
    account.available, account.pending, account.pending_release_at = available, pending, release
    account.held = held
    return CheckBalance(available, pending, release, held)


def hold_lots(check_id: int) -> list[OpenLot]:
    """The hold lots of a reserved check that still hold points, in the order they were taken
    (which is the redemption order of their sources)."""
    return [
        OpenLot(*row)
        for row in Lot.objects.filter(
            operation__check_obj_id=check_id, kind=LotKind.HOLD, remaining__gt=0
        )
        .order_by("id")
        .values_list("id", "remaining", "available_at", "expires_at", "rule_code")
    ]


def hold_release(op: Operation, account: Account, check_id: int, *, now: datetime) -> Decimal:
    """Give what the check's hold lots still hold back to their source lots (entries
    ``release``), and refresh the cached balances from the lots. Returns the points released.

    A hold whose reservation is over may have been partly spent meanwhile (it was available):
    only what is left goes back.
    """
    mv = Movements(op)
    released = ZERO
    for hold in Lot.objects.filter(
        operation__check_obj_id=check_id, kind=LotKind.HOLD, remaining__gt=0
    ).select_related("held_from"):
        source = hold.held_from
        amount = hold.remaining
        mv.move(hold, -amount, EntryKind.RELEASE)
        mv.move(source, amount, EntryKind.RELEASE)
        released += amount
    finish(mv, account, now=now)
    return released
