"""Ledger events for decoupled side effects (notifications, campaign triggers).

They are sent inside the ledger's transaction, after the movement is written, so a receiver
can write its outbox row atomically with it; anything that leaves the process (a task, an
email) must be deferred with ``transaction.on_commit``. Receivers never change points.
"""

from django.dispatch import Signal

# kwargs: account, check, result (engine CheckResult), now
check_committed = Signal()
# kwargs: account, check, refund, now
check_refunded = Signal()
# kwargs: account, check, operation, now
check_cancelled = Signal()
# kwargs: account, operation, now  (bonus/event/campaign/adjustment credits)
points_granted = Signal()
# kwargs: account, old_tier, new_tier, upgrade (bool), now
tier_changed = Signal()
# kwargs: customer, account, outlet, created (bool), now
customer_enrolled = Signal()
