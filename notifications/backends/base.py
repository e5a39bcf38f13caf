from __future__ import annotations


class SendError(Exception):
    pass


class TransientSendError(SendError):
    """The provider may accept it later (timeout, 5xx, connection refused)."""


class PermanentSendError(SendError):
    """Retrying cannot help (address rejected, 4xx)."""


class ChannelBackend:
    channel: str = ""

    def open(self) -> None:
        """Called once before a batch (an SMTP connection, an HTTP session)."""

    def close(self) -> None:
        """Called once after a batch, also after an error."""

    def send(self, message, *, recipient: str) -> str:
        raise NotImplementedError
