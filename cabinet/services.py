"""Writes the cabinet makes: sign-up by phone confirmation, consents, profile.

Each is one transaction; messages go out through the notifications outbox on commit.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from core import errors
from customers.codes import one_time_code_consume, one_time_code_issue
from customers.models import CodePurpose, Customer
from customers.phones import phone_normalise
from loyalty.ledger.models import Account
from notifications.events import SIGNUP_CODE
from notifications.models import Channel
from notifications.services import customer_unsubscribe, message_enqueue

from . import ratelimit

logger = logging.getLogger(__name__)

SIGNUP_CODE_TTL_SECONDS = 300


def _enrolled(phone: str) -> tuple[Customer, Account] | None:
    customer = Customer.objects.filter(phone=phone, is_blocked=False).first()
    if customer is None:
        return None
    account = (
        Account.objects.filter(customer=customer)
        .select_related("program")
        .order_by("enrolled_at", "id")
        .first()
    )
    return None if account is None else (customer, account)


@transaction.atomic
def signup_code_send(*, phone: str, region: str, language: str, now: datetime) -> str:
    """Send a sign-up confirmation code by SMS to an enrolled customer's phone.

    Returns the phone in E.164 whether or not it is enrolled: the caller shows the same answer
    either way, so the sign-up form does not reveal who is a member. A phone that is not
    enrolled gets nothing (customers are enrolled at the till, never created here).
    Raises ValidationFailed (field ``phone``) for something that is not a phone number.
    """
    e164 = phone_normalise(phone, region=region)
    found = _enrolled(e164)
    if found is None:
        return e164
    customer, account = found
    if not ratelimit.program_sms_take(program_id=account.program_id):
        # The programme's hourly SMS budget is spent (an attack from many addresses): send
        # nothing, answer as for any phone, so the limit does not reveal who is enrolled.
        logger.warning("sign-up SMS budget of programme %s spent", account.program_id)
        return e164
    code = one_time_code_issue(
        customer=customer,
        purpose=CodePurpose.SIGNUP,
        now=now,
        ttl_seconds=SIGNUP_CODE_TTL_SECONDS,
    )
    message_enqueue(
        customer=customer,
        event=SIGNUP_CODE.code,
        context={"code": code, "minutes": SIGNUP_CODE_TTL_SECONDS // 60},
        idempotency_key=f"signup-code:{uuid.uuid4()}",
        now=now,
        channels=[Channel.SMS],
        marketing=False,
        program=account.program,
        language=language,
    )
    return e164


@transaction.atomic
def signup_complete(*, phone: str, code: str, password: str, now: datetime):
    """Link a cabinet user to the enrolled customer who owns ``phone``; returns the user.

    The code must be the live sign-up code sent to that phone (consumed here, once). A
    customer who already has a user gets a new password on that same user (sign-up doubles
    as recovery by phone): a customer never gets a second user, and a user never a second
    customer. Raises CustomerNotFound for an unknown phone or a wrong, used or expired code
    (the caller cannot tell which). The caller validates the password's strength.
    """
    found = _enrolled(phone)
    if found is None:
        raise errors.CustomerNotFound()
    customer = one_time_code_consume(
        code=code, purpose=CodePurpose.SIGNUP, now=now, customer=found[0]
    )
    customer = (
        Customer.objects.select_for_update(of=("self",)).select_related("user").get(pk=customer.pk)
    )
    user = customer.user
    if user is None:
        user = get_user_model()(username=f"customer-{customer.public_id.hex}", email=customer.email)
        user.set_password(password)
        user.save()
        customer.user = user
        customer.save(update_fields=["user"])
    else:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


@transaction.atomic
def consent_set(*, customer: Customer, channel: str, value: bool, now: datetime) -> bool:
    """Switch the customer's email or SMS consent; returns whether it changed.

    Withdrawal goes through the outbox's unsubscribe (which also drops pending marketing on
    that channel). The change time is recorded for the consent audit.
    Raises ValidationFailed (field ``channel``) for another channel.
    """
    if channel not in (Channel.EMAIL, Channel.SMS):
        raise errors.ValidationFailed(fields={"channel": [_("Unknown channel.")]})
    if not value:
        return customer_unsubscribe(customer=customer, channel=channel, now=now)
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    field = f"consent_{channel}"
    if getattr(customer, field):
        return False
    setattr(customer, field, True)
    setattr(customer, f"{field}_at", now)
    customer.save(update_fields=[field, f"{field}_at"])
    return True


@transaction.atomic
def profile_update(
    *, customer: Customer, first_name: str, last_name: str, email: str, now: datetime
) -> Customer:
    """Change the customer's name and email; the cabinet user's email follows (reset mail).

    Raises ValidationFailed naming the field.
    """
    customer = (
        Customer.objects.select_for_update(of=("self",)).select_related("user").get(pk=customer.pk)
    )
    customer.first_name = first_name.strip()
    customer.last_name = last_name.strip()
    customer.email = email.strip()
    try:
        customer.full_clean(exclude=["referral_code", "public_id", "user", "referred_by"])
    except ValidationError as exc:
        raise errors.ValidationFailed(
            fields={name: [str(m) for m in msgs] for name, msgs in exc.message_dict.items()}
        ) from None
    customer.save(update_fields=["first_name", "last_name", "email"])
    if customer.user is not None and customer.user.email != customer.email:
        customer.user.email = customer.email
        customer.user.save(update_fields=["email"])
    return customer
