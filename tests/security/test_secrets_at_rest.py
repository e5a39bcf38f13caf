"""Codes and secrets at rest (issue 13, item 13): codes stored hashed, a sign-up code's SMS
purged from the outbox once delivered and masked in the admin, and a nightly retention job."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from core.models import JobRun
from core.retention import retention_job
from customers.codes import one_time_code_issue
from customers.models import OneTimeCode
from loyalty.api.models import IdempotentRequest
from notifications.models import Message, MessageStatus
from notifications.retention import REDACTED
from notifications.services import message_retry, messages_dispatch
from tests.cabinet.conftest import enrol
from tests.factories import CustomerFactory, MessageFactory, OneTimeCodeFactory

pytestmark = pytest.mark.django_db

PHONE = "+79990009998"


@pytest.fixture(autouse=True)
def _sms(settings):
    settings.SMS_BACKEND = "tests.notifications.fakes.RecordingSmsProvider"
    settings.NOTIFICATIONS_QUIET_HOURS = ""


def sign_up(client) -> Message:
    with translation.override("en"):
        client.post(reverse("cabinet:signup"), {"phone": PHONE})
    return Message.objects.get(event="signup_code")


def test_codes_are_stored_as_a_keyed_digest_only(now):
    customer = CustomerFactory()
    code = one_time_code_issue(customer=customer, purpose="till", now=now)
    row = OneTimeCode.objects.get(customer=customer)
    assert code not in row.code_digest and len(row.code_digest) == 64
    assert {f.name for f in OneTimeCode._meta.fields}.isdisjoint({"code", "raw_code"})


def test_a_delivered_sign_up_code_leaves_the_outbox(client, program, outlet):
    from tests.notifications.fakes import RecordingSmsProvider

    enrol(program, outlet, PHONE)
    message = sign_up(client)
    code = next(word for word in message.body.split() if word.strip(".").isdigit())
    messages_dispatch(now=timezone.now() + timedelta(seconds=1))
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert code in RecordingSmsProvider.sent[-1]["text"]  # the customer got it
    assert message.body == REDACTED and code not in message.body


def test_a_failed_sign_up_code_is_purged_and_not_resent(client, program, outlet, settings):
    from notifications.backends import PermanentSendError
    from tests.notifications.fakes import RecordingSmsProvider

    enrol(program, outlet, PHONE)
    messages_dispatch(now=timezone.now())  # the welcome message goes first
    message = sign_up(client)
    RecordingSmsProvider.fail_next = [PermanentSendError("bad number")]
    messages_dispatch(now=timezone.now() + timedelta(seconds=1))
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED and message.body == REDACTED
    assert message_retry(message_ids=[message.pk], now=timezone.now()) == 0


def test_the_admin_masks_a_pending_code(admin_client, client, program, outlet):
    enrol(program, outlet, PHONE)
    message = sign_up(client)
    code = next(word for word in message.body.split() if word.strip(".").isdigit())
    page = admin_client.get(reverse("admin:notifications_message_change", args=[message.pk]))
    assert page.status_code == 200
    assert code not in page.content.decode()
    assert "••••••" in page.content.decode()


def test_the_retention_job_deletes_what_is_past_its_time(program, outlet):
    now = timezone.now()
    old, recent = now - timedelta(days=100), now - timedelta(hours=1)
    customer = CustomerFactory()
    IdempotentRequest.objects.create(outlet=outlet, key="old", request_hash="h", created_at=old)
    IdempotentRequest.objects.create(outlet=outlet, key="new", request_hash="h", created_at=recent)
    sent_old = MessageFactory(customer=customer, status="sent", created_at=old)
    pending_old = MessageFactory(customer=customer, status="pending", created_at=old)
    sent_recent = MessageFactory(customer=customer, status="sent", created_at=recent)
    code_sent = MessageFactory(
        customer=customer, status="sent", event="signup_code", created_at=now - timedelta(days=2)
    )
    expired = OneTimeCodeFactory(customer=customer, expires_at=now - timedelta(days=2))
    live = OneTimeCodeFactory(customer=customer, expires_at=now + timedelta(minutes=5))

    run = retention_job(now=now)
    assert not run.skipped
    assert set(IdempotentRequest.objects.values_list("key", flat=True)) == {"new"}
    assert set(Message.objects.values_list("pk", flat=True)) == {pending_old.pk, sent_recent.pk}
    assert not Message.objects.filter(pk__in=[sent_old.pk, code_sent.pk]).exists()
    assert set(OneTimeCode.objects.values_list("pk", flat=True)) == {live.pk}
    assert not OneTimeCode.objects.filter(pk=expired.pk).exists()
    record = JobRun.objects.get(job="core.retention")
    assert record.status == "succeeded" and record.rows_touched == 4
    assert record.details == {
        "customers.one_time_codes": 1,
        "notifications.messages": 2,
        "pos_api.idempotency_keys": 1,
    }
    assert retention_job(now=now).skipped  # once a day


def test_the_retention_job_is_a_system_schedule():
    from core.schedule import SYSTEM_SCHEDULES

    assert "core.retention" in {s.task for s in SYSTEM_SCHEDULES}
