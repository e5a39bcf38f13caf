"""Ledger services: the only code that moves points, by sub-domain.

* ``movements`` — the one writer of lots and entries and of the cached balances;
* ``accounts`` — membership, enrolment, identification, and the account lock;
* ``checks`` — calculate and commit a check; ``refunds`` — refund and cancel it;
* ``reservations`` — two-phase payment: reserve a check, confirm it, release lapsed holds;
* ``grants`` — grants, transfers out, adjustments, event bonuses;
* ``rewards`` — a reward claimed for points (a coupon), a gift handed out; ``coupons`` —
  the codes a check gives, resolved, used and given back;
* ``expiry``, ``tiers``, ``reconcile`` — the batch side.

Every public operation is one transaction that locks the account row first (then the check,
then rule budgets, each by primary key), checks the idempotency key under that lock, and leaves
the account's cached balances equal to the sum of its lots. See models.py for the invariants
and ``ledger_reconcile`` for their check.
"""

from loyalty.ledger.services.accounts import (
    account_lock,
    account_open,
    accounts_lock,
    customer_enrol,
    customer_identify,
    member_account_lock,
)
from loyalty.ledger.services.checks import (
    CheckQuote,
    CommittedCheck,
    calculate_with_budget_locks,
    check_calculate,
    check_commit,
    customer_state,
    customer_state_providers,
)
from loyalty.ledger.services.expiry import ExpiryResult, points_expire
from loyalty.ledger.services.grants import (
    EventAward,
    event_award,
    event_source,
    points_adjust,
    points_grant,
    points_redeem,
)
from loyalty.ledger.services.reconcile import Discrepancy, ledger_reconcile
from loyalty.ledger.services.refunds import check_cancel, check_refund
from loyalty.ledger.services.reservations import (
    ConfirmedCheck,
    ReleaseResult,
    check_confirm,
    check_reserve,
    reservation_open,
    reservations_release,
)
from loyalty.ledger.services.rewards import RewardClaim, gift_hand_out, reward_claim
from loyalty.ledger.services.tiers import (
    TierReevaluation,
    account_qualification_value,
    account_tier_upgrade,
    qualification_values,
    tiers_reevaluate,
)

__all__ = [
    "CheckQuote",
    "CommittedCheck",
    "ConfirmedCheck",
    "Discrepancy",
    "EventAward",
    "ExpiryResult",
    "ReleaseResult",
    "RewardClaim",
    "TierReevaluation",
    "account_lock",
    "account_open",
    "account_qualification_value",
    "account_tier_upgrade",
    "accounts_lock",
    "calculate_with_budget_locks",
    "check_calculate",
    "check_cancel",
    "check_commit",
    "check_confirm",
    "check_refund",
    "check_reserve",
    "customer_enrol",
    "customer_identify",
    "customer_state",
    "customer_state_providers",
    "event_award",
    "event_source",
    "gift_hand_out",
    "ledger_reconcile",
    "member_account_lock",
    "points_adjust",
    "points_expire",
    "points_grant",
    "points_redeem",
    "qualification_values",
    "reservation_open",
    "reservations_release",
    "reward_claim",
    "tiers_reevaluate",
]
