"""Erasure of a person's data on request (152-FZ / GDPR), as one transaction.

It lives here, in the highest layer whose data it touches: the customer and its one-time
codes (customers), the per-programme member profiles (ledger) and the outbox messages
(notifications). The ledger's history — accounts, checks, operations, lots, entries — is kept
as it is, so balances, reports and reconcile are untouched: it names no one once the
identifiers and profiles are gone.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from django.conf import settings
from django.db import transaction

from core import errors
from customers.models import Customer, ErasureRecord, OneTimeCode, new_referral_code
from loyalty.ledger.models import MemberProfile
from notifications.models import Message

ERASED = "erased"


def erasure_reference(customer: Customer) -> str:
    """A non-reversible reference of the person: HMAC-SHA256 of the phone (or the id)."""
    subject = customer.phone or str(customer.public_id)
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"erasure:{subject}".encode(), hashlib.sha256).hexdigest()


@transaction.atomic
def customer_erase(*, customer: Customer, reason: str, by, now: datetime) -> ErasureRecord:
    """Anonymise the person and record who did it, when and why. Idempotent: a second call
    returns the first record and changes nothing.

    Phone, card, names, email, birth date and consents go from the customer and from every
    member profile, and from their ``simple_history`` copies; the one-time codes and the
    outbox messages to the person are deleted; the cabinet user is deactivated and renamed.
    Raises ValidationFailed (``reason``, ``by``).
    """
    if not (reason or "").strip():
        raise errors.ValidationFailed(fields={"reason": ["A reason is required."]})
    if by is None or not getattr(by, "is_staff", False):
        raise errors.ValidationFailed(fields={"by": ["A staff user is required."]})
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    existing = ErasureRecord.objects.filter(customer=customer).first()
    if existing is not None:
        return existing
    record = ErasureRecord.objects.create(
        customer=customer,
        reference=erasure_reference(customer),
        reason=reason.strip(),
        erased_by=by,
        erased_at=now,
    )
    blank = {
        "first_name": "",
        "last_name": "",
        "email": "",
        "birth_date": None,
        "card_number": None,
        "consent_sms": False,
        "consent_sms_at": None,
        "consent_email": False,
        "consent_email_at": None,
    }
    profiles = MemberProfile.objects.filter(account__customer=customer)
    profile_ids = list(profiles.values_list("pk", flat=True))
    profiles.update(**blank)
    MemberProfile.history.filter(id__in=profile_ids).update(**blank)
    identity = {
        **blank,
        "phone": None,
        "referral_code": new_referral_code(),
        "is_blocked": True,
        "blocked_reason": ERASED,
    }
    user = customer.user
    Customer.objects.filter(pk=customer.pk).update(**identity)
    Customer.history.filter(id=customer.pk).update(
        **{k: v for k, v in identity.items() if k != "referral_code"}, referral_code=ERASED
    )
    OneTimeCode.objects.filter(customer=customer).delete()
    Message.objects.filter(customer=customer).delete()
    if user is not None:
        user.username = f"erased-{customer.pk}"
        user.email = ""
        user.first_name = user.last_name = ""
        user.is_active = False
        user.set_unusable_password()
        user.save()
    return record
