"""The segment benchmark command builds its data set-based, measures and cleans up."""

from io import StringIO

import pytest
from django.core.management import call_command

from campaigns.models import Segment, SegmentMembership
from customers.models import Customer
from loyalty.ledger.models import Account, Check
from loyalty.rules.models import Program

pytestmark = pytest.mark.django_db


def test_benchmark_segments_small_run_cleans_up():
    out = StringIO()
    call_command("benchmark_segments", customers=300, chunk_size=100, stdout=out)
    text = out.getvalue()
    assert "SEGMENT REFRESH (first run" in text and "RFM: 300 accounts" in text
    assert "CONTROL DRAW" in text
    assert not Program.objects.filter(code__startswith="bench-seg-").exists()
    assert not Account.objects.exists() and not Check.objects.exists()
    assert not Customer.objects.exists() and not SegmentMembership.objects.exists()
    assert Segment.objects.filter(program__isnull=True).count() == 4
