"""A real Celery worker on a real Redis broker delivers the outbox, and survives being killed.

CI sets CELERY_TEST_BROKER_URL (redis://127.0.0.1:6379/15); without it, or without a Redis
answering there, these tests are skipped. The worker-kill tests also need PostgreSQL: the
worker runs in its own process and must see the test database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import kombu.pools
import pytest
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from config.celery import app as celery_app
from notifications.backends.email import message_id_for
from notifications.models import Message, MessageStatus
from notifications.services import message_enqueue
from tests.factories import AccountFactory, CustomerFactory, TemplateFactory

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
WAIT_SECONDS = 60


def _wait_for(predicate, *, what: str, timeout: float = WAIT_SECONDS, process=None):
    """Poll until ``predicate()`` is true: a real worker runs on its own clock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if process is not None and process.poll() is not None:
            return predicate()
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def redis_url():
    url = os.environ.get("CELERY_TEST_BROKER_URL", "")
    if not url.startswith("redis://"):
        pytest.skip("CELERY_TEST_BROKER_URL (redis://…) is not set; CI sets it")
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis answers at {url}")
    client.flushdb()  # a private database number: stale tasks of earlier runs go
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def celery_on_redis(redis_url):
    """Point this process's Celery app (the producer side) at the test Redis."""
    conf = celery_app.conf
    saved = (conf.broker_url, conf.broker_transport_options, conf.task_always_eager)
    conf.broker_url, conf.broker_transport_options, conf.task_always_eager = redis_url, {}, False
    kombu.pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    try:
        yield celery_app
    finally:
        kombu.pools.reset()  # the global producer pools keyed by connection
        celery_app._pool = None
        celery_app.amqp._producer_pool = None
        conf.broker_url, conf.broker_transport_options, conf.task_always_eager = saved


@pytest.fixture
def email_template():
    return TemplateFactory(
        event="points_earned",
        channel="email",
        language="ru",
        subject="+{{ points }} баллов",
        body="{{ customer.first_name }}, +{{ points }}",
    )


def _member(**fields):
    """A customer who gave ``fields`` (name, email, consent) to the programme they joined: the
    programme's own member profile holds them (docs/architecture.md)."""
    return AccountFactory(customer=CustomerFactory(**fields))


def _enqueue(account, *, key: str) -> Message:
    """What a ledger receiver does: write the outbox row in the business transaction; the
    dispatcher task is queued on commit."""
    with transaction.atomic():
        (message,) = message_enqueue(
            customer=account.customer,
            program=account.program,
            event="points_earned",
            context={"points": 45},
            idempotency_key=key,
            now=timezone.now(),
            channels=["email"],
        )
    return message


def test_a_worker_on_redis_delivers_an_outbox_message_to_locmem(
    celery_on_redis, email_template, settings
):
    from celery.contrib.testing.worker import start_worker

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    member = _member(first_name="Анна", email="anna@example.com", consent_email=True)

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=20):
        message = _enqueue(member, key="worker-locmem")
        _wait_for(lambda: len(mail.outbox) >= 1, what="the worker to send the email")
        message.refresh_from_db()
        _wait_for(
            lambda: Message.objects.get(pk=message.pk).status == MessageStatus.SENT,
            what="the sent mark",
        )

    (email,) = mail.outbox
    assert email.to == ["anna@example.com"]
    assert email.subject == "+45 баллов"
    assert email.extra_headers["Message-ID"] == message_id_for(message.idempotency_key)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 1)


# --- a worker killed mid-dispatch ---------------------------------------------------------------


def _worker_env(redis_url: str, mail_file: Path, *, crash: str, lease_seconds: int) -> dict:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    database_url = (
        f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "EMAIL_BACKEND": "tests.notifications.fakes.FileRecordingEmailBackend",
        "KOPILKA_TEST_MAIL_FILE": str(mail_file),
        "KOPILKA_TEST_MAIL_CRASH": crash,
        "NOTIFICATIONS_LEASE_SECONDS": str(lease_seconds),
        "NOTIFICATIONS_QUIET_HOURS": "",
        "CONN_MAX_AGE": "0",
        "PYTHONPATH": str(ROOT),
    }
    return env


def _start_worker(env: dict, log: Path) -> subprocess.Popen:
    celery = Path(sys.executable).with_name("celery")
    return subprocess.Popen(
        [str(celery), "-A", "config", "worker", "--pool=solo", "--concurrency=1",
         "--without-heartbeat", "--without-mingle", "--without-gossip", "-l", "INFO"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _deliveries(mail_file: Path) -> list[dict]:
    if not mail_file.exists():
        return []
    return [json.loads(line) for line in mail_file.read_text(encoding="utf-8").splitlines()]


def _dispatch_until(predicate, *, what: str, every: float = 1.0):
    """Queue the dispatcher the way beat does (every minute; here every second) until done."""
    from notifications.tasks import messages_dispatch

    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if predicate():
            return
        messages_dispatch.apply_async(kwargs={}, expires=30)
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.usefixtures("on_postgres")
def test_a_worker_killed_while_it_holds_the_lease_loses_nothing_and_sends_once(
    celery_on_redis, redis_url, email_template, tmp_path
):
    """SIGKILL inside the email backend, before the email left: the row stays ``sending``
    under the dead worker's lease; once the lease runs out a second worker sends it once."""
    member = _member(first_name="Анна", email="anna@example.com", consent_email=True)
    mail_file = tmp_path / "mail.jsonl"
    lease = 4

    first = _start_worker(
        _worker_env(redis_url, mail_file, crash="before", lease_seconds=lease),
        tmp_path / "worker-1.log",
    )
    try:
        message = _enqueue(member, key="worker-kill-before")  # on commit: task to Redis
        first.wait(timeout=WAIT_SECONDS)
    finally:
        _stop(first)
    assert first.returncode == -signal.SIGKILL, (tmp_path / "worker-1.log").read_text()

    message.refresh_from_db()
    assert message.status == MessageStatus.SENDING  # claimed by the dead worker...
    assert message.attempts == 1
    dead_lease_until = message.lease_until
    assert _deliveries(mail_file) == []  # ...which died before the email left

    second = _start_worker(
        _worker_env(redis_url, mail_file, crash="", lease_seconds=lease),
        tmp_path / "worker-2.log",
    )
    try:
        _dispatch_until(
            lambda: Message.objects.get(pk=message.pk).status == MessageStatus.SENT,
            what="the second worker to send the message",
        )
        # More dispatcher runs after the send change nothing.
        from notifications.tasks import messages_dispatch

        for _ in range(3):
            messages_dispatch.apply_async(kwargs={}, expires=30)
        time.sleep(2)
    finally:
        _stop(second)

    message.refresh_from_db()
    deliveries = _deliveries(mail_file)
    assert len(deliveries) == 1, deliveries
    assert deliveries[0]["pid"] == second.pid
    assert deliveries[0]["to"] == ["anna@example.com"]
    assert (message.status, message.attempts) == (MessageStatus.SENT, 2)
    # Nobody took the row while the dead worker's lease still held it.
    assert message.sent_at >= dead_lease_until


@pytest.mark.usefixtures("on_postgres")
def test_a_worker_killed_after_the_email_left_resends_it_with_the_same_message_id(
    celery_on_redis, redis_url, email_template, tmp_path
):
    """The one documented duplicate window: SIGKILL after the SMTP server accepted the email
    but before the ``sent`` mark committed. The message is not lost; it goes again after the
    lease with the same Message-ID, by which the receiving side drops the duplicate."""
    member = _member(first_name="Анна", email="anna@example.com", consent_email=True)
    mail_file = tmp_path / "mail.jsonl"
    lease = 4

    first = _start_worker(
        _worker_env(redis_url, mail_file, crash="after", lease_seconds=lease),
        tmp_path / "worker-1.log",
    )
    try:
        message = _enqueue(member, key="worker-kill-after")
        first.wait(timeout=WAIT_SECONDS)
    finally:
        _stop(first)
    assert first.returncode == -signal.SIGKILL, (tmp_path / "worker-1.log").read_text()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENDING
    assert len(_deliveries(mail_file)) == 1

    second = _start_worker(
        _worker_env(redis_url, mail_file, crash="", lease_seconds=lease),
        tmp_path / "worker-2.log",
    )
    try:
        _dispatch_until(
            lambda: Message.objects.get(pk=message.pk).status == MessageStatus.SENT,
            what="the second worker to send the message",
        )
    finally:
        _stop(second)

    deliveries = _deliveries(mail_file)
    assert [d["pid"] for d in deliveries] == [first.pid, second.pid]
    assert {d["message_id"] for d in deliveries} == {message_id_for(message.idempotency_key)}
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 2)
