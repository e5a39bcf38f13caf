"""The development SMS provider logs that it sent, never whom exactly or what (issue 7)."""

import logging

import pytest

from notifications.models import Message, MessageStatus
from notifications.services import message_enqueue, messages_dispatch
from tests.factories import CustomerFactory, TemplateFactory

pytestmark = pytest.mark.django_db


def test_the_log_provider_logs_a_masked_phone_and_no_text(settings, caplog, now):
    settings.SMS_BACKEND = "notifications.backends.sms.LogSmsProvider"
    TemplateFactory(event="points_earned", channel="sms", language="ru", body="Код: {{ code }}")
    customer = CustomerFactory(phone="+79991234567", consent_sms=True)
    message_enqueue(
        customer=customer,
        event="points_earned",
        context={"code": "482913"},
        idempotency_key="k1",
        now=now,
        channels=["sms"],
    )

    with caplog.at_level(logging.INFO, logger="notifications.backends.sms"):
        assert messages_dispatch(now=now).sent == 1

    sms = Message.objects.get(channel="sms")
    assert sms.status == MessageStatus.SENT and sms.body == "Код: 482913"  # the outbox keeps it
    (line,) = [r.getMessage() for r in caplog.records if r.name == "notifications.backends.sms"]
    assert "+7999***4567" in line
    assert "log:k1:sms" in line and f"{len(sms.body)} characters" in line
    logged = caplog.text
    assert "+79991234567" not in logged and "1234567" not in logged
    assert "482913" not in logged and "Код" not in logged
