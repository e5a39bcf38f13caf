"""SMS: a provider interface, an HTTP gateway implementation and a log one for development.

``SMS_BACKEND`` names the provider class. The HTTP gateway POSTs JSON
``{"to", "text", "sender", "id"}`` to ``SMS_GATEWAY_URL`` with ``Authorization: Bearer
SMS_GATEWAY_TOKEN`` and an ``Idempotency-Key`` header, and reads ``{"id": …}`` back; adapt a
provider with a different wire format by subclassing and overriding ``request``/``parse``.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

from django.conf import settings
from django.utils.module_loading import import_string

from customers.phones import phone_mask
from notifications.backends.base import ChannelBackend, PermanentSendError, TransientSendError

logger = logging.getLogger(__name__)


class SmsProvider:
    def send(self, *, to: str, text: str, idempotency_key: str) -> str:
        """Hand one SMS to the provider; return its id. Raise Transient/PermanentSendError."""
        raise NotImplementedError


class LogSmsProvider(SmsProvider):
    """Development: the SMS is "sent" by a log line and goes nowhere else.

    The line names a masked phone, the message id and the text's length — never the text:
    SMS carry sign-up codes, and logs hold no personal data or secrets (issue 7). The full
    text is already in the outbox (``Message.body``, readable in the admin under Messages),
    which is where a developer finds a code; a copy in a file would be one more place for
    secrets to leak, and a DEBUG switch would not help here, as the worker that sends runs
    without DEBUG (Celery leaks memory with it on).
    """

    def send(self, *, to: str, text: str, idempotency_key: str) -> str:
        message_id = f"log:{idempotency_key}"
        logger.info(
            "SMS %s to %s: %d characters (text not logged)", message_id, phone_mask(to), len(text)
        )
        return message_id


class HttpGatewaySmsProvider(SmsProvider):
    def __init__(self, *, url: str | None = None, token: str | None = None, timeout=None):
        self.url = url or settings.SMS_GATEWAY_URL
        self.token = token if token is not None else settings.SMS_GATEWAY_TOKEN
        self.timeout = timeout or settings.SMS_GATEWAY_TIMEOUT
        if not self.url:
            raise PermanentSendError("SMS_GATEWAY_URL is not set")

    def request(self, *, to: str, text: str, idempotency_key: str) -> urllib.request.Request:
        payload = {"to": to, "text": text, "sender": settings.SMS_SENDER, "id": idempotency_key}
        return urllib.request.Request(
            self.url,
            data=json.dumps(payload).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Authorization": f"Bearer {self.token}",
                "Idempotency-Key": idempotency_key,
            },
        )

    def parse(self, body: bytes) -> str:
        try:
            return str(json.loads(body or b"{}").get("id", ""))
        except (ValueError, AttributeError):
            return ""

    def send(self, *, to: str, text: str, idempotency_key: str) -> str:
        req = self.request(to=to, text=text, idempotency_key=idempotency_key)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:
                return self.parse(response.read())
        except urllib.error.HTTPError as exc:
            detail = f"HTTP {exc.code}: {exc.read()[:500].decode(errors='replace')}"
            if exc.code in (408, 425, 429) or exc.code >= 500:
                raise TransientSendError(detail) from exc
            raise PermanentSendError(detail) from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise TransientSendError(f"{type(exc).__name__}: {exc}") from exc


class SmsBackend(ChannelBackend):
    channel = "sms"

    def __init__(self, provider: SmsProvider | None = None):
        self.provider = provider

    def open(self) -> None:
        if self.provider is None:
            self.provider = import_string(settings.SMS_BACKEND)()

    def send(self, message, *, recipient: str) -> str:
        if self.provider is None:
            self.open()
        return self.provider.send(
            to=recipient, text=message.body, idempotency_key=message.idempotency_key
        )
