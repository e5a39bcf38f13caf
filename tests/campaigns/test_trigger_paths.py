"""Triggers through the real doors: enrolment, check commit and cancel (not hand-sent signals)."""

from datetime import timedelta

import pytest

from campaigns import triggers
from campaigns.enrolment import member_enrol as customer_enrol
from campaigns.models import Referral, ReferralStatus
from loyalty.ledger.models import Operation
from loyalty.ledger.services import check_cancel
from tests.campaigns.till import D, commit
from tests.factories import (
    OutletFactory,
    ProgramFactory,
    RedemptionPolicyFactory,
    TierFactory,
    TriggerConfigFactory,
)
from tests.ledger.helpers import assert_consistent, balance

pytestmark = pytest.mark.django_db


@pytest.fixture
def program():
    program = ProgramFactory(code="coffee", timezone="Europe/Moscow", region="RU")
    TierFactory(program=program, code="base", rank=0, earn_percent=D(5))
    RedemptionPolicyFactory(program=program)
    TriggerConfigFactory(
        program=program,
        welcome_points=D(100),
        referral_referrer_points=D(200),
        referral_friend_points=D(150),
        referral_min_amount=D(500),
    )
    return program


@pytest.fixture
def outlet(program):
    return OutletFactory(program=program, code="msk-1")


def enrol(program, outlet, phone, now, **kw):
    _customer, account, created = customer_enrol(
        program=program, outlet=outlet, phone=phone, now=now, **kw
    )
    return account, created


def trigger_points(account, prefix):
    return sum(
        Operation.objects.filter(
            account=account, source=triggers.SOURCE, idempotency_key__startswith=prefix
        ).values_list("points", flat=True),
        D(0),
    )


def grant_pending(now):
    # The grant is queued after the check's commit; tests run it directly.
    for pk in Referral.objects.filter(status=ReferralStatus.PENDING).values_list("pk", flat=True):
        triggers.referral_grant(referral_id=pk, now=now)


def test_enrolment_gives_the_welcome_bonus_once(program, outlet, now):
    account, created = enrol(program, outlet, "+7 999 111-22-33", now)
    again, created_again = enrol(program, outlet, "89991112233", now + timedelta(minutes=5))
    assert (created, created_again) == (True, False) and again.pk == account.pk
    assert trigger_points(account, "welcome:") == D(100)
    assert balance(account, now).available == D(100)


def test_referral_pays_both_after_the_first_completed_check_only(program, outlet, now):
    referrer, _ = enrol(program, outlet, "+79990000001", now)
    code = referrer.customer.referral_code
    friend, _ = enrol(program, outlet, "+79990000002", now, referral_code=code)
    assert Referral.objects.count() == 0  # enrolment alone earns nothing

    commit(friend, outlet, now, amount="800.00")
    grant_pending(now)
    assert Referral.objects.get(friend=friend).status == ReferralStatus.GRANTED
    assert trigger_points(referrer, "referral:") == D(200)
    assert trigger_points(friend, "referral:") == D(150)

    commit(friend, outlet, now + timedelta(days=1), amount="900.00")  # a second check: nothing
    grant_pending(now + timedelta(days=1))
    assert trigger_points(referrer, "referral:") == D(200)
    assert Referral.objects.count() == 1
    assert_consistent(now + timedelta(days=1), referrer, friend)


def test_a_cancelled_first_check_pays_nobody(program, outlet, now):
    referrer, _ = enrol(program, outlet, "+79990000011", now)
    friend, _ = enrol(
        program, outlet, "+79990000012", now, referral_code=referrer.customer.referral_code
    )
    first = commit(friend, outlet, now, amount="800.00")
    check_cancel(check=first.check, source="pos-test", idempotency_key="void", now=now)
    grant_pending(now)
    assert Referral.objects.get(friend=friend).status == ReferralStatus.CANCELLED
    assert trigger_points(referrer, "referral:") == trigger_points(friend, "referral:") == 0


def test_referral_granted_then_its_check_cancelled_is_taken_back(program, outlet, now):
    referrer, _ = enrol(program, outlet, "+79990000021", now)
    friend, _ = enrol(
        program, outlet, "+79990000022", now, referral_code=referrer.customer.referral_code
    )
    first = commit(friend, outlet, now, amount="800.00")
    grant_pending(now)
    later = now + timedelta(hours=2)
    check_cancel(check=first.check, source="pos-test", idempotency_key="void", now=later)
    triggers.referrals_sweep(now=later)
    assert Referral.objects.get(friend=friend).status == ReferralStatus.REVERSED
    assert balance(referrer, later).available == D(100)  # the welcome bonus only
    assert_consistent(later, referrer, friend)


def test_a_cancel_after_the_grant_takes_the_referral_back_at_once(
    program, outlet, django_capture_on_commit_callbacks, monkeypatch
):
    """check_cancel announces itself; the reversal is queued on commit, no sweep needed."""
    from django.utils import timezone

    from config.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)  # run queued tasks in-process
    now = timezone.now()  # the tasks are doors: they read the clock, so the test follows it
    referrer, _ = enrol(program, outlet, "+79990000041", now)
    friend, _ = enrol(
        program, outlet, "+79990000042", now, referral_code=referrer.customer.referral_code
    )
    with django_capture_on_commit_callbacks(execute=True):
        first = commit(friend, outlet, now, amount="800.00")
    assert Referral.objects.get(friend=friend).status == ReferralStatus.GRANTED
    assert trigger_points(referrer, "referral:") == D(200)

    with django_capture_on_commit_callbacks(execute=True):
        check_cancel(check=first.check, source="pos-test", idempotency_key="void", now=now)
    assert Referral.objects.get(friend=friend).status == ReferralStatus.REVERSED
    later = timezone.now()
    assert balance(referrer, later).total == D(100)  # the welcome bonus only
    assert balance(friend, later).total == D(100)
    assert triggers.referrals_sweep(now=later) == 0  # nothing left for the daily sweep
    assert_consistent(later, referrer, friend)


def test_own_referral_code_never_makes_a_referral(program, outlet, now):
    referrer, _ = enrol(program, outlet, "+79990000031", now)
    # Enrolling again with one's own code returns the same customer, referred by nobody.
    again, created = enrol(
        program, outlet, "+79990000031", now, referral_code=referrer.customer.referral_code
    )
    assert not created and again.pk == referrer.pk
    again.customer.refresh_from_db()
    assert again.customer.referred_by_id is None
    commit(again, outlet, now, amount="800.00")
    grant_pending(now)
    assert Referral.objects.count() == 0
    assert trigger_points(referrer, "referral:") == 0
