"""The outbox: writing messages with the event that causes them, and sending them.

Delivery guarantee (docs/adr/0005-jobs-and-outbox.md): **at least once, de-duplicated
everywhere we control.** A message is written once per (idempotency key, channel) inside the
caller's transaction; the dispatcher claims due rows with ``SELECT … FOR UPDATE SKIP LOCKED``
and marks them ``sending`` with a lease, confirms the claim right before the backend call,
sends, and marks them ``sent`` only if it still holds the claim. A worker that dies leaves the
row ``sending``; when the lease runs out another run takes it again, so nothing is lost, and
while the lease holds nobody else sends it. The one window that can duplicate is a crash after
the provider accepted the message and before the ``sent`` mark is committed: the next attempt
sends again with the same Message-ID / Idempotency-Key, which a provider (or mail client) that
honours them drops.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import current_app, signature
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import translation
from django.utils.translation import gettext as _

from core.db import in_unit_of_work
from core.links import absolute_reverse
from customers.models import Customer
from loyalty.ledger.models import MemberProfile
from notifications import policies
from notifications.backends import PermanentSendError, SendError, backend_for
from notifications.events import event_get, event_is_urgent
from notifications.models import Channel, Message, MessageStatus, Template
from notifications.rendering import TemplateRenderError, render_text
from notifications.retention import redacted, secret_events
from notifications.unsubscribe import unsubscribe_url

logger = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)
DISPATCH_TASK = "notifications.messages_dispatch"  # notifications.tasks.messages_dispatch


# --- enqueue --------------------------------------------------------------------------------------


def customer_language(customer) -> str:
    return getattr(customer, "language", "") or settings.LANGUAGE_CODE


def _templates_for(
    event: str, *, program_id: int | None, language: str, channels: Iterable[str] | None
) -> dict[str, Template]:
    """The template to use per channel.

    A programme's own templates for a channel replace the default ones for that channel (an
    inactive one switches the channel off for that programme). Among the chosen group the
    customer's language wins, then the site language, then any active one.
    """
    rows = Template.objects.filter(event=event).filter(
        Q(program__isnull=True) | Q(program_id=program_id)
    )
    if channels is not None:
        rows = rows.filter(channel__in=list(channels))
    by_channel: dict[str, list[Template]] = defaultdict(list)
    for template in rows.order_by("pk"):
        by_channel[template.channel].append(template)
    chosen = {}
    for channel, candidates in by_channel.items():
        own = [t for t in candidates if t.program_id is not None]
        group = [t for t in (own or candidates) if t.is_active]
        if not group:
            continue
        preference = {language: 0, settings.LANGUAGE_CODE: 1}
        chosen[channel] = min(group, key=lambda t: (preference.get(t.language, 2), t.pk))
    return chosen


def _base_context(person, program, *, channel: str, marketing: bool) -> dict:
    context = {
        "customer": {
            "first_name": person.first_name,
            "last_name": person.last_name,
            "full_name": person.full_name,
        },
        "program": {"name": program.name, "code": program.code} if program else {},
        "site_url": settings.SITE_URL,
        "cabinet_url": absolute_reverse("cabinet:dashboard"),
    }
    if marketing and channel == Channel.EMAIL:
        context["unsubscribe_url"] = unsubscribe_url(person.customer, Channel.EMAIL, program)
    return context


def _with_unsubscribe_footer(body: str, url: str, language: str) -> str:
    """Every marketing email carries the link, even if the template forgot it."""
    if url in body:
        return body
    with translation.override(language):
        return f"{body}\n\n{_('Unsubscribe from these emails:')} {url}"


def message_enqueue(
    *,
    customer: Customer,
    event: str,
    context: dict,
    idempotency_key: str,
    now: datetime,
    channels: Sequence[str] | None = None,
    marketing: bool | None = None,
    program=None,
    language: str | None = None,
    scheduled_for: datetime | None = None,
    dispatch: bool = True,
    fresh: bool = False,
    profile=None,
) -> list[Message]:
    """Write the outbox rows of one event for one customer, one per channel with a template.

    The public hook for campaigns and triggers. Runs in the caller's transaction (a savepoint
    inside it), so the messages exist exactly when the caller's change does; with ``dispatch``
    a dispatcher task is queued ``on_commit``. ``channels`` limits the channels (default: every
    channel with an active template). ``marketing`` defaults to the event's kind.

    Each row's key is ``<idempotency_key>:<channel>``: a retry of the caller returns the rows
    written the first time and writes nothing. A row the customer may not receive (no consent
    or address, blocked, over the marketing cap) is written as ``skipped`` with the reason; a
    template that does not render is written as ``failed``. SMS in the quiet hours of the
    programme's time zone are scheduled for the end of them (customers have no time zone of
    their own; a programme is regional — see ``policies.quiet_hours_end``). Raises
    ValidationFailed for an unknown event.

    ``fresh``: the caller knows no row of this key can exist yet (its key names a row the
    caller has just created, as a new check's id), so the rows are only inserted, not looked
    up before and read back after; the rows returned are the ones built (without ids). Inside
    the API's unit of work (``core.db``) no savepoint is taken, and the dispatcher is queued
    on commit by a background thread, so the request never waits for the broker.

    Names, the email address and the consents are the ones ``program`` collected (its member
    profile; pass ``profile`` if the caller has it); no other programme's data is ever used.
    """
    spec = event_get(event)
    marketing = spec.marketing if marketing is None else marketing
    language = language or customer_language(customer)
    time_zone = program.timezone if program is not None else settings.TIME_ZONE
    templates = _templates_for(
        event,
        program_id=program.pk if program is not None else None,
        language=language,
        channels=channels,
    )
    if not templates:
        return []
    person = policies.addressee(customer, program, profile=profile)
    keys = {channel: f"{idempotency_key}:{channel}" for channel in templates}
    # Inside the API's unit of work no block at all: an atomic block without a savepoint
    # would mark the whole request for rollback on any exception, even one the caller
    # swallows (receivers._safely); elsewhere a savepoint, as always.
    with contextlib.nullcontext() if in_unit_of_work() else transaction.atomic():
        existing = set()
        if not fresh:
            existing = set(
                Message.objects.filter(idempotency_key__in=keys.values()).values_list(
                    "idempotency_key", flat=True
                )
            )
        if marketing and len(existing) < len(keys):
            # Serialise marketing sends to one customer, so two campaigns cannot both slip
            # under the frequency cap.
            list(Customer.objects.select_for_update().filter(pk=customer.pk).values_list("pk"))
        rows = []
        for channel, template in sorted(templates.items()):
            if keys[channel] in existing:
                continue
            rows.append(
                _new_message(
                    customer=customer,
                    person=person,
                    program=program,
                    template=template,
                    channel=channel,
                    event=event,
                    context=context,
                    marketing=marketing,
                    key=keys[channel],
                    language=language,
                    time_zone=time_zone,
                    due=scheduled_for or now,
                    now=now,
                )
            )
        # A concurrent duplicate loses on the unique key and is ignored; the re-read below
        # returns whichever row won.
        Message.objects.bulk_create(rows, ignore_conflicts=True)
        if fresh:
            messages = rows
        else:
            messages = list(
                Message.objects.filter(idempotency_key__in=keys.values()).order_by("pk")
            )
    if dispatch and any(
        m.status == MessageStatus.PENDING and m.scheduled_for <= now for m in messages
    ):
        transaction.on_commit(
            dispatch_soon_nowait if in_unit_of_work() else dispatch_soon, robust=True
        )
    return messages


def _new_message(
    *,
    customer,
    person,
    program,
    template,
    channel,
    event,
    context,
    marketing,
    key,
    language,
    time_zone,
    due,
    now,
) -> Message:
    message = Message(
        customer=customer,
        program=program,
        template=template,
        channel=channel,
        event=event,
        language=template.language,
        marketing=marketing,
        idempotency_key=key,
        time_zone=time_zone,
        scheduled_for=due,
        created_at=now,
    )
    full = {**_base_context(person, program, channel=channel, marketing=marketing), **context}
    try:
        message.subject, message.body = render_text(
            subject=template.subject,
            body=template.body,
            context=full,
            language=template.language,
            time_zone=time_zone,
        )
    except TemplateRenderError as exc:
        message.status = MessageStatus.FAILED
        message.status_reason = _("template error")
        message.last_error = str(exc)
        return message
    if "unsubscribe_url" in full:
        message.body = _with_unsubscribe_footer(message.body, full["unsubscribe_url"], language)
    reason = policies.skip_reason(person, channel, marketing=marketing)
    if not reason and marketing and policies.marketing_cap_reached(customer.pk, channel, now=now):
        reason = _("marketing frequency cap reached")
    if reason:
        message.status, message.status_reason = MessageStatus.SKIPPED, reason
        return message
    if (
        channel == Channel.SMS
        and not event_is_urgent(event)
        and (end := policies.quiet_hours_end(due, time_zone)) is not None
    ):
        message.scheduled_for = end
        message.status_reason = _("delayed by quiet hours")
    return message


def dispatch_soon() -> None:
    """Queue a dispatcher run (called on commit; the minutely beat run catches anything lost).

    The task is named, not imported: ``notifications.tasks`` is the door that calls this
    module's dispatcher (NotificationsConfig.ready() registers it, so eager mode still runs it
    in-process).
    """
    signature(DISPATCH_TASK, kwargs={}).apply_async(expires=300)


# A request does not wait for the broker: its commit wakes this process's publisher thread,
# which queues one dispatcher run for every burst of wake-ups (a run sends every due row, so
# one per burst is enough; the minutely beat run catches anything lost).
_wake = threading.Event()
_publisher_lock = threading.Lock()
_publisher_pid: int | None = None


def _publisher() -> None:
    while True:
        _wake.wait()
        _wake.clear()
        try:
            dispatch_soon()
        except Exception:
            logger.exception("could not queue the outbox dispatcher (the beat run will)")


def dispatch_soon_nowait() -> None:
    """``dispatch_soon`` from a background thread of this process (started on first use, again
    after a fork); in eager mode (tasks run in-process) it is ``dispatch_soon`` itself."""
    global _publisher_pid
    if current_app.conf.task_always_eager:
        dispatch_soon()
        return
    if _publisher_pid != os.getpid():
        with _publisher_lock:
            if _publisher_pid != os.getpid():
                threading.Thread(target=_publisher, name="outbox-publisher", daemon=True).start()
                _publisher_pid = os.getpid()
    _wake.set()


# --- dispatch -------------------------------------------------------------------------------------


@dataclass
class DispatchResult:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    deferred: int = 0
    lost: int = 0

    @property
    def touched(self) -> int:
        return self.claimed


def _lease() -> timedelta:
    return timedelta(seconds=settings.NOTIFICATIONS_LEASE_SECONDS)


def _backoff(attempts: int) -> timedelta:
    return min(timedelta(minutes=1) * 2 ** max(attempts - 1, 0), MAX_BACKOFF)


def _claim(*, now: datetime, batch_size: int) -> tuple[uuid.UUID, list[Message]]:
    """Take up to ``batch_size`` due rows: pending and due, or sending with a lapsed lease."""
    token = uuid.uuid4()
    with transaction.atomic():
        ids = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(
                Q(status=MessageStatus.PENDING, scheduled_for__lte=now)
                | Q(status=MessageStatus.SENDING, lease_until__lte=now)
            )
            .order_by("scheduled_for", "pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return token, []
        Message.objects.filter(pk__in=ids).update(
            status=MessageStatus.SENDING,
            claim_token=token,
            claimed_at=now,
            lease_until=now + _lease(),
            attempts=F("attempts") + 1,
        )
    claimed = Message.objects.filter(pk__in=ids, claim_token=token).select_related(
        "customer", "program"
    )
    return token, list(claimed.order_by("scheduled_for", "pk"))


def _release(message: Message, token: uuid.UUID, **values) -> bool:
    """Change a claimed row only while we still hold the claim."""
    values.setdefault("claim_token", None)
    values.setdefault("lease_until", None)
    return bool(
        Message.objects.filter(
            pk=message.pk, claim_token=token, status=MessageStatus.SENDING
        ).update(**values)
    )


def messages_dispatch(
    *, now: datetime, batch_size: int | None = None, max_batches: int = 20
) -> DispatchResult:
    """Send due messages, batch by batch, until none is due (or ``max_batches``).

    Safe to run in any number of workers at once: rows are claimed with SKIP LOCKED and every
    change to a claimed row is conditional on the claim token. Consent and quiet hours are
    checked again at send time (a customer may have unsubscribed since). A failed send is
    retried with exponential backoff up to NOTIFICATIONS_MAX_ATTEMPTS, then marked failed;
    so is a row whose workers kept dying (a poison message cannot loop forever).
    """
    size = batch_size or settings.NOTIFICATIONS_DISPATCH_BATCH
    result = DispatchResult()
    started = time.monotonic()
    for _batch in range(max_batches):
        token, batch = _claim(now=now, batch_size=size)
        if not batch:
            break
        result.claimed += len(batch)
        backends = {}
        try:
            for message in batch:
                channel = message.channel
                if channel not in backends:
                    backends[channel] = backend_for(channel)
                # The lease is renewed from the real elapsed time, so a long batch keeps its
                # claim; with a frozen ``now`` in tests it stays deterministic.
                moment = now + timedelta(seconds=time.monotonic() - started)
                _deliver(message, token, backends[channel], now=now, moment=moment, result=result)
        finally:
            for backend in backends.values():
                try:
                    backend.close()
                except Exception:
                    logger.exception("closing the %s backend failed", backend.channel)
    return result


def _deliver(message: Message, token, backend, *, now, moment, result: DispatchResult) -> None:
    if message.attempts > settings.NOTIFICATIONS_MAX_ATTEMPTS:
        _release(
            message,
            token,
            status=MessageStatus.FAILED,
            status_reason=_("gave up after %(n)d attempts") % {"n": message.attempts - 1},
            **redacted(message),
        )
        result.failed += 1
        return
    customer = policies.addressee(message.customer, message.program)
    reason = policies.skip_reason(customer, message.channel, marketing=message.marketing)
    if reason:
        _release(
            message, token, status=MessageStatus.SKIPPED, status_reason=reason, **redacted(message)
        )
        result.skipped += 1
        return
    if message.channel == Channel.SMS and not event_is_urgent(message.event):
        end = policies.quiet_hours_end(now, message.time_zone)
        if end is not None:
            _release(
                message,
                token,
                status=MessageStatus.PENDING,
                scheduled_for=end,
                attempts=F("attempts") - 1,
                status_reason=_("delayed by quiet hours"),
            )
            result.deferred += 1
            return
    # Confirm the claim right before the backend call: if our lease lapsed and another worker
    # took the row, it sends and we do not.
    if not Message.objects.filter(
        pk=message.pk, claim_token=token, status=MessageStatus.SENDING
    ).update(lease_until=moment + _lease()):
        result.lost += 1
        return
    recipient = policies.recipient_of(customer, message.channel)
    try:
        provider_id = backend.send(message, recipient=recipient)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        permanent = isinstance(exc, PermanentSendError)
        if not isinstance(exc, SendError):
            logger.exception("sending message %s failed", message.pk)
        if permanent or message.attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS:
            _release(
                message,
                token,
                status=MessageStatus.FAILED,
                status_reason=_("rejected by the provider")
                if permanent
                else _("retries exhausted"),
                last_error=error,
                recipient=recipient,
                **redacted(message),
            )
            result.failed += 1
        else:
            _release(
                message,
                token,
                status=MessageStatus.PENDING,
                scheduled_for=now + _backoff(message.attempts),
                last_error=error,
            )
            result.retried += 1
        return
    if _release(
        message,
        token,
        status=MessageStatus.SENT,
        **redacted(message),
        sent_at=now,
        recipient=recipient,
        provider_message_id=provider_id or "",
        status_reason="",
    ):
        result.sent += 1
    else:  # our lease lapsed during the call and someone else has the row now
        logger.warning("message %s sent but its claim was lost: it may be sent twice", message.pk)
        result.lost += 1


# --- customer actions -----------------------------------------------------------------------------


@transaction.atomic
def customer_unsubscribe(
    *, customer: Customer, channel: str, now: datetime, program_id: int | None = None
) -> bool:
    """Withdraw the consent for ``channel`` given to the programme ``program_id`` (to every
    programme the customer is in when None: a link from before consents were per programme)
    and drop pending marketing of it on that channel.

    Idempotent; returns whether a consent was on. Transactional messages keep coming
    (they need no consent unless NOTIFICATIONS_TRANSACTIONAL_NEEDS_CONSENT).
    """
    field = {Channel.EMAIL: "consent_email", Channel.SMS: "consent_sms"}.get(channel)
    if field is None:
        return False
    profiles = MemberProfile.objects.select_for_update().filter(account__customer_id=customer.pk)
    pending = Message.objects.filter(
        customer_id=customer.pk, channel=channel, marketing=True, status=MessageStatus.PENDING
    )
    if program_id is not None:
        profiles = profiles.filter(program_id=program_id)
        pending = pending.filter(program_id=program_id)
    was_on = False
    for profile in profiles.order_by("pk"):
        if getattr(profile, field):
            was_on = True
            setattr(profile, field, False)
            setattr(profile, f"{field}_at", now)
            profile.save(update_fields=[field, f"{field}_at"])
    pending.update(status=MessageStatus.SKIPPED, status_reason=_("unsubscribed"))
    return was_on


def cabinet_message_mark_read(*, customer: Customer, message_ids: Iterable[int], now) -> int:
    """Mark the customer's own cabinet messages read; others' ids are ignored."""
    return Message.objects.filter(
        customer=customer,
        channel=Channel.CABINET,
        pk__in=list(message_ids),
        read_at__isnull=True,
    ).update(read_at=now)


def message_retry(*, message_ids: Iterable[int], now: datetime) -> int:
    """Staff: send failed messages again now (attempts start over).

    A message that carried a secret (a sign-up code) is not resent: its text was removed when
    it failed, and the code has expired by now anyway; the customer asks for a new one.
    """
    failed = Message.objects.filter(pk__in=list(message_ids), status=MessageStatus.FAILED)
    return failed.exclude(event__in=secret_events()).update(
        status=MessageStatus.PENDING,
        scheduled_for=now,
        attempts=0,
        status_reason="",
        claim_token=None,
        lease_until=None,
    )
