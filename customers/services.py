"""Customer services: enrolment into a programme and identification at the till."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core import errors
from customers.codes import one_time_code_consume
from customers.models import CodePurpose, Customer
from customers.phones import phone_normalise
from loyalty.ledger import signals
from loyalty.ledger.models import Account
from loyalty.ledger.services import account_open
from loyalty.rules.models import Outlet, Program


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


@transaction.atomic
def customer_enrol(
    *,
    program: Program,
    outlet: Outlet | None,
    phone: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    birth_date: date | None = None,
    card: str | None = None,
    referral_code: str | None = None,
    consents: dict | None = None,
    now: datetime,
) -> tuple[Customer, Account, bool]:
    """Enrol a person into ``program`` by phone; returns (customer, account, created).

    A phone already known is never duplicated: its customer is returned, with an account in this
    programme opened if it had none (``created`` is True only when the account is new). A new
    customer may name a referrer by referral code (never themselves). Sends
    ``customer_enrolled`` inside the transaction (welcome bonus and message ride on it).
    Raises ValidationFailed naming the field (phone, card, referral_code, email, …).
    """
    e164 = phone_normalise(phone, region=program.region)
    if birth_date is not None and birth_date > now.date():
        raise errors.ValidationFailed(fields={"birth_date": [_("Cannot be in the future.")]})
    card = (card or "").strip() or None
    referrer = None
    if referral_code:
        referrer = (
            Customer.objects.filter(
                referral_code=referral_code.strip().upper(), accounts__program=program
            )
            .distinct()
            .first()
        )
        if referrer is None:
            raise errors.ValidationFailed(
                fields={"referral_code": [_("No member of this programme has this code.")]}
            )
    customer = Customer.objects.select_for_update().filter(phone=e164).first()
    if customer is None:
        customer = Customer(
            phone=e164,
            email=email or "",
            first_name=first_name or "",
            last_name=last_name or "",
            birth_date=birth_date,
            card_number=card,
            registered_at=now,
            referred_by=referrer if referrer is not None and referrer.phone != e164 else None,
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
            customer = Customer.objects.select_for_update().filter(phone=e164).first()
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
    existing = Account.objects.filter(program=program, customer=customer).first()
    account = existing or account_open(program=program, customer=customer, now=now, outlet=outlet)
    created = existing is None
    signals.customer_enrolled.send(
        sender=Customer,
        customer=customer,
        account=account,
        outlet=outlet,
        created=created,
        now=now,
    )
    return customer, account, created


def customer_identify(
    *,
    program: Program,
    phone: str | None = None,
    card: str | None = None,
    code: str | None = None,
    id: str | uuid.UUID | None = None,
    now: datetime,
) -> Customer:
    """The programme member named by exactly one identifier.

    A one-time code is consumed by this call. Customers who are not members of ``program`` are
    not found (a terminal never learns about other programmes' customers).
    Raises ValidationFailed (none or several identifiers, malformed phone) and CustomerNotFound.
    """
    given = {
        name: value
        for name, value in (("phone", phone), ("card", card), ("code", code), ("id", id))
        if value not in (None, "")
    }
    if len(given) != 1:
        message = _("Give exactly one of phone, card, code, id.")
        raise errors.ValidationFailed(message, fields={"customer": [message]})
    members = Customer.objects.filter(accounts__program=program)
    if phone:
        customer = members.filter(phone=phone_normalise(phone, region=program.region)).first()
    elif card:
        customer = members.filter(card_number=str(card).strip()).first()
    elif id:
        try:
            public_id = id if isinstance(id, uuid.UUID) else uuid.UUID(str(id))
        except ValueError:
            raise errors.CustomerNotFound() from None
        customer = members.filter(public_id=public_id).first()
    else:
        customer = one_time_code_consume(code=str(code), purpose=CodePurpose.TILL, now=now)
        if not Account.objects.filter(program=program, customer=customer).exists():
            customer = None
    if customer is None:
        raise errors.CustomerNotFound()
    return customer
