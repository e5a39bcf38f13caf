"""Accounts: membership of a programme, enrolment, identification, and the account lock.

``accounts_lock`` / ``account_lock`` are the one way to lock account rows: by primary key, in
ascending order, and only the account rows (``of=self``) — a joined programme row locked too
would queue every account of the programme behind every other (DESIGN invariant 5).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.db.models.functions import JSONObject
from django.utils.translation import gettext as _

from core import errors
from customers.codes import one_time_code_consume
from customers.models import CodePurpose, Customer
from customers.phones import phone_normalise
from customers.services import customer_register
from loyalty.ledger import signals
from loyalty.ledger.models import Account, MemberProfile
from loyalty.rules.models import Outlet, Program

# --- locking --------------------------------------------------------------------------------------


def _for_update():
    # of=self: joined rows (programme, tier, customer) stay unlocked; PostgreSQL also refuses to
    # lock the nullable side of an outer join (the tier).
    return Account.objects.select_for_update(of=("self",))


def accounts_lock(*ids: int | None, related: Sequence[str] = ("program",)) -> dict[int, Account]:
    """Lock the accounts ``ids`` (None ignored) in primary-key order; returns them by id.

    ``related`` are joined in the same query (not locked). Runs in the caller's transaction.
    An id with no account is absent from the result.
    """
    wanted = sorted({i for i in ids if i is not None})
    rows = _for_update()
    if related:
        rows = rows.select_related(*related)
    return {a.pk: a for a in rows.filter(pk__in=wanted).order_by("pk")}


def account_lock(
    account_id: int, *, related: Sequence[str] = ("program",), **annotations
) -> Account:
    """Lock one account (see ``accounts_lock``). Raises Account.DoesNotExist.

    ``annotations`` (scalar subqueries) ride on the same statement, with the caveat of
    ``member_account_lock``: they read the snapshot the statement started with."""
    rows = _for_update()
    if related:
        rows = rows.select_related(*related)
    if annotations:
        rows = rows.annotate(**annotations)
    return rows.get(pk=account_id)


def member_account_lock(program: Program, customer: Customer, **annotations) -> Account | None:
    """The customer's account in ``program``, locked; None if it has none.

    Only the account row, and without joins: a join would lock the programme row too
    (serialising every account of the programme), and PostgreSQL's re-check of a row that was
    updated while we waited returns NULLs for an outer-joined tier. ``annotations`` (scalar
    subqueries) ride on the same statement; they read the snapshot the statement started
    with, which may predate the lock wait — use them only for what may be a moment old.
    """
    rows = _for_update().filter(program=program, customer=customer)
    if annotations:
        rows = rows.annotate(**annotations)
    account = rows.first()
    if account is not None:
        account.program = program
    return account


# --- membership -----------------------------------------------------------------------------------

# What the messages of a locked account's operation need of its member profile, read in the
# lock's own statement (a scalar subquery, no join: see ``member_account_lock``).
PROFILE_SNAPSHOT_FIELDS = (
    "id",
    "account_id",
    "program_id",
    "public_id",
    "first_name",
    "last_name",
    "email",
    "consent_sms",
    "consent_email",
)


def profile_snapshot() -> Subquery:
    """An annotation for ``member_account_lock``: the account's profile as a JSON object."""
    return Subquery(
        MemberProfile.objects.filter(account=OuterRef("pk")).values(
            snapshot=JSONObject(**{f: f for f in PROFILE_SNAPSHOT_FIELDS})
        )[:1]
    )


def profile_from_snapshot(account: Account, data) -> None:
    """Cache on ``account`` the profile read by ``profile_snapshot`` (the other fields are
    deferred: reading one loads it, and a save writes only the fields loaded)."""
    if not data:
        return
    if isinstance(data, str):
        data = json.loads(data)
    values = [data[f] for f in PROFILE_SNAPSHOT_FIELDS]
    values[3] = uuid.UUID(str(values[3]))
    values[7], values[8] = bool(values[7]), bool(values[8])
    profile = MemberProfile.from_db(None, list(PROFILE_SNAPSHOT_FIELDS), values)
    account.profile = profile


def account_open(*, program: Program, customer: Customer, now: datetime, outlet=None) -> Account:
    """The customer's account in the programme, created on first use with the entry tier."""
    account = Account.objects.filter(program=program, customer=customer).first()
    if account is not None:
        return account
    base_tier = program.tiers.order_by("rank", "threshold", "id").first()
    account, _created = Account.objects.get_or_create(
        program=program,
        customer=customer,
        defaults={
            "tier": base_tier,
            "tier_since": now if base_tier else None,
            "enrolled_at": now,
            "enrolled_outlet": outlet,
        },
    )
    return account


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
    ``customer_enrolled`` inside the transaction (the welcome message rides on it; the welcome
    bonus is granted by the caller, ``campaigns.enrolment.member_enrol``).
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
    customer = customer_register(phone=e164, referred_by=referrer, now=now)
    existing = Account.objects.filter(program=program, customer=customer).first()
    account = existing or account_open(program=program, customer=customer, now=now, outlet=outlet)
    created = existing is None
    profile_fill(
        account,
        new=created,
        email=email,
        first_name=first_name,
        last_name=last_name,
        birth_date=birth_date,
        card=card,
        consents=consents,
        now=now,
    )
    signals.customer_enrolled.send(
        sender=Customer,
        customer=customer,
        account=account,
        outlet=outlet,
        created=created,
        now=now,
    )
    return customer, account, created


def profile_fill(
    account: Account,
    *,
    new: bool,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    birth_date: date | None = None,
    card: str | None = None,
    consents: dict | None = None,
    now: datetime,
) -> MemberProfile:
    """Record what the programme collected at enrolment in the account's own profile.

    A new member's profile takes everything given; an existing member's keeps what it holds
    and only gains a card if it had none. Only this programme's profiles are read: a card is
    unique within the programme, and another programme's data is never looked at.
    Raises ValidationFailed naming the field (email, card, …).
    """
    profile = MemberProfile.objects.select_for_update().get(account=account)
    changed: list[str] = []
    if new:
        profile.email = email or ""
        profile.first_name = first_name or ""
        profile.last_name = last_name or ""
        profile.birth_date = birth_date
        changed += ["email", "first_name", "last_name", "birth_date"]
        for channel in ("sms", "email"):
            if consents is not None and channel in consents:
                setattr(profile, f"consent_{channel}", bool(consents[channel]))
                setattr(profile, f"consent_{channel}_at", now)
                changed += [f"consent_{channel}", f"consent_{channel}_at"]
    if card and not profile.card_number:
        if (
            MemberProfile.objects.filter(program_id=account.program_id, card_number=card)
            .exclude(pk=profile.pk)
            .exists()
        ):
            raise errors.ValidationFailed(
                fields={"card": [_("This card belongs to another customer.")]}
            )
        profile.card_number = card
        changed.append("card_number")
    if not changed:
        return profile
    try:
        profile.full_clean(exclude=["account", "program", "public_id"])
    except ValidationError as exc:
        raise errors.ValidationFailed(
            fields={
                ("card" if name == "card_number" else name): [str(m) for m in messages]
                for name, messages in exc.message_dict.items()
            }
        ) from None
    profile.save(update_fields=changed)
    return profile


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
        customer = members.filter(
            accounts__profile__program=program, accounts__profile__card_number=str(card).strip()
        ).first()
    elif id:
        # The id a programme sees is its member profile's (docs/architecture.md).
        try:
            public_id = id if isinstance(id, uuid.UUID) else uuid.UUID(str(id))
        except ValueError:
            raise errors.CustomerNotFound() from None
        customer = members.filter(
            accounts__profile__program=program, accounts__profile__public_id=public_id
        ).first()
    else:
        customer = one_time_code_consume(code=str(code), purpose=CodePurpose.TILL, now=now)
        if not Account.objects.filter(program=program, customer=customer).exists():
            customer = None
    if customer is None:
        raise errors.CustomerNotFound()
    return customer
