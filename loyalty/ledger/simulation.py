"""A real customer for the admin's basket simulator (``loyalty.rules.simulator``).

Found by card number or phone (any spelling, read in the programme's region); their state is
what ``check_calculate`` gives the engine: tier, available balance, purchases, segments and
offers from the providers, per-customer rule usage. Reads only.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from django.db.models import Q

from core import errors
from customers.phones import phone_mask, phone_normalise
from loyalty.ledger.models import Account
from loyalty.ledger.selectors import account_balance
from loyalty.ledger.services.checks import customer_state
from loyalty.rules import loader
from loyalty.rules.models import Program
from loyalty.rules.simulator import SimulatedCustomer, customer_finders


def simulated_customer(*, program: Program, query: str, now: datetime) -> SimulatedCustomer | None:
    text = (query or "").strip()
    if not text:
        return None
    match = Q(customer__card_number=text)
    with contextlib.suppress(errors.ValidationFailed):
        match |= Q(customer__phone=phone_normalise(text, region=program.region))
    account = (
        Account.objects.select_related("customer", "tier")
        .filter(program=program)
        .filter(match)
        .order_by("pk")
        .first()
    )
    if account is None:
        return None
    balance = account_balance(account, now=now)
    state = customer_state(account, now=now, balance=balance, spec=loader.program_spec(program))
    customer = account.customer
    name = " ".join(part for part in (customer.first_name, customer.last_name) if part)
    contact = phone_mask(customer.phone) if customer.phone else (customer.card_number or "")
    return SimulatedCustomer(
        label=", ".join(part for part in (name, contact) if part) or str(customer),
        account_id=account.pk,
        tier_name=account.tier.name if account.tier_id else None,
        available=balance.available,
        pending=balance.pending,
        purchases_count=state.purchases_count,
        state=state,
    )


def connect() -> None:
    if simulated_customer not in customer_finders:
        customer_finders.append(simulated_customer)
