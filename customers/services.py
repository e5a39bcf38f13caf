"""Customer services: the customer record itself, whatever programme it joins.

Enrolment into a programme (which opens the ledger account) and identification of a member at
the till live with the ledger: ``loyalty.ledger.services.accounts``. This module knows nothing
of programmes or accounts.
"""

from __future__ import annotations

from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core import errors
from customers.models import Customer


def _set_consents(customer: Customer, consents: dict | None, *, now: datetime) -> list[str]:
    changed = []
    for channel in ("sms", "email"):
        if consents is None or channel not in consents:
            continue
        value = bool(consents[channel])
        if getattr(customer, f"consent_{channel}") != value or customer.pk is None:
            setattr(customer, f"consent_{channel}", value)
            setattr(customer, f"consent_{channel}_at", now)
            changed += [f"consent_{channel}", f"consent_{channel}_at"]
    return changed


def _validation_failed(exc: ValidationError) -> errors.ValidationFailed:
    fields = {
        ("card" if name == "card_number" else name): [str(m) for m in messages]
        for name, messages in exc.message_dict.items()
    }
    return errors.ValidationFailed(fields=fields)


def customer_register(
    *,
    phone: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    birth_date: date | None = None,
    card: str | None = None,
    referred_by: Customer | None = None,
    consents: dict | None = None,
    now: datetime,
) -> Customer:
    """The customer with this (normalised, E.164) ``phone``, locked; created if new.

    A phone already known is never duplicated: its customer is returned, and given ``card``
    if it had none. A new customer records ``referred_by`` (never themselves) and the consents.
    Runs in the caller's transaction (it locks the customer row). Raises ValidationFailed
    naming the field (card, email, …).
    """
    customer = Customer.objects.select_for_update().filter(phone=phone).first()
    if customer is None:
        customer = Customer(
            phone=phone,
            email=email or "",
            first_name=first_name or "",
            last_name=last_name or "",
            birth_date=birth_date,
            card_number=card,
            registered_at=now,
            referred_by=referred_by
            if referred_by is not None and referred_by.phone != phone
            else None,
        )
        _set_consents(customer, consents, now=now)
        try:
            customer.full_clean(exclude=["referral_code", "public_id", "user", "referred_by"])
        except ValidationError as exc:
            raise _validation_failed(exc) from None
        try:
            with transaction.atomic():
                customer.save()
        except IntegrityError:
            # A concurrent enrolment of the same phone won; use its customer.
            customer = Customer.objects.select_for_update().filter(phone=phone).first()
            if customer is None:
                raise errors.ValidationFailed(
                    fields={"card": [_("This card belongs to another customer.")]}
                ) from None
    elif card and not customer.card_number:
        if Customer.objects.filter(card_number=card).exclude(pk=customer.pk).exists():
            raise errors.ValidationFailed(
                fields={"card": [_("This card belongs to another customer.")]}
            )
        customer.card_number = card
        customer.save(update_fields=["card_number"])
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
