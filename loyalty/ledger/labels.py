"""Ledger descriptions in the reader's language.

The ledger writes an operation's ``description`` once, in English, for the check-driven
operations (``Check A-1``, ``Refund of check A-1``…): it is an audit field and must not
change with the language of whoever happened to make the request. Screens show it through
``description_text``, which recognises those fixed shapes and translates them; anything else
(a staff member's reason, a campaign's text) is shown as written.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext

# (shape written by the ledger, its translatable template). The most specific first.
_SHAPES: tuple[tuple[re.Pattern, str], ...] = (
    (re.compile(r"^Reservation of check (?P<receipt>.+) released$"), "reservation"),
    (re.compile(r"^Cancellation of check (?P<receipt>.+)$"), "cancellation"),
    (re.compile(r"^Refund of check (?P<receipt>.+)$"), "refund"),
    (re.compile(r"^Check (?P<receipt>.+)$"), "check"),
    (re.compile(r"^Reward (?P<name>.+)$"), "reward"),
    (re.compile(r"^Points expired$"), "expired"),
)


def _template(shape: str) -> str:
    # Literal msgids, so makemessages finds them.
    return {
        "reservation": gettext("Reservation of check %(receipt)s released"),
        "cancellation": gettext("Cancellation of check %(receipt)s"),
        "refund": gettext("Refund of check %(receipt)s"),
        "check": gettext("Check %(receipt)s"),
        "reward": gettext("Reward “%(name)s”"),
        "expired": gettext("Points expired"),
    }[shape]


def description_text(description: str) -> str:
    """``description`` as the reader's language says it (unknown shapes unchanged)."""
    for pattern, shape in _SHAPES:
        match = pattern.match(description or "")
        if match:
            return _template(shape) % match.groupdict()
    return description
