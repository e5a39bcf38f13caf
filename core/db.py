"""One transaction per request, without savepoints inside it.

A door (the POS API) runs a whole request in ``unit_of_work()``: one transaction that either
commits everything or rolls everything back, so nothing inside it needs a savepoint to undo a
part. Services open their block with ``step()``: inside a unit of work it joins the
transaction without a savepoint (an error leaves it marked for rollback, and the door rolls
the whole unit back); anywhere else it is ``transaction.atomic()`` as usual (a savepoint when
nested), so callers outside a request (jobs, the admin, tests) keep the old behaviour.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager

from django.db import transaction

_unit: contextvars.ContextVar[bool] = contextvars.ContextVar("kopilka_unit_of_work", default=False)


@contextmanager
def unit_of_work():
    """The request's one transaction; ``step()`` blocks inside it take no savepoint."""
    with transaction.atomic():
        token = _unit.set(True)
        try:
            yield
        finally:
            _unit.reset(token)


def in_unit_of_work() -> bool:
    return _unit.get()


def step():
    """``transaction.atomic()`` for a service; without a savepoint inside a unit of work.

    Any exception leaving a step inside a unit marks the whole unit for rollback, even if a
    caller catches it: use it only where an error must fail the request (a ledger write),
    never around work whose failure is swallowed (an outbox row: notifications.services)."""
    return transaction.atomic(savepoint=not _unit.get())
