"""Campaign lifecycle and personal offers: the writes of the campaigns app.

A campaign moves draft → scheduled → running ⇄ paused → finished. Its rules take part in
calculations only while it is running, inside its window, for its audience (see providers.py);
its budget is a hard stop because every rule of a budgeted campaign carries the budget, so the
ledger locks and counts it on every commit (account → check → budgeted rules, by id).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.audience import campaign_audience_assign
from campaigns.models import (
    Campaign,
    CampaignMember,
    CampaignStatus,
    Offer,
    OfferActivation,
    OfferRule,
    Segment,
)
from campaigns.providers import campaign_budget_left, eligible_offers
from campaigns.segments import segment_refresh
from core import errors
from customers.models import Customer
from loyalty.ledger.models import Account, RuleAward
from loyalty.rules.models import EarnRule
from loyalty.rules.versioning import program_config_changed
from notifications.services import message_enqueue

logger = logging.getLogger(__name__)
ZERO = Decimal("0")


class CampaignStateError(errors.DomainError):
    code = "campaign_state"
    status = 409
    default_detail = gettext_lazy("The campaign cannot do that in its current state.")


# --- validation -----------------------------------------------------------------------------------


def campaign_problems(campaign: Campaign) -> dict[str, list[str]]:
    """What keeps a campaign from being scheduled or launched, by field."""
    problems: dict[str, list[str]] = {}
    rules = list(EarnRule.objects.filter(campaign_link__campaign=campaign).order_by("code"))
    if not rules:
        problems.setdefault("rules", []).append(_("Add at least one earn rule."))
    for rule in rules:
        if rule.program_id != campaign.program_id:
            problems.setdefault("rules", []).append(
                _("Rule %(rule)s belongs to another programme.") % {"rule": rule.code}
            )
    in_offers = sorted(
        OfferRule.objects.filter(rule__in=rules).values_list("rule__code", flat=True)
    )
    if in_offers:
        problems.setdefault("rules", []).append(
            _("Rules already used by a personal offer: %(rules)s.")
            % {"rules": ", ".join(in_offers)}
        )
    segment = campaign.segment
    if segment is not None and segment.program_id not in (None, campaign.program_id):
        problems.setdefault("segment", []).append(_("The segment belongs to another programme."))
    if segment is not None and not segment.is_active:
        problems.setdefault("segment", []).append(_("The segment is switched off."))
    if campaign.ends_at is not None and campaign.ends_at <= campaign.starts_at:
        problems.setdefault("ends_at", []).append(_("The end must come after the start."))
    return problems


def _require_valid(campaign: Campaign) -> None:
    problems = campaign_problems(campaign)
    if problems:
        raise errors.ValidationFailed(fields=problems)


def campaign_rules_sync(*, campaign: Campaign) -> int:
    """Give each rule of a budgeted campaign the campaign's budget as its own.

    The ledger locks and counts only rules that have a budget; with it, every commit that
    could award a campaign rule serialises on those rows, and the provider caps each rule at
    what is left of the campaign as a whole. Returns the number of rules changed.
    """
    if campaign.budget_points is None:
        return 0
    changed = (
        EarnRule.objects.filter(campaign_link__campaign=campaign)
        .exclude(budget_points=campaign.budget_points)
        .update(budget_points=campaign.budget_points)
    )
    if changed:
        program_config_changed(campaign.program_id)
    return changed


def _locked(campaign: Campaign) -> Campaign:
    return (
        Campaign.objects.select_for_update(of=("self",))
        .select_related("program")
        .get(pk=campaign.pk)
    )


REFUSALS = {
    "schedule": gettext_lazy("Only a draft can be scheduled."),
    "unschedule": gettext_lazy("Only a scheduled campaign can go back to draft."),
    "launch": gettext_lazy("Only a draft or a scheduled campaign can be launched."),
    "pause": gettext_lazy("Only a running campaign can be paused."),
    "resume": gettext_lazy("Only a paused campaign can be resumed."),
    "finish": gettext_lazy("A draft or finished campaign cannot be finished."),
}


def _refuse(action: str, campaign: Campaign) -> CampaignStateError:
    return CampaignStateError(
        _("%(refusal)s The campaign is %(status)s.")
        % {"refusal": REFUSALS[action], "status": campaign.get_status_display()}
    )


def _transition(campaign: Campaign, allowed: tuple[str, ...], action: str) -> Campaign:
    locked = _locked(campaign)
    if locked.status not in allowed:
        raise _refuse(action, locked)
    return locked


# --- transitions ----------------------------------------------------------------------------------


@transaction.atomic
def campaign_schedule(*, campaign: Campaign, now: datetime) -> Campaign:
    """Draft → scheduled: the beat launches it at ``starts_at``.

    Raises ValidationFailed (no rules, foreign rules, bad window) or CampaignStateError.
    """
    campaign = _transition(campaign, (CampaignStatus.DRAFT,), "schedule")
    _require_valid(campaign)
    if campaign.ends_at is not None and campaign.ends_at <= now:
        raise errors.ValidationFailed(
            fields={"ends_at": [_("The campaign would already be over.")]}
        )
    campaign_rules_sync(campaign=campaign)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SCHEDULED)
    program_config_changed(campaign.program_id)
    campaign.status = CampaignStatus.SCHEDULED
    return campaign


@transaction.atomic
def campaign_unschedule(*, campaign: Campaign) -> Campaign:
    """Scheduled → draft, to edit it again before it starts."""
    campaign = _transition(campaign, (CampaignStatus.SCHEDULED,), "unschedule")
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.DRAFT)
    program_config_changed(campaign.program_id)
    campaign.status = CampaignStatus.DRAFT
    return campaign


def campaign_prepare_audience(*, campaign: Campaign, now: datetime) -> None:
    """Refresh the target segment in the programme and draw newcomers (chunked, idempotent).

    Runs in its own transactions, before the status flips, so a big audience never holds the
    campaign row locked.
    """
    if campaign.segment_id is not None:
        segment = Segment.objects.get(pk=campaign.segment_id)
        segment_refresh(segment, program=campaign.program, now=now)
    campaign_audience_assign(campaign, now=now)


def campaign_launch(*, campaign: Campaign, now: datetime) -> Campaign:
    """Draft or scheduled → running, now. A start in the future is moved to ``now``.

    Draws the audience first (outside the row lock), then flips the state; the launch
    message, if any, is sent by the beat in chunks. Raises ValidationFailed or
    CampaignStateError; launching a running campaign again is an error, not a no-op.
    """
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
        raise _refuse("launch", campaign)
    _require_valid(campaign)
    if campaign.ends_at is not None and campaign.ends_at <= now:
        raise errors.ValidationFailed(
            fields={"ends_at": [_("The campaign would already be over.")]}
        )
    campaign_prepare_audience(campaign=campaign, now=now)
    with transaction.atomic():
        campaign = _transition(campaign, (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED), "launch")
        _require_valid(campaign)
        campaign_rules_sync(campaign=campaign)
        starts_at = min(campaign.starts_at, now)
        Campaign.objects.filter(pk=campaign.pk).update(
            status=CampaignStatus.RUNNING, launched_at=now, starts_at=starts_at
        )
        program_config_changed(campaign.program_id)
        campaign.status, campaign.launched_at, campaign.starts_at = (
            CampaignStatus.RUNNING,
            now,
            starts_at,
        )
    return campaign


@transaction.atomic
def campaign_pause(*, campaign: Campaign, now: datetime) -> Campaign:
    """Running → paused: its rules stop applying at once. Raises CampaignStateError."""
    campaign = _transition(campaign, (CampaignStatus.RUNNING,), "pause")
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.PAUSED)
    program_config_changed(campaign.program_id)
    campaign.status = CampaignStatus.PAUSED
    return campaign


@transaction.atomic
def campaign_resume(*, campaign: Campaign, now: datetime) -> Campaign:
    """Paused → running (or finished, if its end has passed). Raises CampaignStateError."""
    campaign = _transition(campaign, (CampaignStatus.PAUSED,), "resume")
    if campaign.ends_at is not None and campaign.ends_at <= now:
        return _finish(campaign, now=now)
    campaign_rules_sync(campaign=campaign)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.RUNNING)
    program_config_changed(campaign.program_id)
    campaign.status = CampaignStatus.RUNNING
    return campaign


@transaction.atomic
def campaign_finish(*, campaign: Campaign, now: datetime) -> Campaign:
    """Scheduled, running or paused → finished, for good. Raises CampaignStateError."""
    campaign = _transition(
        campaign,
        (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING, CampaignStatus.PAUSED),
        "finish",
    )
    return _finish(campaign, now=now)


def _finish(campaign: Campaign, *, now: datetime) -> Campaign:
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.FINISHED, finished_at=now)
    program_config_changed(campaign.program_id)
    campaign.status, campaign.finished_at = CampaignStatus.FINISHED, now
    return campaign


# --- the beat -------------------------------------------------------------------------------------


@dataclass
class TickResult:
    launched: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    messages: int = 0
    failed: list[str] = field(default_factory=list)


def campaigns_tick(*, now: datetime) -> TickResult:
    """Launch due scheduled campaigns, finish ended ones, send launch messages.

    Campaign rows are claimed with ``SELECT … FOR UPDATE SKIP LOCKED``, so several workers (or
    a beat backlog) never act on one campaign twice; every step is idempotent anyway.
    """
    result = TickResult()
    due = list(
        Campaign.objects.filter(status=CampaignStatus.SCHEDULED, starts_at__lte=now)
        .select_related("program")
        .order_by("starts_at", "pk")
    )
    for campaign in due:
        if campaign.ends_at is not None and campaign.ends_at <= now:
            continue  # finished below without ever running
        try:
            campaign_prepare_audience(campaign=campaign, now=now)
            with transaction.atomic():
                claimed = (
                    Campaign.objects.select_for_update(skip_locked=True)
                    .filter(pk=campaign.pk, status=CampaignStatus.SCHEDULED, starts_at__lte=now)
                    .first()
                )
                if claimed is None:
                    continue
                if campaign_problems(claimed):
                    raise errors.ValidationFailed(fields=campaign_problems(claimed))
                campaign_rules_sync(campaign=claimed)
                Campaign.objects.filter(pk=claimed.pk).update(
                    status=CampaignStatus.RUNNING, launched_at=now
                )
                program_config_changed(claimed.program_id)
            result.launched.append(campaign.code)
        except errors.DomainError:
            logger.exception("campaign %s could not be launched", campaign.code)
            result.failed.append(campaign.code)
    while True:
        with transaction.atomic():
            ended = (
                Campaign.objects.select_for_update(skip_locked=True)
                .filter(
                    status__in=[
                        CampaignStatus.SCHEDULED,
                        CampaignStatus.RUNNING,
                        CampaignStatus.PAUSED,
                    ],
                    ends_at__lte=now,
                )
                .order_by("ends_at", "pk")
                .first()
            )
            if ended is None:
                break
            _finish(ended, now=now)
            result.finished.append(ended.code)
    for campaign in Campaign.objects.filter(
        status=CampaignStatus.RUNNING, messages_sent_at__isnull=True
    ).exclude(message_text=""):
        result.messages += campaign_messages_send(campaign=campaign, now=now)
    return result


def campaign_messages_send(*, campaign: Campaign, now: datetime, chunk: int = 500) -> int:
    """Write the launch message for every audience member (not control), in chunks.

    Each message's key is ``campaign:<id>:launch:<account>``, so a rerun after a crash
    writes only what is missing. Marks the campaign done at the end. Returns rows written.
    """
    written = 0
    last = 0
    members = CampaignMember.objects.filter(campaign=campaign, is_control=False)
    if campaign.segment_id is not None:
        members = members.filter(account__segment_memberships__segment_id=campaign.segment_id)
    while True:
        batch = list(
            members.filter(account_id__gt=last)
            .select_related("account__customer", "account__program")
            .order_by("account_id")[:chunk]
        )
        if not batch:
            break
        last = batch[-1].account_id
        with transaction.atomic():
            for member in batch:
                written += len(
                    message_enqueue(
                        customer=member.account.customer,
                        program=member.account.program,
                        event="campaign",
                        context={
                            "title": campaign.message_title or campaign.name,
                            "text": campaign.message_text,
                            "campaign": {"name": campaign.name, "code": campaign.code},
                        },
                        idempotency_key=f"campaign:{campaign.pk}:launch:{member.account_id}",
                        now=now,
                        marketing=True,
                    )
                )
    Campaign.objects.filter(pk=campaign.pk, messages_sent_at__isnull=True).update(
        messages_sent_at=now
    )
    return written


# --- figures --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignFigures:
    spent: Decimal
    budget_left: Decimal | None


def campaign_figures(campaign: Campaign) -> CampaignFigures:
    """Points the campaign's rules gave (net of cancelled checks) and what is left."""
    spent = RuleAward.objects.filter(
        rule__campaign_link__campaign=campaign, cancelled=False
    ).aggregate(s=Sum("points"))["s"]
    return CampaignFigures(spent=spent or ZERO, budget_left=campaign_budget_left(campaign))


# --- personal offers ------------------------------------------------------------------------------


class OfferNotAvailable(errors.DomainError):
    code = "offer_not_available"
    status = 404
    default_detail = gettext_lazy("This offer is not available to you.")


@transaction.atomic
def offer_activate(*, customer: Customer, offer: Offer, now: datetime) -> OfferActivation:
    """The customer switches an offer on. Idempotent: a second call returns the first row.

    Raises OfferNotAvailable when the offer is not for this customer or not valid now.
    """
    account = Account.objects.filter(program_id=offer.program_id, customer=customer).first()
    if account is None or not eligible_offers(account, now=now).filter(pk=offer.pk).exists():
        raise OfferNotAvailable()
    activation, _created = OfferActivation.objects.get_or_create(
        offer=offer, customer=customer, defaults={"activated_at": now}
    )
    return activation
