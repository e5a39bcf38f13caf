"""The message events campaigns and triggers send, and the templates shipped for them.

Registered with the notifications registry in ``CampaignsConfig.ready()``; the default
templates are installed by a data migration through ``notifications.defaults``
(only those missing, so edits survive).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from notifications.defaults import DefaultTemplate
from notifications.events import Event, event_register

_SAMPLE_DAY = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)

BIRTHDAY = Event(
    code="birthday_bonus",
    label=_("Birthday bonus"),
    variables=(
        ("points", _("bonus points")),
        ("expires_at", _("when the bonus points expire (may be empty)")),
        ("birthday", _("the birthday being celebrated")),
    ),
    sample={"points": Decimal("500"), "expires_at": _SAMPLE_DAY, "birthday": _SAMPLE_DAY.date()},
)

WIN_BACK = Event(
    code="win_back",
    label=_("Win-back bonus for a customer who stopped buying"),
    variables=(
        ("points", _("bonus points")),
        ("expires_at", _("when the bonus points expire (may be empty)")),
        ("days", _("days since the last purchase")),
    ),
    sample={"points": Decimal("300"), "expires_at": _SAMPLE_DAY, "days": 90},
    marketing=True,
)

REFERRAL = Event(
    code="referral_bonus",
    label=_("Referral bonus"),
    variables=(
        ("points", _("bonus points")),
        ("friend", _("true for the new customer, false for the one who invited them")),
    ),
    sample={"points": Decimal("200"), "friend": False},
)

EVENTS = (BIRTHDAY, WIN_BACK, REFERRAL)


def register_events() -> None:
    for event in EVENTS:
        event_register(event)


DEFAULTS: tuple[DefaultTemplate, ...] = (
    DefaultTemplate(
        "birthday_bonus",
        "email",
        "ru",
        "С днём рождения! Вам {{ points }} баллов",
        "{{ customer.first_name|default:'Здравствуйте' }}, с днём рождения!\n\n"
        "Дарим вам {{ points }} баллов"
        "{% if expires_at %} — потратьте их до {{ expires_at|date:'d.m.Y' }}{% endif %}.\n"
        "Доступно: {{ balance }} баллов.\n\n{{ cabinet_url }}\n{{ program.name }}",
    ),
    DefaultTemplate(
        "birthday_bonus",
        "email",
        "en",
        "Happy birthday! {{ points }} points for you",
        "{{ customer.first_name|default:'Hello' }}, happy birthday!\n\n"
        "Here are {{ points }} points"
        "{% if expires_at %} — spend them by {{ expires_at|date:'j M Y' }}{% endif %}.\n"
        "Available: {{ balance }} points.\n\n{{ cabinet_url }}\n{{ program.name }}",
    ),
    DefaultTemplate(
        "birthday_bonus",
        "sms",
        "ru",
        "",
        "{{ program.name }}: с днём рождения! +{{ points }} баллов"
        "{% if expires_at %} до {{ expires_at|date:'d.m' }}{% endif %}.",
    ),
    DefaultTemplate(
        "birthday_bonus",
        "sms",
        "en",
        "",
        "{{ program.name }}: happy birthday! +{{ points }} points"
        "{% if expires_at %} until {{ expires_at|date:'j M' }}{% endif %}.",
    ),
    DefaultTemplate(
        "birthday_bonus", "cabinet", "ru", "С днём рождения!", "Вам начислено {{ points }} баллов."
    ),
    DefaultTemplate(
        "birthday_bonus", "cabinet", "en", "Happy birthday!", "You received {{ points }} points."
    ),
    DefaultTemplate(
        "win_back",
        "email",
        "ru",
        "Мы скучаем: {{ points }} баллов для вас",
        "{{ customer.first_name|default:'Здравствуйте' }}, давно не виделись!\n\n"
        "Мы начислили вам {{ points }} баллов"
        "{% if expires_at %} — они действуют до {{ expires_at|date:'d.m.Y' }}{% endif %}.\n\n"
        "{{ cabinet_url }}\n{{ program.name }}\n\n"
        "Отписаться: {{ unsubscribe_url }}",
    ),
    DefaultTemplate(
        "win_back",
        "email",
        "en",
        "We miss you: {{ points }} points for you",
        "{{ customer.first_name|default:'Hello' }}, it has been a while!\n\n"
        "We added {{ points }} points to your account"
        "{% if expires_at %}; they are valid until {{ expires_at|date:'j M Y' }}{% endif %}.\n\n"
        "{{ cabinet_url }}\n{{ program.name }}\n\nUnsubscribe: {{ unsubscribe_url }}",
    ),
    DefaultTemplate(
        "win_back",
        "sms",
        "ru",
        "",
        "{{ program.name }}: скучаем! +{{ points }} баллов"
        "{% if expires_at %} до {{ expires_at|date:'d.m' }}{% endif %}.",
    ),
    DefaultTemplate(
        "win_back",
        "sms",
        "en",
        "",
        "{{ program.name }}: we miss you! +{{ points }} points"
        "{% if expires_at %} until {{ expires_at|date:'j M' }}{% endif %}.",
    ),
    DefaultTemplate(
        "referral_bonus",
        "email",
        "ru",
        "Вам {{ points }} баллов за приглашение",
        "{{ customer.first_name|default:'Здравствуйте' }}, "
        "{% if friend %}спасибо за первую покупку по приглашению!"
        "{% else %}ваш друг совершил первую покупку!{% endif %}\n\n"
        "Вам начислено {{ points }} баллов. Доступно: {{ balance }}.\n\n"
        "{{ cabinet_url }}\n{{ program.name }}",
    ),
    DefaultTemplate(
        "referral_bonus",
        "email",
        "en",
        "{{ points }} points for a referral",
        "{{ customer.first_name|default:'Hello' }}, "
        "{% if friend %}thank you for your first purchase!"
        "{% else %}the friend you invited made their first purchase!{% endif %}\n\n"
        "You received {{ points }} points. Available: {{ balance }}.\n\n"
        "{{ cabinet_url }}\n{{ program.name }}",
    ),
    DefaultTemplate(
        "referral_bonus",
        "cabinet",
        "ru",
        "Баллы за приглашение",
        "Вам начислено {{ points }} баллов.",
    ),
    DefaultTemplate(
        "referral_bonus",
        "cabinet",
        "en",
        "Referral points",
        "You received {{ points }} points.",
    ),
)
