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
from loyalty.ledger.models import Account, MemberProfile
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
        # The person's own cabinet: the reset email is one they gave a programme they are in.
        email = (
            MemberProfile.objects.filter(account__customer=customer)
            .exclude(email="")
            .order_by("account_id")
            .values_list("email", flat=True)
            .first()
        )
        user = get_user_model()(username=f"customer-{customer.public_id.hex}", email=email or "")
        user.set_password(password)
        user.save()
        customer.user = user
        customer.save(update_fields=["user"])
    else:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


@transaction.atomic
def consent_set(*, account: Account, channel: str, value: bool, now: datetime) -> bool:
    """Switch the email or SMS consent given to the account's programme; returns whether it
    changed (consents are per programme: the member profile).

    Withdrawal goes through the outbox's unsubscribe (which also drops pending marketing on
    that channel). The change time is recorded for the consent audit.
    Raises ValidationFailed (field ``channel``) for another channel.
    """
    if channel not in (Channel.EMAIL, Channel.SMS):
        raise errors.ValidationFailed(fields={"channel": [_("Unknown channel.")]})
    if not value:
        return customer_unsubscribe(
            customer=account.customer, channel=channel, now=now, program_id=account.program_id
        )
    profile = MemberProfile.objects.select_for_update().get(account=account)
    field = f"consent_{channel}"
    if getattr(profile, field):
        return False
    setattr(profile, field, True)
    setattr(profile, f"{field}_at", now)
    profile.save(update_fields=[field, f"{field}_at"])
    return True


@transaction.atomic
def profile_update(
    *, account: Account, first_name: str, last_name: str, email: str, now: datetime
) -> MemberProfile:
    """Change the name and email the account's programme holds; the cabinet user's email
    follows (reset mail). Other programmes' profiles are untouched.

    Raises ValidationFailed naming the field.
    """
    profile = MemberProfile.objects.select_for_update().get(account=account)
    profile.first_name = first_name.strip()
    profile.last_name = last_name.strip()
    profile.email = email.strip()
    try:
        profile.full_clean(exclude=["account", "program", "public_id"])
    except ValidationError as exc:
        raise errors.ValidationFailed(
            fields={name: [str(m) for m in msgs] for name, msgs in exc.message_dict.items()}
        ) from None
    profile.save(update_fields=["first_name", "last_name", "email"])
    user = Customer.objects.select_related("user").get(pk=account.customer_id).user
    if user is not None and profile.email and user.email != profile.email:
        user.email = profile.email
        user.save(update_fields=["email"])
    return profile
