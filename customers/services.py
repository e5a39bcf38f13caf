"""Customer services: the customer record itself, whatever programme it joins.

Enrolment into a programme (which opens the ledger account) and identification of a member at
the till live with the ledger: ``loyalty.ledger.services.accounts``. This module knows nothing
of programmes or accounts.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core import errors
from customers.models import Customer


def customer_register(
    *,
    phone: str,
    referred_by: Customer | None = None,
    now: datetime,
) -> Customer:
    """The customer with this (normalised, E.164) ``phone``, locked; created if new.

    The global record only identifies the person: names, email, birth date, card and
    consents are what each programme collected, and live in its member profile
    (``loyalty.ledger.models.MemberProfile``). A phone already known is never duplicated: its
    customer is returned. A new customer records ``referred_by`` (never themselves). Runs in the
    caller's transaction (it locks the customer row). Raises ValidationFailed naming the field.
    """
    customer = Customer.objects.select_for_update().filter(phone=phone).first()
    if customer is not None:
        return customer
    customer = Customer(
        phone=phone,
        registered_at=now,
        referred_by=referred_by if referred_by is not None and referred_by.phone != phone else None,
    )
    try:
        customer.full_clean(exclude=["referral_code", "public_id", "user", "referred_by"])
    except ValidationError as exc:
        raise errors.ValidationFailed(
            fields={name: [str(m) for m in messages] for name, messages in exc.message_dict.items()}
        ) from None
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        # A concurrent enrolment of the same phone won; use its customer.
        customer = Customer.objects.select_for_update().get(phone=phone)
    return customer


@transaction.atomic
def customer_block(*, customer: Customer, reason: str) -> Customer:
    """Block the customer (no earning, no redemption, no messages) with a stated reason.

    Raises ValidationFailed (field ``reason``) without a reason. The row is locked; the change is
    kept in the customer's history (django-simple-history records the acting user).
    """
    reason = (reason or "").strip()
    if not reason:
        raise errors.ValidationFailed(fields={"reason": [_("A reason is required.")]})
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    customer.is_blocked = True
    customer.blocked_reason = reason[:255]
    customer.save(update_fields=["is_blocked", "blocked_reason"])
    return customer


@transaction.atomic
def customer_unblock(*, customer: Customer) -> Customer:
    """Lift a block; the reason it was blocked stays in the customer's history."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    customer.is_blocked = False
    customer.blocked_reason = ""
    customer.save(update_fields=["is_blocked", "blocked_reason"])
    return customer
