"""Signed one-click unsubscribe links (django.core.signing, no expiry: old mail keeps working)."""

from __future__ import annotations

from django.core import signing

from core.links import absolute_reverse

SALT = "notifications.unsubscribe"


def unsubscribe_token(customer, channel: str) -> str:
    return signing.Signer(salt=SALT).sign_object({"c": str(customer.public_id), "ch": channel})


def unsubscribe_url(customer, channel: str) -> str:
    token = unsubscribe_token(customer, channel)
    return absolute_reverse("notifications:unsubscribe", args=[token])


def unsubscribe_token_read(token: str) -> tuple[str, str] | None:
    """(customer public id, channel) from a token, or None if it was not signed by us."""
    try:
        data = signing.Signer(salt=SALT).unsign_object(token)
    except (signing.BadSignature, ValueError):
        return None
    if not isinstance(data, dict) or not {"c", "ch"} <= data.keys():
        return None
    return str(data["c"]), str(data["ch"])
