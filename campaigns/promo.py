"""Promo codes: a campaign's code, given at the till, switches on its rules that require it.

The ledger asks through ``loyalty.ledger.services.coupons.promo_code_providers`` (registered
in ``campaigns.apps``): ``resolve`` says whether a code is usable now, ``use`` counts a
committed check's use (the total limit with a conditional ``F()`` update, so concurrent checks
never exceed it; the per-customer limit under the account lock the commit holds), ``release``
uncounts a cancelled check. The rules learn which code they need from
``providers.rule_overrides`` (``requires_code``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db.models import Count, F
from django.db.models.functions import Upper
from django.utils.translation import gettext_noop

from campaigns.models import Campaign, CampaignStatus, PromoCodeUse
from core import errors


def _campaigns(program, codes: Sequence[str]):
    return (
        Campaign.objects.filter(program=program)
        .exclude(promo_code="")
        .annotate(code_upper=Upper("promo_code"))
        .filter(code_upper__in=set(codes))
        .order_by("pk")
    )


class CampaignPromoCodes:
    def resolve(self, *, program, account, codes: Sequence[str], now: datetime):
        found = list(_campaigns(program, codes))
        if not found:
            return {}
        used: dict[int, int] = {}
        if account is not None:
            used = dict(
                PromoCodeUse.objects.filter(campaign__in=found, account=account, cancelled=False)
                .values("campaign")
                .annotate(n=Count("id"))
                .values_list("campaign", "n")
                .order_by()
            )
        out: dict[str, str | None] = {}
        for campaign in found:
            out[campaign.code_upper] = self._problem(campaign, account, used, now)
        return out

    @staticmethod
    def _problem(campaign: Campaign, account, used: dict[int, int], now: datetime) -> str | None:
        running = campaign.status == CampaignStatus.RUNNING and campaign.starts_at <= now
        if not running or (campaign.ends_at is not None and now >= campaign.ends_at):
            return gettext_noop("This promo code is not valid now.")
        limit = campaign.promo_limit_total
        if limit is not None and campaign.promo_uses >= limit:
            return gettext_noop("This promo code has been used up.")
        per_customer = campaign.promo_limit_per_customer
        if per_customer is not None:
            if account is None:
                return gettext_noop("This promo code needs a customer.")
            if used.get(campaign.pk, 0) >= per_customer:
                return gettext_noop("This promo code has already been used as often as allowed.")
        return None

    def use(self, *, program, account, check, codes: Sequence[str], now: datetime) -> None:
        for campaign in _campaigns(program, codes):
            counted = Campaign.objects.filter(pk=campaign.pk)
            if campaign.promo_limit_total is not None:
                counted = counted.filter(promo_uses__lt=campaign.promo_limit_total)
            if not counted.update(promo_uses=F("promo_uses") + 1):
                raise errors.CouponInvalid(
                    f"{campaign.code_upper}: This promo code has been used up."
                )
            PromoCodeUse.objects.create(
                campaign=campaign, account=account, check_obj=check, used_at=now
            )

    def release(self, *, check) -> None:
        uses = list(
            PromoCodeUse.objects.filter(check_obj=check, cancelled=False)
            .order_by("campaign_id")
            .values_list("pk", "campaign_id")
        )
        for _pk, campaign_id in uses:
            Campaign.objects.filter(pk=campaign_id, promo_uses__gt=0).update(
                promo_uses=F("promo_uses") - 1
            )
        PromoCodeUse.objects.filter(pk__in=[pk for pk, _ in uses]).update(cancelled=True)


promo_codes = CampaignPromoCodes()

__all__ = ["CampaignPromoCodes", "promo_codes"]
