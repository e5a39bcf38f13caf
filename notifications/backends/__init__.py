"""Channel backends behind one interface: ``open()``, ``send(message, recipient)``, ``close()``.

``send`` returns the provider's message id ("" if it has none) or raises
``TransientSendError`` (try again later) / ``PermanentSendError`` (give up). Any other
exception is treated as transient. Every backend receives the message's idempotency key so a
provider that supports it can drop a duplicate after a crash between send and bookkeeping.
"""

from notifications.backends.base import (
    ChannelBackend,
    PermanentSendError,
    SendError,
    TransientSendError,
)
from notifications.backends.cabinet import CabinetBackend
from notifications.backends.email import EmailBackend
from notifications.backends.sms import SmsBackend
from notifications.models import Channel

BACKENDS: dict[str, type[ChannelBackend]] = {
    Channel.EMAIL: EmailBackend,
    Channel.SMS: SmsBackend,
    Channel.CABINET: CabinetBackend,
}


def backend_for(channel: str) -> ChannelBackend:
    return BACKENDS[channel]()


__all__ = [
    "ChannelBackend",
    "PermanentSendError",
    "SendError",
    "TransientSendError",
    "backend_for",
]
