from notifications.backends.base import ChannelBackend


class CabinetBackend(ChannelBackend):
    """The outbox row is the cabinet message: marking it sent is delivering it."""

    channel = "cabinet"

    def send(self, message, *, recipient: str) -> str:
        return ""
