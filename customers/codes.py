"""One-time codes: six digits a customer shows at the till (or types to confirm sign-up).

The database keeps only an HMAC of the code (keyed with SECRET_KEY, so a leaked table does not
give the codes away by hashing all 10^6 of them). A code is consumed by a single conditional
UPDATE, so two tills presenting the same code at the same moment cannot both succeed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from core import errors
from customers.models import CodePurpose, Customer, OneTimeCode

CODE_LENGTH = 6
_ISSUE_ATTEMPTS = 20


def _digest(code: str, purpose: str) -> str:
    message = f"{purpose}:{code}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def _check_purpose(purpose: str) -> None:
    if purpose not in CodePurpose.values:
        raise errors.ValidationFailed(fields={"purpose": [f"Unknown purpose {purpose!r}."]})


@transaction.atomic
def one_time_code_issue(
    *, customer: Customer, purpose: str, now: datetime, ttl_seconds: int = 300
) -> str:
    """Issue a fresh code of ``purpose`` for ``customer``; returns the raw code (shown once).

    The customer's previous unused code of that purpose stops working. The new code differs
    from every other live code of the purpose, so a code alone identifies one customer.
    """
    _check_purpose(purpose)
    # Lock the customer row so two issues for one customer serialise (one live code each).
    Customer.objects.select_for_update().filter(pk=customer.pk).first()
    OneTimeCode.objects.filter(customer=customer, purpose=purpose, used_at__isnull=True).update(
        expires_at=now
    )
    for _attempt in range(_ISSUE_ATTEMPTS):
        code = f"{secrets.randbelow(10**CODE_LENGTH):0{CODE_LENGTH}d}"
        digest = _digest(code, purpose)
        clash = OneTimeCode.objects.filter(
            purpose=purpose, code_digest=digest, used_at__isnull=True, expires_at__gt=now
        ).exists()
        if not clash:
            break
    OneTimeCode.objects.create(
        customer=customer,
        purpose=purpose,
        code_digest=digest,
        expires_at=now + timedelta(seconds=ttl_seconds),
        created_at=now,
    )
    return code


def one_time_code_consume(
    *,
    code: str,
    purpose: str,
    now: datetime,
    customer: Customer | None = None,
    among: QuerySet[Customer] | None = None,
) -> Customer:
    """Use a live code once and return its customer.

    With ``customer`` given, the code must belong to that customer; with ``among`` (say, the
    members of the terminal's programme), to one of those customers. A code outside them is
    left untouched, so a terminal of another programme cannot burn it. Raises CustomerNotFound
    when the code is unknown, expired, already used or someone else's — the caller learns
    nothing about which.
    """
    _check_purpose(purpose)
    code = (code or "").strip() if isinstance(code, str) else ""
    if not (len(code) == CODE_LENGTH and code.isdigit()):
        raise errors.CustomerNotFound()
    live = OneTimeCode.objects.filter(
        purpose=purpose,
        code_digest=_digest(code, purpose),
        used_at__isnull=True,
        expires_at__gt=now,
    )
    if customer is not None:
        live = live.filter(customer=customer)
    if among is not None:
        live = live.filter(customer__in=among.values("pk"))
    for otc in live.order_by("-created_at", "-id")[:1]:
        # The conditional UPDATE is the atomic claim: only one caller sees rowcount 1.
        claimed = OneTimeCode.objects.filter(pk=otc.pk, used_at__isnull=True).update(used_at=now)
        if claimed:
            return Customer.objects.get(pk=otc.customer_id)
    raise errors.CustomerNotFound()


def one_time_codes_purge(*, now: datetime) -> int:
    """Delete codes that expired or were used more than a day ago (retention); returns rows."""
    from django.db.models import Q

    from core.retention import delete_in_chunks

    cutoff = now - timedelta(hours=settings.RETENTION_CODES_HOURS)
    return delete_in_chunks(
        OneTimeCode.objects.filter(Q(expires_at__lt=cutoff) | Q(used_at__lt=cutoff))
    )
