"""`setup_demo` builds a real demo through the services, and running it again changes nothing."""

import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from campaigns.models import (
    Campaign,
    CampaignMember,
    CampaignStatus,
    Offer,
    Segment,
    SegmentMembership,
    TriggerConfig,
)
from customers.models import Customer
from loyalty.ledger.models import Account, Check, Lot, MemberProfile, Operation
from loyalty.ledger.services import ledger_reconcile
from loyalty.rules.models import Program
from loyalty.rules.program_io import program_dump
from reports.admin import campaign_results

pytestmark = pytest.mark.django_db(transaction=False)


def run(**options) -> str:
    out = StringIO()
    call_command("setup_demo", **{"customers": 6, **options}, stdout=out)
    return out.getvalue()


def counts():
    return {
        model.__name__: model.objects.count()
        for model in (
            Program,
            Customer,
            Account,
            Check,
            Operation,
            Lot,
            get_user_model(),
            Campaign,
            CampaignMember,
            Offer,
            Segment,
            SegmentMembership,
        )
    }


def test_setup_demo_builds_real_history_and_is_idempotent(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    first = run()
    program = Program.objects.get(code="coffee")
    assert {o.code for o in program.outlets.all()} == {"msk-1", "msk-2", "web"}
    assert program.tiers.count() == 3
    assert Customer.objects.count() == 6
    profiles = MemberProfile.objects.filter(program=program)
    assert profiles.count() == 6 and all(p.first_name and p.last_name for p in profiles)
    assert Check.objects.filter(program=program).count() >= 12
    # Balances come from committed checks: lots exist and the ledger reconciles.
    assert Lot.objects.filter(account__program=program).exists()
    assert ledger_reconcile(now=timezone.now()) == []
    assert Account.objects.filter(program=program, tier__isnull=False).count() == 6
    # The one big spender of the sample climbs above the entry tier.
    assert Account.objects.filter(program=program, tier__rank__gt=0).exists()

    # Purchases are spread over the last months by business time.
    months = {c.occurred_at.strftime("%Y-%m") for c in Check.objects.filter(program=program)}
    assert len(months) >= 3

    credentials = json.loads((tmp_path / "demo-credentials.json").read_text())
    username, password = credentials["admin"].split(" ", 1)
    assert f"user {username}  password {password}" in first
    user = get_user_model().objects.get(username=username)
    assert user.is_superuser and user.check_password(password)
    assert credentials["api_key"] in first

    cabinet = credentials["cabinet"]
    assert f"phone +79160000000 (or email demo0@example.com)  password {cabinet}" in first

    before, dumped = counts(), program_dump(program=program)
    second = run()
    assert counts() == before
    assert program_dump(program=Program.objects.get(code="coffee")) == dumped
    assert f"user {username}  password {password}" in second
    assert credentials["api_key"] in second


def test_the_printed_urls_follow_host_and_port(settings, tmp_path, monkeypatch):
    settings.VAR_DIR = tmp_path
    monkeypatch.setenv("HOST", "192.168.1.20")  # as `make run HOST=… PORT=…` passes them
    monkeypatch.setenv("PORT", "8123")
    out = run()
    assert "http://192.168.1.20:8123/admin/  user " in out
    assert "  cabinet:  http://192.168.1.20:8123/cabinet/\n" in out
    assert "  API docs: http://192.168.1.20:8123/api/docs/\n" in out
    assert ":8000" not in out
    # Bound to every interface: print an address a browser here can open.
    assert "http://127.0.0.1:9000/admin/" in run(host="0.0.0.0", port=9000)
    assert "http://[::1]:8000/cabinet/" in run(host="::1", port=8000)


def test_the_demo_shows_segments_campaigns_offers_and_triggers(settings, tmp_path, client):
    settings.VAR_DIR = tmp_path
    out = run(customers=12)
    program = Program.objects.get(code="coffee")
    assert "Segments refreshed" in out
    # Every segment was refreshed, and the demo's own segments have members.
    assert not Segment.objects.filter(is_active=True, refreshed_at__isnull=True).exists()
    for code in ("coffee-lovers", "email-subscribers"):
        assert SegmentMembership.objects.filter(segment__code=code).exists(), code
    running = Campaign.objects.get(code="winter-warmup")
    finished = Campaign.objects.get(code="autumn-bonus")
    assert running.status == CampaignStatus.RUNNING
    assert finished.status == CampaignStatus.FINISHED
    for campaign in (running, finished):
        members = CampaignMember.objects.filter(campaign=campaign)
        assert members.filter(is_control=True).exists() and members.filter(is_control=False)
    results = campaign_results(finished, now=timezone.now())
    assert results and results[0]["target_buyers"] > 0 and results[0]["points_cost"] > 0, results
    assert Offer.objects.filter(program=program, is_active=True).count() == 2
    triggers = TriggerConfig.objects.get(program=program)
    assert triggers.welcome_points > 0 and triggers.birthday_points > 0
    assert triggers.winback_points > 0
    # The welcome bonus was granted at enrolment, through campaigns' enrolment.
    assert Operation.objects.filter(idempotency_key__startswith="welcome:").count() == 12

    password = json.loads((tmp_path / "demo-credentials.json").read_text())["cabinet"]
    response = client.post(
        "/cabinet/login/", {"username": "+7 916 000-00-00", "password": password}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
