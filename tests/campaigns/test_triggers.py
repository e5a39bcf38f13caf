"""Welcome, birthday and win-back triggers: once, only for the right people, in time zones."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from campaigns import triggers
from campaigns.models import TriggerConfig
from loyalty.ledger.models import Lot, Operation
from notifications.models import Message
from tests.factories import (
    AccountFactory,
    CustomerFactory,
    ProgramFactory,
    TriggerConfigFactory,
)
from tests.ledger.helpers import assert_consistent, balance

pytestmark = pytest.mark.django_db

D = Decimal


def ops(account, prefix):
    return Operation.objects.filter(
        account=account, source=triggers.SOURCE, idempotency_key__startswith=prefix
    )


@pytest.fixture
def program():
    return ProgramFactory(code="coffee", timezone="Europe/Moscow", lifetime_days=365)


def member(program, **customer):
    return AccountFactory(program=program, customer=CustomerFactory(**customer))


# --- welcome --------------------------------------------------------------------------------------


def enrol(account, now, created=True):
    # What campaigns.enrolment.member_enrol does after the ledger's enrolment.
    triggers.member_welcome(account=account, created=created, now=now)


def test_welcome_bonus_once_per_customer(program, now):
    TriggerConfigFactory(program=program, welcome_points=D(100), welcome_lifetime_days=30)
    account = member(program)
    enrol(account, now)
    enrol(account, now + timedelta(minutes=1))  # a retried enrolment
    enrol(account, now, created=False)
    assert balance(account, now).available == D(100)
    op = ops(account, "welcome:").get()
    assert op.idempotency_key == f"welcome:{account.customer_id}"
    assert Lot.objects.get(operation=op).expires_at == now + timedelta(days=30)
    assert_consistent(now, account)


def test_no_welcome_without_points_or_when_the_budget_is_spent(program, now):
    account = member(program)
    enrol(account, now)
    assert not ops(account, "welcome:").exists()
    TriggerConfigFactory(program=program, welcome_points=D(100), budget_points=D(150))
    first, second = member(program), member(program)
    enrol(first, now)
    enrol(second, now)
    assert ops(first, "welcome:").exists() and not ops(second, "welcome:").exists()
    assert TriggerConfig.objects.get(program=program).budget_used == D(100)


# --- birthday -------------------------------------------------------------------------------------


def at(y, m, d, hour=12):
    return datetime(y, m, d, hour, tzinfo=UTC)


@pytest.fixture
def birthdays(program):
    TriggerConfigFactory(program=program, birthday_points=D(500), birthday_lifetime_days=14)
    return program


def test_birthday_on_the_day_in_the_programme_time_zone(birthdays):
    today = member(birthdays, birth_date=date(1990, 6, 15), email="a@example.com")
    yesterday = member(birthdays, birth_date=date(1990, 6, 14))
    tomorrow = member(birthdays, birth_date=date(1990, 6, 16))
    blocked = member(birthdays, birth_date=date(1990, 6, 15), is_blocked=True)
    elsewhere = AccountFactory(
        program=ProgramFactory(), customer=CustomerFactory(birth_date=date(1990, 6, 15))
    )
    # 14 June 22:30 UTC is already 15 June in Moscow.
    run = triggers.birthday_bonuses(now=at(2026, 6, 14, 22).replace(minute=30))
    assert run.granted == 1
    assert ops(today, "birthday:").get().idempotency_key == f"birthday:{today.pk}:2026"
    for other in (yesterday, tomorrow, blocked, elsewhere):
        assert not ops(other, "birthday:").exists()
    lot = Lot.objects.get(operation__account=today)
    assert lot.expires_at == at(2026, 6, 14, 22).replace(minute=30) + timedelta(days=14)
    assert Message.objects.filter(customer=today.customer, event="birthday_bonus").exists()


def test_birthday_is_granted_once_per_year_whatever_the_reruns(birthdays):
    config = TriggerConfig.objects.get(program=birthdays)
    config.birthday_days_before = 3
    config.save()
    account = member(birthdays, birth_date=date(1990, 6, 17))
    for day in (13, 14, 15, 15, 16, 17, 18):
        triggers.birthday_bonuses(now=at(2026, 6, day))
    assert ops(account, "birthday:").count() == 1
    assert Operation.objects.get(account=account).occurred_at == at(2026, 6, 14)
    triggers.birthday_bonuses(now=at(2027, 6, 16))
    assert ops(account, "birthday:").count() == 2
    # Changing the birth date does not buy a second bonus in the same year.
    account.customer.birth_date = date(1990, 6, 20)
    account.customer.save()
    triggers.birthday_bonuses(now=at(2027, 6, 19))
    assert ops(account, "birthday:").count() == 2


@pytest.mark.parametrize(
    ("when", "granted"),
    [
        (at(2027, 2, 28), True),  # no 29 February in 2027: celebrated on the 28th
        (at(2027, 3, 1), False),
        (at(2028, 2, 28), False),  # leap year: wait for the 29th
        (at(2028, 2, 29), True),
    ],
)
def test_leap_day_birthdays(birthdays, when, granted):
    account = member(birthdays, birth_date=date(2000, 2, 29))
    triggers.birthday_bonuses(now=when)
    assert ops(account, "birthday:").exists() is granted


def test_birthday_window_crossing_the_new_year(birthdays):
    config = TriggerConfig.objects.get(program=birthdays)
    config.birthday_days_before = 5
    config.save()
    account = member(birthdays, birth_date=date(1999, 1, 2))
    triggers.birthday_bonuses(now=at(2026, 12, 29))
    triggers.birthday_bonuses(now=at(2027, 1, 2))
    assert list(ops(account, "birthday:").values_list("idempotency_key", flat=True)) == [
        f"birthday:{account.pk}:2027"
    ]


def test_birthday_budget_stops_and_resumes_when_raised(birthdays):
    config = TriggerConfig.objects.get(program=birthdays)
    config.budget_points = D(500)
    config.save()
    first = member(birthdays, birth_date=date(1990, 6, 15))
    second = member(birthdays, birth_date=date(1991, 6, 15))
    run = triggers.birthday_bonuses(now=at(2026, 6, 15))
    assert (run.granted, run.over_budget) == (1, 1)
    config.budget_points = D(1000)
    config.save()
    run = triggers.birthday_bonuses(now=at(2026, 6, 15, 13))
    assert (run.granted, run.over_budget) == (1, 0)
    assert ops(first, "birthday:").count() == ops(second, "birthday:").count() == 1


# --- win-back -------------------------------------------------------------------------------------


@pytest.fixture
def winback(program):
    TriggerConfigFactory(
        program=program, winback_points=D(300), winback_after_days=90, winback_lifetime_days=30
    )
    return program


def test_winback_once_per_sleeping_episode(winback, now):
    fresh_sleeper = member(winback, email="s@example.com", consent_email=True)
    fresh_sleeper.last_purchase_at = now - timedelta(days=91)
    fresh_sleeper.save()
    awake = AccountFactory(program=winback, last_purchase_at=now - timedelta(days=30))
    long_asleep = AccountFactory(program=winback, last_purchase_at=now - timedelta(days=400))
    never_bought = AccountFactory(program=winback)

    run = triggers.winback_bonuses(now=now)
    assert run.granted == 1
    assert triggers.winback_bonuses(now=now + timedelta(days=1)).granted == 0
    assert ops(fresh_sleeper, "winback:").count() == 1
    for other in (awake, long_asleep, never_bought):
        assert not ops(other, "winback:").exists()
    assert Message.objects.filter(customer=fresh_sleeper.customer, event="win_back").exists()

    # A purchase ends the episode; falling asleep again earns a new bonus.
    fresh_sleeper.last_purchase_at = now + timedelta(days=10)
    fresh_sleeper.save()
    later = now + timedelta(days=101)
    assert triggers.winback_bonuses(now=later).granted == 1
    assert ops(fresh_sleeper, "winback:").count() == 2
    assert_consistent(later, fresh_sleeper)


def test_winback_catches_up_after_missed_days(winback, now):
    account = AccountFactory(program=winback, last_purchase_at=now - timedelta(days=95))
    assert triggers.winback_bonuses(now=now).granted == 1
    assert ops(account, "winback:").exists()


def test_trigger_jobs_record_their_runs_and_skip_a_second_run(winback, now):
    from campaigns import jobs

    AccountFactory(program=winback, last_purchase_at=now - timedelta(days=91))
    first = jobs.winback_job(now=now)
    second = jobs.winback_job(now=now + timedelta(hours=1))
    assert first.rows == 1 and not first.skipped
    assert second.skipped
    assert jobs.birthday_job(now=now).run is not None
