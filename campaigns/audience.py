"""A campaign's audience: its target segment, drawn once into audience and control group.

Every account that enters the target segment gets a ``CampaignMember`` row the first time it
is seen, with ``is_control`` drawn at random; the row never changes afterwards, so the control
group is stable across refreshes and can be compared with the audience later. The draw keeps
the control share exact over the whole campaign: each chunk takes
``round(total × percent) − control so far`` of its newcomers, at random.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.db.models import Count, Q

from campaigns.models import Campaign, CampaignMember, SegmentMembership
from campaigns.segments import CHUNK, _id_ranges, _table
from loyalty.ledger.models import Account

DRAW = "kopilka_campaign_draw"  # per-connection scratch table of one chunk's newcomers


@dataclass
class AssignResult:
    assigned: int = 0
    control: int = 0


def _source_sql(campaign: Campaign, low: int, high: int) -> tuple[str, list]:
    """SELECT id of the accounts in ``[low, high)`` currently in the target."""
    accounts = _table(Account)
    if campaign.segment_id is None:
        return (
            f"SELECT a.id FROM {accounts} a WHERE a.program_id = %s AND a.id >= %s AND a.id < %s",
            [campaign.program_id, low, high],
        )
    members = _table(SegmentMembership)
    return (
        f"SELECT a.id FROM {accounts} a JOIN {members} s ON s.account_id = a.id"
        f" WHERE s.segment_id = %s AND s.account_id >= %s AND s.account_id < %s"
        f" AND a.program_id = %s AND a.id >= %s AND a.id < %s",
        [campaign.segment_id, low, high, campaign.program_id, low, high],
    )


def campaign_audience_assign(
    campaign: Campaign, *, now: datetime, chunk: int = CHUNK
) -> AssignResult:
    """Draw the newcomers of the target segment into audience or control. Idempotent."""
    result = AssignResult()
    counts = CampaignMember.objects.filter(campaign=campaign).aggregate(
        total=Count("pk"), control=Count("pk", filter=Q(is_control=True))
    )
    total, control = counts["total"], counts["control"]
    share = campaign.control_percent / Decimal(100)
    members = _table(CampaignMember)
    assigned_at = connection.ops.adapt_datetimefield_value(now)
    for low, high in _id_ranges(campaign.program, chunk):
        source, params = _source_sql(campaign, low, high)
        with transaction.atomic(), connection.cursor() as cursor:
            # Newcomers of the chunk in an indexed scratch table (see segments.segment_refresh).
            cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {DRAW} (id BIGINT PRIMARY KEY)")
            cursor.execute(f"DELETE FROM {DRAW}")
            cursor.execute(f"INSERT INTO {DRAW} (id) {source}", params)
            cursor.execute(
                f"DELETE FROM {DRAW} WHERE id IN (SELECT account_id FROM {members}"
                f" WHERE campaign_id = %s AND account_id >= %s AND account_id < %s)",
                [campaign.pk, low, high],
            )
            cursor.execute(f"SELECT COUNT(*) FROM {DRAW}")
            new = cursor.fetchone()[0]
            take = inserted = 0
            if new:
                wanted = int(((total + new) * share).quantize(Decimal(1), rounding=ROUND_HALF_UP))
                take = min(max(wanted - control, 0), new)
                cursor.execute(
                    f"INSERT INTO {members} (campaign_id, account_id, is_control, assigned_at)"
                    f" SELECT %s, d.id, d.draw <= %s, %s FROM"
                    f" (SELECT id, ROW_NUMBER() OVER (ORDER BY RANDOM()) AS draw FROM {DRAW}) d"
                    # (SQLite needs a WHERE before ON CONFLICT to parse an INSERT … SELECT)
                    f" WHERE d.id IS NOT NULL ON CONFLICT (campaign_id, account_id) DO NOTHING",
                    [campaign.pk, take, assigned_at],
                )
                inserted = max(cursor.rowcount, 0)
            cursor.execute(f"DROP TABLE {DRAW}")
        result.assigned += inserted
        if inserted == new:
            total, control = total + new, control + take
            result.control += take
        else:
            # Someone else drew part of this chunk at the same time: recount, do not guess.
            counts = CampaignMember.objects.filter(campaign=campaign).aggregate(
                total=Count("pk"), control=Count("pk", filter=Q(is_control=True))
            )
            total, control = counts["total"], counts["control"]
    return result


@dataclass(frozen=True)
class AudienceSize:
    audience: int
    control: int
    target: int


def campaign_audience_size(campaign: Campaign) -> AudienceSize:
    """Accounts the campaign reaches now (drawn, not control, still in the target)."""
    members = CampaignMember.objects.filter(campaign=campaign)
    if campaign.segment_id is not None:
        members = members.filter(
            account__segment_memberships__segment_id=campaign.segment_id,
        )
        target = SegmentMembership.objects.filter(
            segment_id=campaign.segment_id, account__program_id=campaign.program_id
        ).count()
    else:
        target = Account.objects.filter(program_id=campaign.program_id).count()
    counts = members.aggregate(
        audience=Count("pk", filter=Q(is_control=False)),
        control=Count("pk", filter=Q(is_control=True)),
    )
    return AudienceSize(audience=counts["audience"], control=counts["control"], target=target)
