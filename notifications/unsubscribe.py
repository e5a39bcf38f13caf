"""Signed one-click unsubscribe links (django.core.signing, no expiry: old mail keeps working)."""

from __future__ import annotations

from django.core import signing

from core.links import absolute_reverse

SALT = "notifications.unsubscribe"


def unsubscribe_token(customer, channel: str, program=None) -> str:
    """Signed (customer, channel, programme): consent is given to a programme, so a link
    withdraws it from the programme that sent the mail."""
    data = {"c": str(customer.public_id), "ch": channel}
    if program is not None:
        data["p"] = program.pk
    return signing.Signer(salt=SALT).sign_object(data)


def unsubscribe_url(customer, channel: str, program=None) -> str:
    token = unsubscribe_token(customer, channel, program)
    return absolute_reverse("notifications:unsubscribe", args=[token])


def unsubscribe_token_read(token: str) -> tuple[str, str, int | None] | None:
    """(customer public id, channel, programme id or None) from a token, or None if it was
    not signed by us."""
    try:
        data = signing.Signer(salt=SALT).unsign_object(token)
    except (signing.BadSignature, ValueError):
        return None
    if not isinstance(data, dict) or not {"c", "ch"} <= data.keys():
        return None
    program_id = data.get("p")
    return str(data["c"]), str(data["ch"]), program_id if isinstance(program_id, int) else None
