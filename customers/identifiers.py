"""Which identifiers a programme's terminal may see: nothing about another programme's people.

Card numbers are unique across the platform (``Customer.card_number``), so a terminal that
names a card held in another programme would learn that the card exists from any refusal.
These checks let the doors answer as if the card were unknown instead.
"""

from __future__ import annotations

from django.db.models import QuerySet

from core import errors
from customers.models import Customer
from customers.phones import phone_normalise


def card_held_outside(*, card: str | None, phone: str, region: str, members: QuerySet) -> bool:
    """Whether ``card`` belongs to someone who is neither among ``members`` (the terminal's
    programme) nor the person enrolling with ``phone``.

    An unparseable phone counts as nobody: the enrolment itself will refuse it.
    """
    card = (card or "").strip()
    if not card:
        return False
    holder = Customer.objects.filter(card_number=card).only("pk", "phone").first()
    if holder is None:
        return False
    try:
        e164 = phone_normalise(phone, region=region)
    except errors.ValidationFailed:
        e164 = None
    if holder.phone is not None and holder.phone == e164:
        return False
    return not members.filter(pk=holder.pk).exists()
