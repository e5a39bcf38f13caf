"""Test doubles for what lies outside the project (SMS provider, SMTP server)."""

import json
import os
import signal
import smtplib

from django.core.mail.backends.locmem import EmailBackend as LocmemBackend

from notifications.backends.sms import SmsProvider


class RecordingSmsProvider(SmsProvider):
    """Records every SMS; ``fail_next`` makes the next calls raise the given errors."""

    sent: list[dict] = []
    fail_next: list[Exception] = []

    def send(self, *, to, text, idempotency_key):
        if RecordingSmsProvider.fail_next:
            raise RecordingSmsProvider.fail_next.pop(0)
        RecordingSmsProvider.sent.append({"to": to, "text": text, "key": idempotency_key})
        return f"sms-{len(RecordingSmsProvider.sent)}"


class FlakySmtpBackend(LocmemBackend):
    """An SMTP server that drops the connection or refuses the recipient."""

    error: Exception = smtplib.SMTPServerDisconnected("connection unexpectedly closed")

    def send_messages(self, messages):
        raise FlakySmtpBackend.error


class FileRecordingEmailBackend(LocmemBackend):
    """Django's locmem backend that also appends each email to a JSON-lines file.

    Used by the Celery worker subprocess: locmem lives in the worker's memory, the file lets
    the test see what it delivered. ``KOPILKA_TEST_MAIL_CRASH=before|after`` kills the worker
    process (SIGKILL, as the OOM killer would) before or after recording the email.
    """

    def send_messages(self, messages):
        crash = os.environ.get("KOPILKA_TEST_MAIL_CRASH", "")
        if crash == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        sent = super().send_messages(messages)
        with open(os.environ["KOPILKA_TEST_MAIL_FILE"], "a", encoding="utf-8") as out:
            for message in messages:
                record = {
                    "to": message.to,
                    "subject": message.subject,
                    "body": message.body,
                    "message_id": message.extra_headers.get("Message-ID", ""),
                    "pid": os.getpid(),
                }
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        if crash == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return sent
