"""messages_dispatch: claim, send, mark; retries with backoff; leases; never twice."""

import smtplib
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections

from core.models import JobRun
from loyalty.ledger.models import MemberProfile
from notifications import services
from notifications.backends import PermanentSendError, TransientSendError
from notifications.backends.email import message_id_for
from notifications.jobs import dispatch_job
from notifications.models import Message, MessageStatus
from notifications.selectors import cabinet_messages, cabinet_unread_count
from notifications.services import (
    cabinet_message_mark_read,
    message_enqueue,
    message_retry,
    messages_dispatch,
)
from tests.factories import AccountFactory, CustomerFactory, MessageFactory
from tests.notifications.fakes import FlakySmtpBackend, RecordingSmsProvider

pytestmark = pytest.mark.django_db


def home(customer):
    """The programme the customer belongs to: messages about it use what it collected."""
    account = customer.accounts.select_related("program").order_by("pk").first()
    return account.program if account is not None else None


def enqueue(customer, now, *, key="k1", event="points_earned", **kw):
    kw.setdefault("program", home(customer))
    return message_enqueue(
        customer=customer,
        event=event,
        context={"points": 45, "text": "Акция", "title": "Тема"},
        idempotency_key=key,
        now=now,
        **kw,
    )


def statuses():
    return dict(Message.objects.values_list("channel", "status"))


def test_due_messages_go_out_once(customer, program, earned_templates, now, mailoutbox):
    enqueue(customer, now, program=program)

    result = messages_dispatch(now=now)

    assert (result.claimed, result.sent) == (3, 3)
    assert statuses() == {"email": "sent", "sms": "sent", "cabinet": "sent"}
    (mail,) = mailoutbox
    assert (mail.to, mail.subject, mail.body) == (
        ["anna@example.com"],
        "+45 баллов",
        "Анна, +45 в Кофе Клуб",
    )
    assert mail.extra_headers["Message-ID"] == message_id_for("k1:email")
    assert "List-Unsubscribe" not in mail.extra_headers  # transactional
    assert RecordingSmsProvider.sent == [
        {"to": customer.phone, "text": "Анна, +45 в Кофе Клуб", "key": "k1:sms"}
    ]
    email = Message.objects.get(channel="email")
    assert (email.sent_at, email.recipient, email.attempts) == (now, "anna@example.com", 1)
    assert (email.claim_token, email.lease_until) == (None, None)

    again = messages_dispatch(now=now + timedelta(hours=1))
    assert again.claimed == 0
    assert len(mailoutbox) == 1 and len(RecordingSmsProvider.sent) == 1


def test_messages_not_yet_due_wait(customer, earned_templates, now, mailoutbox):
    enqueue(customer, now, scheduled_for=now + timedelta(hours=2), channels=["email"])
    assert messages_dispatch(now=now + timedelta(hours=1, minutes=59)).claimed == 0
    assert messages_dispatch(now=now + timedelta(hours=2)).sent == 1
    assert len(mailoutbox) == 1


def test_marketing_email_has_one_click_unsubscribe_headers(
    customer, campaign_templates, now, mailoutbox
):
    enqueue(customer, now, event="campaign", channels=["email"])
    messages_dispatch(now=now)
    (mail,) = mailoutbox
    link = mail.extra_headers["List-Unsubscribe"]
    assert link.startswith("<https://kopilka.test/notifications/unsubscribe/") and link.endswith(
        "/>"
    )
    assert mail.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link[1:-1] in mail.body


def test_cabinet_messages_are_stored_for_the_cabinet(customer, earned_templates, now):
    enqueue(customer, now, channels=["cabinet"])
    messages_dispatch(now=now)
    (message,) = cabinet_messages(customer=customer)
    assert (message.subject, message.body) == ("+45 баллов", "Анна, +45 в Кофе Клуб")
    assert cabinet_unread_count(customer=customer) == 1
    other = CustomerFactory()
    assert cabinet_message_mark_read(customer=other, message_ids=[message.pk], now=now) == 0
    assert cabinet_message_mark_read(customer=customer, message_ids=[message.pk], now=now) == 1
    assert cabinet_unread_count(customer=customer) == 0


# --- failures and retries ------------------------------------------------------------------


def test_a_transient_failure_is_retried_with_backoff_and_sent_once(customer, earned_templates, now):
    RecordingSmsProvider.fail_next = [TransientSendError("HTTP 503")]
    enqueue(customer, now, channels=["sms"])

    first = messages_dispatch(now=now)

    sms = Message.objects.get()
    assert (first.retried, sms.status, sms.attempts) == (1, "pending", 1)
    assert sms.scheduled_for == now + timedelta(minutes=1)
    assert sms.last_error == "TransientSendError: HTTP 503"
    assert messages_dispatch(now=now + timedelta(seconds=59)).claimed == 0

    second = messages_dispatch(now=now + timedelta(minutes=1))

    sms.refresh_from_db()
    assert (second.sent, sms.status, sms.attempts) == (1, "sent", 2)
    assert len(RecordingSmsProvider.sent) == 1


def test_backoff_doubles_and_retries_run_out(customer, earned_templates, now):
    RecordingSmsProvider.fail_next = [TransientSendError("down")] * 3
    enqueue(customer, now, channels=["sms"])
    moment = now
    for expected_wait in (timedelta(minutes=1), timedelta(minutes=2)):
        messages_dispatch(now=moment)
        sms = Message.objects.get()
        assert sms.scheduled_for == moment + expected_wait
        moment = sms.scheduled_for
    result = messages_dispatch(now=moment)  # the third and last attempt (MAX_ATTEMPTS = 3)
    sms.refresh_from_db()
    assert (result.failed, sms.status, sms.status_reason, sms.attempts) == (
        1,
        "failed",
        "retries exhausted",
        3,
    )
    assert RecordingSmsProvider.sent == []


def test_a_permanent_failure_fails_at_once(customer, earned_templates, now):
    RecordingSmsProvider.fail_next = [PermanentSendError("HTTP 400: bad number")]
    enqueue(customer, now, channels=["sms"])
    messages_dispatch(now=now)
    sms = Message.objects.get()
    assert (sms.status, sms.status_reason) == ("failed", "rejected by the provider")


def test_an_smtp_outage_is_transient_a_refused_recipient_permanent(
    customer, earned_templates, now, settings
):
    settings.EMAIL_BACKEND = "tests.notifications.fakes.FlakySmtpBackend"
    FlakySmtpBackend.error = smtplib.SMTPServerDisconnected("gone")
    enqueue(customer, now, channels=["email"])
    messages_dispatch(now=now)
    assert Message.objects.get().status == "pending"
    FlakySmtpBackend.error = smtplib.SMTPRecipientsRefused({"anna@example.com": (550, b"no")})
    messages_dispatch(now=now + timedelta(minutes=1))
    assert Message.objects.get().status == "failed"


def test_an_unexpected_backend_error_is_retried_not_lost(customer, earned_templates, now):
    RecordingSmsProvider.fail_next = [RuntimeError("bug in a provider adapter")]
    enqueue(customer, now, channels=["sms"])
    assert messages_dispatch(now=now).retried == 1
    assert messages_dispatch(now=now + timedelta(minutes=1)).sent == 1


def test_staff_can_send_a_failed_message_again(customer, earned_templates, now):
    RecordingSmsProvider.fail_next = [PermanentSendError("no")]
    enqueue(customer, now, channels=["sms"])
    messages_dispatch(now=now)
    assert message_retry(message_ids=Message.objects.values_list("pk", flat=True), now=now) == 1
    messages_dispatch(now=now)
    assert Message.objects.get().status == "sent"


# --- the lease: a worker that died mid-send ------------------------------------------------


def test_a_message_claimed_by_a_dead_worker_is_retried_after_its_lease(
    customer, earned_templates, now, mailoutbox
):
    enqueue(customer, now, channels=["email"])
    _, claimed = services._claim(now=now, batch_size=10)  # the worker dies right here
    assert [m.status for m in claimed] == ["sending"]

    during = messages_dispatch(now=now + timedelta(seconds=299))
    after = messages_dispatch(now=now + timedelta(seconds=300))

    assert during.claimed == 0
    assert after.sent == 1
    email = Message.objects.get()
    assert (email.status, email.attempts) == ("sent", 2)
    assert len(mailoutbox) == 1


def test_a_worker_that_lost_its_claim_does_not_send(customer, earned_templates, now, mailoutbox):
    enqueue(customer, now, channels=["email"])
    token, (message,) = services._claim(now=now, batch_size=10)
    # Its lease ran out and another worker claimed the row meanwhile:
    Message.objects.filter(pk=message.pk).update(claim_token=uuid.uuid4())
    result = services.DispatchResult()
    backend = services.backend_for("email")
    services._deliver(message, token, backend, now=now, moment=now, result=result)
    assert result.lost == 1 and mailoutbox == []


def test_a_message_whose_workers_keep_dying_is_given_up(customer, earned_templates, now):
    enqueue(customer, now, channels=["email"])
    moment = now
    for _ in range(3):  # three workers died while sending it
        services._claim(now=moment, batch_size=10)
        moment += timedelta(seconds=300)
    result = messages_dispatch(now=moment)
    email = Message.objects.get()
    assert (result.failed, email.status, email.status_reason) == (
        1,
        "failed",
        "gave up after 3 attempts",
    )


# --- decisions made again at send time -----------------------------------------------------


def test_consent_withdrawn_after_enqueue_is_honoured(customer, campaign_templates, now):
    enqueue(customer, now, event="campaign", channels=["sms"])
    MemberProfile.objects.filter(account__customer=customer).update(consent_sms=False)
    result = messages_dispatch(now=now)
    sms = Message.objects.get()
    assert (result.skipped, sms.status, sms.status_reason) == (
        1,
        "skipped",
        "no consent for this channel",
    )
    assert RecordingSmsProvider.sent == []


def test_an_sms_retry_that_falls_into_the_night_waits_for_the_morning(
    customer, program, earned_templates
):
    evening = datetime(2026, 6, 15, 17, 59, tzinfo=UTC)  # 20:59 in Moscow
    RecordingSmsProvider.fail_next = [TransientSendError("503")]
    enqueue(customer, evening, program=program, channels=["sms"])
    messages_dispatch(now=evening)
    retry_at = Message.objects.get().scheduled_for  # 21:00: quiet
    result = messages_dispatch(now=retry_at)
    sms = Message.objects.get()
    assert result.deferred == 1
    assert (sms.status, sms.attempts) == ("pending", 1)
    assert sms.scheduled_for == datetime(2026, 6, 16, 6, 0, tzinfo=UTC)
    assert messages_dispatch(now=sms.scheduled_for).sent == 1


# --- the job ---------------------------------------------------------------------------------


def test_the_dispatch_job_records_only_runs_that_did_something(customer, earned_templates, now):
    dispatch_job(now=now)
    assert not JobRun.objects.exists()
    enqueue(customer, now)
    run = dispatch_job(now=now)
    assert run.details["sent"] == 3
    assert JobRun.objects.get().rows_touched == 3


def test_batches_continue_until_nothing_is_due(earned_templates, now, mailoutbox):
    for i in range(7):
        person = AccountFactory(customer=CustomerFactory(email=f"c{i}@x.y")).customer
        MessageFactory(customer=person, program=home(person), scheduled_for=now)
    result = messages_dispatch(now=now, batch_size=3)
    assert (result.claimed, result.sent) == (7, 7)
    assert len(mailoutbox) == 7


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("on_postgres")
def test_concurrent_dispatchers_send_each_message_once(now, mailoutbox):
    for i in range(30):
        person = AccountFactory(customer=CustomerFactory(email=f"c{i}@x.y")).customer
        MessageFactory(customer=person, program=home(person), scheduled_for=now)
    barrier = threading.Barrier(4)
    results = [None] * 4

    def run(index):
        try:
            barrier.wait()
            results[index] = messages_dispatch(now=now, batch_size=4)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(r.sent for r in results) == 30
    assert len(mailoutbox) == 30
    assert len({m.to[0] for m in mailoutbox}) == 30
    assert set(Message.objects.values_list("status", flat=True)) == {MessageStatus.SENT}
