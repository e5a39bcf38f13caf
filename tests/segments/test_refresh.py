"""Set-based membership refresh and the RFM scores."""

from datetime import timedelta
from decimal import Decimal

import pytest

from campaigns.models import RfmScore, Segment, SegmentMembership
from campaigns.rfm import rfm_refresh
from campaigns.segments import segment_refresh, segments_refresh
from tests.factories import AccountFactory, CheckFactory, ProgramFactory, SegmentFactory

pytestmark = pytest.mark.django_db

SLEEPING = {"all": [{"field": "recency_days", "op": "gte", "value": 90}]}


def days(n):
    return timedelta(days=n)


def members(segment, program=None):
    qs = SegmentMembership.objects.filter(segment=segment)
    if program is not None:
        qs = qs.filter(account__program=program)
    return set(qs.values_list("account_id", flat=True))


def test_refresh_inserts_joiners_deletes_leavers_and_keeps_since(now):
    program = ProgramFactory()
    segment = SegmentFactory(program=program, conditions=SLEEPING)
    a = AccountFactory(program=program, last_purchase_at=now - days(100))
    b = AccountFactory(program=program, last_purchase_at=now - days(10))
    c = AccountFactory(program=program, last_purchase_at=now - days(95))

    first = segment_refresh(segment, program=program, now=now, chunk=2)
    assert members(segment) == {a.pk, c.pk}
    assert (first.joined, first.left) == (2, 0)

    # A day later: c bought something, b fell asleep (in a later chunk), a stays.
    later = now + days(81)
    c.last_purchase_at = later - days(1)
    c.save()
    second = segment_refresh(segment, program=program, now=later, chunk=2)
    assert members(segment) == {a.pk, b.pk}
    assert (second.joined, second.left) == (1, 1)
    assert SegmentMembership.objects.get(segment=segment, account=a).since == now
    assert SegmentMembership.objects.get(segment=segment, account=b).since == later

    again = segment_refresh(segment, program=program, now=later, chunk=2)
    assert (again.joined, again.left) == (0, 0)
    assert Segment.objects.get(pk=segment.pk).refreshed_at == later


def test_builtin_segment_is_refreshed_per_programme(now):
    sleeping = Segment.objects.get(program__isnull=True, code="sleeping")
    p1, p2 = ProgramFactory(), ProgramFactory()
    a1 = AccountFactory(program=p1, last_purchase_at=now - days(100))
    a2 = AccountFactory(program=p2, last_purchase_at=now - days(100))
    AccountFactory(program=p2, last_purchase_at=now - days(1))
    segment_refresh(sleeping, program=p1, now=now)
    assert members(sleeping) == {a1.pk}
    segment_refresh(sleeping, program=p2, now=now)
    assert members(sleeping) == {a1.pk, a2.pk}
    # Refreshing p2 again never touches p1's members.
    a2.last_purchase_at = now
    a2.save()
    segment_refresh(sleeping, program=p2, now=now)
    assert members(sleeping) == {a1.pk}


def test_inactive_segment_is_emptied(now):
    program = ProgramFactory()
    segment = SegmentFactory(program=program, conditions={})
    AccountFactory.create_batch(3, program=program)
    segment_refresh(segment, program=program, now=now)
    assert len(members(segment)) == 3
    segment.is_active = False
    segment.save()
    segment_refresh(segment, program=program, now=now)
    assert members(segment) == set()


def test_segments_refresh_covers_own_and_builtin_segments(now):
    program = ProgramFactory()
    own = SegmentFactory(program=program, conditions=SLEEPING)
    foreign = SegmentFactory(program=ProgramFactory(), conditions={})
    account = AccountFactory(program=program, last_purchase_at=now - days(200))
    result = segments_refresh(now=now, program=program)
    assert result.segments == Segment.objects.filter(program__isnull=True).count() + 1
    assert members(own) == {account.pk}
    assert members(foreign) == set()
    sleeping = Segment.objects.get(program__isnull=True, code="sleeping")
    assert members(sleeping, program) == {account.pk}


def test_rfm_scores_are_quintiles(now):
    program = ProgramFactory()
    accounts = []
    for i in range(10):
        account = AccountFactory(program=program, last_purchase_at=now - days(10 * (i + 1)))
        for j in range(i + 1):
            CheckFactory(
                account=account,
                occurred_at=now - days(10 * (i + 1) + j),
                payable=Decimal(100 * (10 - i)),
            )
        accounts.append(account)
    never = AccountFactory(program=program)
    result = rfm_refresh(program=program, now=now)
    assert result.accounts == 11
    scores = {s.account_id: s for s in RfmScore.objects.filter(program=program)}
    recent, oldest = scores[accounts[0].pk], scores[accounts[9].pk]
    assert (recent.recency_days, recent.frequency, recent.monetary) == (10, 1, Decimal("1000"))
    assert recent.r == 5 and oldest.r <= 2
    assert oldest.f == 5 and recent.f <= 2
    assert scores[never.pk].recency_days is None and scores[never.pk].r == 1
    assert all(1 <= s.r <= 5 and 1 <= s.f <= 5 and 1 <= s.m <= 5 for s in scores.values())
    # Re-running replaces, never duplicates.
    rfm_refresh(program=program, now=now)
    assert RfmScore.objects.filter(program=program).count() == 11
