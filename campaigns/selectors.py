"""Reads that the cabinet, the admin and reports share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, F, OuterRef

from campaigns.models import Offer, OfferActivation
from campaigns.providers import eligible_offers
from loyalty.ledger.models import Account


@dataclass(frozen=True)
class OfferView:
    """A personal offer as the customer sees it."""

    code: str
    title: str
    description: str
    valid_from: datetime | None
    valid_until: datetime | None
    requires_activation: bool
    activated: bool

    @property
    def applies(self) -> bool:
        return self.activated or not self.requires_activation


def offers_for_account(account: Account, *, now: datetime) -> list[OfferView]:
    """The offers this member can see now, soonest ending first; one query."""
    activated = OfferActivation.objects.filter(
        offer_id=OuterRef("pk"), customer_id=account.customer_id
    )
    rows = (
        eligible_offers(account, now=now)
        .annotate(is_activated=Exists(activated))
        .order_by(F("valid_until").asc(nulls_last=True), "pk")
    )
    return [
        OfferView(
            code=offer.code,
            title=offer.title,
            description=offer.description,
            valid_from=offer.valid_from,
            valid_until=offer.valid_until,
            requires_activation=offer.requires_activation,
            activated=offer.is_activated,
        )
        for offer in rows
    ]


def offer_for_account(account: Account, code: str, *, now: datetime) -> Offer | None:
    """The offer with this code if the member may see (and activate) it now."""
    return eligible_offers(account, now=now).filter(code=code).first()
