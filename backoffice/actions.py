"""The customer card's actions. Each is one transaction, checks its permission, and is audited.

Audit: every action writes an admin ``LogEntry`` on the customer (who, when, what, the reason)
in the same transaction; a points adjustment is also an ``Operation`` carrying the reason and
the acting user, and a block is kept in the customer's history with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from campaigns.enrolment import member_enrol
from core import errors
from customers.codes import one_time_code_issue
from customers.models import CodePurpose, Customer
from customers.services import customer_block, customer_unblock
from loyalty.ledger.models import Account, Operation
from loyalty.ledger.services import points_adjust
from loyalty.rules.models import Outlet, Program

TILL_CODE_TTL_SECONDS = 300

# The permission each action needs (docs/security.md: support adjusts, blocks, enrols).
PERMISSIONS = {
    "adjust": ("ledger.change_account",),
    "block": ("customers.change_customer",),
    "unblock": ("customers.change_customer",),
    "enrol": ("customers.change_customer", "ledger.change_account"),
    "till_code": ("customers.change_customer",),
}


def allowed(user, action: str) -> bool:
    return user.has_perms(PERMISSIONS[action])


def _refuse_unless(user, action: str) -> None:
    if not allowed(user, action):
        raise PermissionDenied


def _audit(user, customer: Customer, message: str) -> None:
    LogEntry.objects.log_actions(
        user_id=user.pk,
        queryset=[customer],
        action_flag=CHANGE,
        change_message=message,
        single_object=True,
    )


@transaction.atomic
def card_adjust(
    *,
    user,
    customer: Customer,
    account: Account,
    points: Decimal,
    reason: str,
    now: datetime,
    token: str | None = None,
) -> Operation:
    """``token``: the form's one-time token; the same token again returns the adjustment it
    made (no second operation, no second audit entry)."""
    _refuse_unless(user, "adjust")
    if account.customer_id != customer.pk:
        raise errors.ValidationFailed(fields={"account": [_("Not an account of this customer.")]})
    key = f"card-adjust:{token}" if token else None
    replay = (
        key is not None and Operation.objects.filter(source="admin", idempotency_key=key).exists()
    )
    operation = points_adjust(
        account=account, points=points, reason=reason, created_by=user, now=now, idempotency_key=key
    )
    if replay:
        return operation
    _audit(
        user,
        customer,
        _("Adjusted %(points)s points in %(program)s: %(reason)s")
        % {"points": points, "program": account.program.code, "reason": reason},
    )
    return operation


@transaction.atomic
def card_block(*, user, customer: Customer, reason: str) -> Customer:
    _refuse_unless(user, "block")
    customer = customer_block(customer=customer, reason=reason)
    _audit(user, customer, _("Blocked: %(reason)s") % {"reason": customer.blocked_reason})
    return customer


@transaction.atomic
def card_unblock(*, user, customer: Customer, reason: str = "") -> Customer:
    _refuse_unless(user, "unblock")
    customer = customer_unblock(customer=customer)
    _audit(
        user,
        customer,
        (_("Unblocked: %(reason)s") % {"reason": reason}) if reason else _("Unblocked"),
    )
    return customer


@transaction.atomic
def card_enrol(
    *, user, customer: Customer, program: Program, outlet: Outlet | None, now: datetime
) -> Account:
    """Open the customer's account in ``program`` with the welcome bonus (``member_enrol``)."""
    _refuse_unless(user, "enrol")
    if not customer.phone:
        raise errors.ValidationFailed(
            fields={"program": [_("The customer has no phone; members are enrolled by phone.")]}
        )
    if outlet is not None and outlet.program_id != program.pk:
        raise errors.ValidationFailed(fields={"outlet": [_("The outlet is of another programme.")]})
    if Account.objects.filter(customer=customer, program=program).exists():
        raise errors.ValidationFailed(
            fields={"program": [_("Already a member of this programme.")]}
        )
    _customer, account, _created = member_enrol(
        program=program, outlet=outlet, phone=customer.phone, now=now
    )
    _audit(user, customer, _("Enrolled into %(program)s") % {"program": program.code})
    return account


@dataclass(frozen=True)
class TillCode:
    code: str
    expires_at: datetime


@transaction.atomic
def card_till_code(*, user, customer: Customer, now: datetime) -> TillCode:
    """A one-time till code for support to read out; the code itself is never logged."""
    _refuse_unless(user, "till_code")
    if customer.is_blocked:
        raise errors.ValidationFailed(fields={"customer": [_("The customer is blocked.")]})
    code = one_time_code_issue(
        customer=customer, purpose=CodePurpose.TILL, now=now, ttl_seconds=TILL_CODE_TTL_SECONDS
    )
    _audit(user, customer, _("Issued a one-time till code"))
    return TillCode(code=code, expires_at=now + timedelta(seconds=TILL_CODE_TTL_SECONDS))
