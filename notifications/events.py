"""The events that send messages, with the variables their templates may use.

The admin shows ``variables`` next to the template editor and renders the preview against
``sample``. Another app (campaigns) registers its own events with ``event_register``.
Every context also carries the common variables (customer, programme, links).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from core import errors


@dataclass(frozen=True)
class Event:
    code: str
    label: str
    variables: tuple[tuple[str, str], ...]
    sample: dict = field(default_factory=dict)
    marketing: bool = False
    # Time-critical (a confirmation code): SMS quiet hours do not hold it back.
    urgent: bool = False
    # The rendered text carries a secret (a code): masked in the admin, removed from the
    # outbox once delivered (notifications/retention.py).
    secret: bool = False


_SAMPLE_DAY = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)

COMMON_VARIABLES: tuple[tuple[str, str], ...] = (
    ("customer.first_name", _("first name")),
    ("customer.last_name", _("last name")),
    ("customer.full_name", _("first and last name")),
    ("program.name", _("programme name")),
    ("balance", _("available points now")),
    ("cabinet_url", _("link to the personal cabinet")),
    ("unsubscribe_url", _("one-click unsubscribe link (marketing email only)")),
)

COMMON_SAMPLE = {
    "customer": {"first_name": "Анна", "last_name": "Петрова", "full_name": "Анна Петрова"},
    "program": {"name": "Кофе Клуб", "code": "coffee"},
    "balance": Decimal("1250"),
    "cabinet_url": "https://example.com/cabinet/",
    "unsubscribe_url": "https://example.com/notifications/unsubscribe/…/",
}

_REGISTRY: dict[str, Event] = {}


def event_register(event: Event) -> Event:
    _REGISTRY[event.code] = event
    return event


def event_get(code: str) -> Event:
    try:
        return _REGISTRY[code]
    except KeyError:
        raise errors.ValidationFailed(fields={"event": [f"Unknown event {code!r}."]}) from None


def event_is_urgent(code: str) -> bool:
    event = _REGISTRY.get(code)
    return event is not None and event.urgent


def events_all() -> list[Event]:
    return sorted(_REGISTRY.values(), key=lambda e: e.code)


POINTS_EARNED = event_register(
    Event(
        code="points_earned",
        label=_("Points earned on a purchase"),
        variables=(
            ("points", _("points earned on this check")),
            ("pending", _("true when the points are held before they can be spent")),
            ("available_at", _("when held points become available")),
            ("check.receipt_number", _("receipt number")),
            ("check.amount", _("amount paid")),
            ("check.occurred_at", _("time of the purchase")),
        ),
        sample={
            "points": Decimal("45"),
            "pending": False,
            "available_at": _SAMPLE_DAY,
            "check": {
                "receipt_number": "A-1024",
                "amount": Decimal("900.00"),
                "occurred_at": _SAMPLE_DAY,
            },
        },
    )
)

POINTS_EXPIRING = event_register(
    Event(
        code="points_expiring",
        label=_("Points expiring soon (reminder)"),
        variables=(
            ("total", _("points expiring in the listed dates, in total")),
            ("items", _("list of {date, points}, soonest first")),
            ("first_date", _("the soonest expiry date")),
        ),
        sample={
            "total": Decimal("150"),
            "items": [
                {"date": _SAMPLE_DAY, "points": Decimal("100")},
                {"date": datetime(2026, 7, 7, 12, tzinfo=UTC), "points": Decimal("50")},
            ],
            "first_date": _SAMPLE_DAY,
        },
    )
)

TIER_UPGRADED = event_register(
    Event(
        code="tier_upgraded",
        label=_("Tier upgraded"),
        variables=(
            ("tier.name", _("the new tier")),
            ("tier.earn_percent", _("earn percent of the new tier")),
            ("tier.perks", _("perks of the new tier")),
            ("old_tier.name", _("the previous tier")),
        ),
        sample={
            "tier": {"name": "Золото", "code": "gold", "earn_percent": Decimal("10"), "perks": ""},
            "old_tier": {"name": "Серебро", "code": "silver"},
        },
    )
)

TIER_DOWNGRADED = event_register(
    Event(
        code="tier_downgraded",
        label=_("Tier downgraded"),
        variables=TIER_UPGRADED.variables,
        sample={
            "tier": {
                "name": "Серебро",
                "code": "silver",
                "earn_percent": Decimal("5"),
                "perks": "",
            },
            "old_tier": {"name": "Золото", "code": "gold"},
        },
    )
)

WELCOME = event_register(
    Event(
        code="welcome",
        label=_("Welcome to the programme"),
        variables=(("referral_code", _("the customer's referral code")),),
        sample={"referral_code": "K7M2QX9P"},
    )
)

CAMPAIGN = event_register(
    Event(
        code="campaign",
        label=_("Campaign message (text written in the campaign)"),
        variables=(
            ("title", _("campaign's message title")),
            ("text", _("campaign's message text")),
            ("campaign.name", _("campaign name")),
        ),
        sample={
            "title": "Двойные баллы на выходных",
            "text": "В субботу и воскресенье — ×2 баллов на весь кофе.",
            "campaign": {"name": "Выходные ×2"},
        },
        marketing=True,
    )
)

SIGNUP_CODE = event_register(
    Event(
        code="signup_code",
        label=_("Cabinet sign-up confirmation code"),
        variables=(
            ("code", _("the confirmation code")),
            ("minutes", _("minutes the code stays valid")),
        ),
        sample={"code": "482913", "minutes": 5},
        urgent=True,
        secret=True,
    )
)
