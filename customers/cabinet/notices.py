"""The sign-up confirmation SMS: its event and the templates shipped for it.

The event is registered when this module is imported (the cabinet's URLconf imports it). No app
migration ships the templates (the cabinet owns no app), so ``signup_templates_ensure`` creates
the missing defaults on first use; a marketer's edits to them survive, as with every default.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from notifications.defaults import DefaultTemplate
from notifications.events import Event, event_register
from notifications.models import Template

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
    )
)

DEFAULTS: tuple[DefaultTemplate, ...] = (
    DefaultTemplate(
        "signup_code",
        "sms",
        "ru",
        "",
        "{{ program.name|default:'Kopilka' }}: код для входа в личный кабинет {{ code }}. "
        "Действует {{ minutes }} мин. Никому его не сообщайте.",
    ),
    DefaultTemplate(
        "signup_code",
        "sms",
        "en",
        "",
        "{{ program.name|default:'Kopilka' }}: your cabinet sign-up code is {{ code }}. "
        "Valid for {{ minutes }} min. Do not share it.",
    ),
)


def signup_templates_ensure() -> None:
    """Create the default sign-up templates that do not exist yet (one query when they do)."""
    existing = set(
        Template.objects.filter(event=SIGNUP_CODE.code, program=None).values_list(
            "channel", "language"
        )
    )
    for spec in DEFAULTS:
        if (spec.channel, spec.language) not in existing:
            Template.objects.get_or_create(
                event=spec.event,
                channel=spec.channel,
                language=spec.language,
                program=None,
                defaults={"subject": spec.subject, "body": spec.body, "is_active": spec.is_active},
            )
