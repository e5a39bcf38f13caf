"""Email through Django's email backends (SMTP in production, console/locmem elsewhere)."""

from __future__ import annotations

import hashlib
import smtplib

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from notifications.backends.base import ChannelBackend, PermanentSendError, TransientSendError
from notifications.unsubscribe import unsubscribe_url


def message_id_for(idempotency_key: str) -> str:
    """A Message-ID derived from the outbox key: a re-send after a crash carries the same id,
    so the receiving side can recognise the duplicate."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(" >") or "kopilka.local"
    return f"<{digest}@{domain}>"


class EmailBackend(ChannelBackend):
    channel = "email"

    def __init__(self):
        self.connection = None

    def open(self) -> None:
        connection = get_connection(fail_silently=False)
        connection.open()
        self.connection = connection

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def send(self, message, *, recipient: str) -> str:
        headers = {"Message-ID": message_id_for(message.idempotency_key)}
        if message.marketing:
            # RFC 2369 + RFC 8058: mail clients show an unsubscribe button that POSTs here.
            url = unsubscribe_url(message.customer, "email", message.program)
            headers["List-Unsubscribe"] = f"<{url}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        try:
            if self.connection is None:
                self.open()  # inside the try: an SMTP server that is down is a transient error
            EmailMessage(
                subject=message.subject,
                body=message.body,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[recipient],
                headers=headers,
                connection=self.connection,
            ).send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentSendError(f"recipient refused: {exc}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientSendError(f"{type(exc).__name__}: {exc}") from exc
        return headers["Message-ID"]
