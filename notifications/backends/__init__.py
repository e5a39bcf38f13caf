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
    backend_for,
)

__all__ = [
    "ChannelBackend",
    "PermanentSendError",
    "SendError",
    "TransientSendError",
    "backend_for",
]
