"""What campaigns and offers tell the engine, through the ledger's and loader's extension points.

* ``customer_state`` (``loyalty.ledger.services.checks.customer_state_providers``): the
  account's segment codes, the pseudo-segment ``campaign:<code>`` of every running campaign
  whose audience it is in (target segment minus the control group),
  ``campaign:<code>&<segment>`` for each of its segments (so a campaign rule with its own
  segments needs both), and the codes of the offers it may use now (eligible, and activated
  where that is required). Two queries, plain SQL.
* ``rule_overrides`` (``loyalty.rules.loader.rule_overrides_providers``): a campaign's rule is
  left out unless the campaign is running; otherwise it gets the campaign's window, requires
  its audience and shares its budget. An offer's rule requires the offer's code and window.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Exists, OuterRef, Q, Sum

from campaigns.models import (
    Campaign,
    CampaignMember,
    CampaignRule,
    CampaignStatus,
    Offer,
    OfferActivation,
    OfferRule,
    Segment,
    SegmentMembership,
)
from loyalty.ledger.models import Account
from loyalty.rules.models import EarnRule, Program

ZERO = Decimal("0")


def audience_code(campaign_code: str) -> str:
    return f"campaign:{campaign_code}"


def audience_segment_code(campaign_code: str, segment_code: str) -> str:
    return f"campaign:{campaign_code}&{segment_code}"


def _valid_now(now: datetime) -> Q:
    return (Q(valid_from__isnull=True) | Q(valid_from__lte=now)) & (
        Q(valid_until__isnull=True) | Q(valid_until__gt=now)
    )


def eligible_offers(account: Account, *, now: datetime):
    """Offers of the account's programme that target it and are valid at ``now``."""
    in_segment = SegmentMembership.objects.filter(
        segment_id=OuterRef("segment_id"), account_id=account.pk
    )
    chosen = Offer.customers.through.objects.filter(
        offer_id=OuterRef("pk"), customer_id=account.customer_id
    )
    return (
        Offer.objects.filter(program_id=account.program_id, is_active=True)
        .filter(_valid_now(now))
        .filter(Exists(in_segment) | Exists(chosen))
    )


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _state_sql() -> tuple[str, str]:
    """The provider's two statements, in plain SQL: it runs on every calculate and commit,
    where building the equivalent querysets cost several times the queries themselves."""
    membership, segment = _table(SegmentMembership), _table(Segment)
    offer, chosen = _table(Offer), _table(Offer.customers.through)
    activation, member, campaign = _table(OfferActivation), _table(CampaignMember), _table(Campaign)
    segments = (
        f"SELECT s.code FROM {membership} m JOIN {segment} s ON s.id = m.segment_id"
        f" WHERE m.account_id = %(account)s AND s.is_active"
    )
    targets = (
        f"SELECT 'offer', o.code, '' FROM {offer} o"
        f" WHERE o.program_id = %(program)s AND o.is_active"
        f" AND (o.valid_from IS NULL OR o.valid_from <= %(now)s)"
        f" AND (o.valid_until IS NULL OR o.valid_until > %(now)s)"
        f" AND (EXISTS (SELECT 1 FROM {membership} m"
        f" WHERE m.account_id = %(account)s AND m.segment_id = o.segment_id)"
        f" OR EXISTS (SELECT 1 FROM {chosen} c"
        f" WHERE c.offer_id = o.id AND c.customer_id = %(customer)s))"
        f" AND (NOT o.requires_activation OR EXISTS (SELECT 1 FROM {activation} a"
        f" WHERE a.offer_id = o.id AND a.customer_id = %(customer)s))"
        f" UNION ALL"
        f" SELECT 'campaign', c.code, COALESCE(s.code, '') FROM {member} cm"
        f" JOIN {campaign} c ON c.id = cm.campaign_id"
        f" LEFT JOIN {segment} s ON s.id = c.segment_id"
        f" WHERE cm.account_id = %(account)s AND c.program_id = %(program)s"
        f" AND c.status = %(running)s AND NOT cm.is_control"
    )
    return segments, targets


def customer_state(account: Account, now: datetime) -> dict:
    segments_sql, targets_sql = _state_sql()
    params = {
        "account": account.pk,
        "customer": account.customer_id,
        "program": account.program_id,
        "now": connection.ops.adapt_datetimefield_value(now),
        "running": CampaignStatus.RUNNING.value,
    }
    with connection.cursor() as cursor:
        cursor.execute(segments_sql, params)
        segments = {code for (code,) in cursor.fetchall()}
        cursor.execute(targets_sql, params)
        rows = cursor.fetchall()
    offer_codes: set[str] = set()
    pseudo: set[str] = set()
    for kind, code, target in rows:
        if kind == "offer":
            offer_codes.add(code)
        elif not target or target in segments:
            # Still in the target segment: the draw persists, the membership is current.
            pseudo.add(audience_code(code))
            pseudo.update(audience_segment_code(code, s) for s in segments)
    return {"segments": segments | pseudo, "offers": offer_codes}


def campaign_budget_left(campaign: Campaign) -> Decimal | None:
    if campaign.budget_points is None:
        return None
    used = EarnRule.objects.filter(campaign_link__campaign=campaign).aggregate(
        u=Sum("budget_used")
    )["u"]
    return max(campaign.budget_points - (used or ZERO), ZERO)


def rule_overrides(program: Program, rules: Sequence[EarnRule]) -> dict[int, dict | None]:
    ids = [rule.pk for rule in rules]
    if not ids:
        return {}
    by_pk = {rule.pk: rule for rule in rules}
    out: dict[int, dict | None] = {}
    links = list(
        CampaignRule.objects.filter(campaign__program=program)
        .select_related("campaign")
        .order_by("campaign_id", "rule_id")
        .values_list(
            "rule_id",
            "rule__budget_used",
            "campaign__code",
            "campaign__status",
            "campaign__starts_at",
            "campaign__ends_at",
            "campaign__budget_points",
            "campaign_id",
            "requires_code",
            "campaign__promo_code",
        )
    )
    codes = [(row[0], row[8], row[9]) for row in links]
    links = [row[:8] for row in links]
    # Rules that need the campaign's promo code given at the till (campaigns.promo).
    needs_code = {rule_id: promo.strip().upper() for rule_id, requires, promo in codes if requires}
    # Read after the ledger locked the budgeted rules, so these figures are current; the
    # campaign's total counts its inactive rules too.
    used_by_rule: dict[int, Decimal] = {}
    used_by_campaign: dict[int, Decimal] = {}
    for rule_id, used, *_rest, campaign_id in links:
        used_by_rule[rule_id] = used
        used_by_campaign[campaign_id] = used_by_campaign.get(campaign_id, ZERO) + used
    for rule_id, _used, code, status, starts_at, ends_at, budget, campaign_id in links:
        rule = by_pk.get(rule_id)
        if rule is None:
            continue
        if status != CampaignStatus.RUNNING:
            out[rule_id] = None
            continue
        override = {
            "campaign": code,
            "valid_from": _later(rule.valid_from, starts_at),
            "valid_until": _earlier(rule.valid_until, ends_at),
            "segments": (
                tuple(audience_segment_code(code, s) for s in rule.segments)
                if rule.segments
                else (audience_code(code),)
            ),
        }
        if rule_id in needs_code:
            # The code is bound to no one: whoever gives it qualifies, instead of the audience
            # (the rule's own segments still apply). "" (no code set): never applies.
            override["requires_code"] = needs_code[rule_id]
            override["segments"] = tuple(rule.segments or ())
        if budget is not None:
            if rule.budget_points is None:
                # Untracked by the ledger: it could overspend the campaign, so it stays off
                # until campaign_rules_sync gives it the campaign's budget.
                out[rule_id] = None
                continue
            left = max(budget - used_by_campaign[campaign_id], ZERO)
            own_left = max(rule.budget_points - used_by_rule[rule_id], ZERO)
            override["budget_left"] = min(left, own_left)
        out[rule_id] = override
    offer_links = (
        OfferRule.objects.filter(offer__program=program, rule_id__in=ids)
        .order_by("rule_id")
        .values_list(
            "rule_id", "offer__code", "offer__is_active", "offer__valid_from", "offer__valid_until"
        )
    )
    for rule_id, code, is_active, valid_from, valid_until in offer_links:
        if rule_id in out:
            continue  # a rule has one owner; campaign links win (the admin forbids both)
        rule = by_pk[rule_id]
        if not is_active:
            out[rule_id] = None
            continue
        out[rule_id] = {
            "offer": code,
            "valid_from": _later(rule.valid_from, valid_from),
            "valid_until": _earlier(rule.valid_until, valid_until),
        }
    return out


def _later(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _earlier(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)
