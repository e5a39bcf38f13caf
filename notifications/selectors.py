"""Reads of the outbox shared by the cabinet and the admin."""

from __future__ import annotations

from django.db.models import QuerySet

from notifications.models import Channel, Message, MessageStatus


def cabinet_messages(*, customer) -> QuerySet[Message]:
    """The customer's cabinet messages, newest first."""
    return Message.objects.filter(
        customer=customer, channel=Channel.CABINET, status=MessageStatus.SENT
    ).order_by("-sent_at", "-pk")


def cabinet_unread_count(*, customer) -> int:
    return cabinet_messages(customer=customer).filter(read_at__isnull=True).count()
