"""The benchmark command runs end to end on a small scale and leaves nothing behind."""

from io import StringIO

import pytest
from django.core.management import call_command

from customers.models import Customer
from loyalty.ledger.models import Lot
from loyalty.rules.models import Program

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("layout", ["scattered", "grouped"])
def test_benchmark_expiry_small(layout):
    out = StringIO()
    call_command("benchmark_expiry", lots=60, per_account=4, layout=layout, stdout=out)
    text = out.getvalue()
    assert "EXPIRY: 60 lots of 15 accounts" in text
    assert "reconcile: 0 discrepancies" in text
    assert not Program.objects.filter(code__startswith="bench-expiry").exists()
    assert not Lot.objects.exists() and not Customer.objects.exists()
