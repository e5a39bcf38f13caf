"""Enrolment as the doors make it: the ledger's membership, then what joining earns.

The ledger (below campaigns) opens the account and announces ``customer_enrolled`` for the
welcome message; the welcome bonus is a campaigns trigger, so it is called here, explicitly,
in the same transaction — no signal receiver grants points. The referral itself is only noted
at enrolment (``referred_by``, by the ledger); it is recorded and paid after the friend's first
completed check (``campaigns.triggers.referral``).
"""

from __future__ import annotations

from datetime import date, datetime

from django.db import transaction

from campaigns.triggers import member_welcome
from customers.models import Customer
from loyalty.ledger.models import Account
from loyalty.ledger.services import customer_enrol
from loyalty.rules.models import Outlet, Program


@transaction.atomic
def member_enrol(
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
    """Enrol a person into ``program`` (``customer_enrol``) and grant a new member's welcome bonus.

    Returns (customer, account, created) like ``customer_enrol``, and raises what it raises. The
    bonus is granted once per customer and programme, within the trigger budget; a bonus that
    does not fit is simply not granted (the enrolment still succeeds).
    """
    customer, account, created = customer_enrol(
        program=program,
        outlet=outlet,
        phone=phone,
        email=email,
        first_name=first_name,
        last_name=last_name,
        birth_date=birth_date,
        card=card,
        referral_code=referral_code,
        consents=consents,
        now=now,
    )
    member_welcome(account=account, created=created, now=now)
    return customer, account, created
