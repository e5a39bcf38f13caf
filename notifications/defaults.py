"""The templates Kopilka ships (Russian and English), installed by a data migration.

A number of points is always followed by ``{{ value|points_unit }}`` (core.templatetags.kopilka,
built into the messages' template engine), which gives the word in the form that number needs in
the message's language: 1 балл, 2 балла, 5 баллов; 1 point, 5 points.

``install_default_templates`` only creates what is missing, so a marketer's edits survive and a
later migration can add new defaults by calling it again. SMS on every purchase costs money, so
that one ships switched off.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from notifications.models import Template


@dataclass(frozen=True)
class DefaultTemplate:
    event: str
    channel: str
    language: str
    subject: str
    body: str
    is_active: bool = True


_EXPIRING_LIST_RU = (
    "{% for item in items %}— {{ item.points }} {{ item.points|points_unit }} — "
    "{{ item.date|date:'d.m.Y' }}\n{% endfor %}"
)
_EXPIRING_LIST_EN = (
    "{% for item in items %}- {{ item.points }} {{ item.points|points_unit }} on "
    "{{ item.date|date:'j M Y' }}\n"
    "{% endfor %}"
)

DEFAULTS: tuple[DefaultTemplate, ...] = (
    # --- points earned -------------------------------------------------------------------------
    DefaultTemplate(
        "points_earned",
        "email",
        "ru",
        "+{{ points }} {{ points|points_unit }} за покупку",
        "{{ customer.first_name|default:'Здравствуйте' }}, спасибо за покупку!\n\n"
        "За чек {{ check.receipt_number }} на {{ check.amount }} ₽ вы получаете {{ points }} "
        "{{ points|points_unit }}{% if pending %}; они станут доступны "
        "{{ available_at|date:'d.m.Y' }}{% endif %}.\n"
        "Доступно сейчас: {{ balance }} {{ balance|points_unit }}.\n\n"
        "Личный кабинет: {{ cabinet_url }}\n{{ program.name }}",
    ),
    DefaultTemplate(
        "points_earned",
        "email",
        "en",
        "You earned {{ points }} {{ points|points_unit }}",
        "{{ customer.first_name|default:'Hello' }}, thank you for your purchase!\n\n"
        "Receipt {{ check.receipt_number }} ({{ check.amount }}) earned you {{ points }} "
        "{{ points|points_unit }}{% if pending %}; they become available on "
        "{{ available_at|date:'j M Y' }}{% endif %}.\n"
        "Available now: {{ balance }} {{ balance|points_unit }}.\n\n"
        "Your account: {{ cabinet_url }}\n{{ program.name }}",
    ),
    DefaultTemplate(
        "points_earned",
        "sms",
        "ru",
        "",
        "{{ program.name }}: +{{ points }} {{ points|points_unit }} за покупку. "
        "Доступно: {{ balance }}.",
        is_active=False,
    ),
    DefaultTemplate(
        "points_earned",
        "sms",
        "en",
        "",
        "{{ program.name }}: +{{ points }} {{ points|points_unit }} for your purchase. "
        "Available: {{ balance }}.",
        is_active=False,
    ),
    DefaultTemplate(
        "points_earned",
        "cabinet",
        "ru",
        "+{{ points }} {{ points|points_unit }}",
        "За покупку по чеку {{ check.receipt_number }}: +{{ points }} {{ points|points_unit }}"
        "{% if pending %}, доступны с {{ available_at|date:'d.m.Y' }}{% endif %}.",
    ),
    DefaultTemplate(
        "points_earned",
        "cabinet",
        "en",
        "+{{ points }} {{ points|points_unit }}",
        "Receipt {{ check.receipt_number }} earned you {{ points }} {{ points|points_unit }}"
        "{% if pending %}, available from {{ available_at|date:'j M Y' }}{% endif %}.",
    ),
    # --- points expiring -----------------------------------------------------------------------
    DefaultTemplate(
        "points_expiring",
        "email",
        "ru",
        "Скоро сгорают баллы: {{ total }} {{ total|points_unit }}",
        "{{ customer.first_name|default:'Здравствуйте' }}, у вас скоро сгорят баллы:\n\n"
        + _EXPIRING_LIST_RU
        + "\nПотратьте их при следующей покупке. Доступно сейчас: {{ balance }} "
        "{{ balance|points_unit }}.\n\n"
        "{{ cabinet_url }}\n{{ program.name }}",
    ),
    DefaultTemplate(
        "points_expiring",
        "email",
        "en",
        "{{ total }} {{ total|points_unit }} expire soon",
        "{{ customer.first_name|default:'Hello' }}, some of your points expire soon:\n\n"
        + _EXPIRING_LIST_EN
        + "\nSpend them on your next purchase. Available now: {{ balance }} "
        "{{ balance|points_unit }}.\n\n"
        "{{ cabinet_url }}\n{{ program.name }}",
    ),
    DefaultTemplate(
        "points_expiring",
        "sms",
        "ru",
        "",
        "{{ program.name }}: с {{ first_date|date:'d.m' }} сгорают баллы: {{ total }} "
        "{{ total|points_unit }}. Успейте потратить!",
    ),
    DefaultTemplate(
        "points_expiring",
        "sms",
        "en",
        "",
        "{{ program.name }}: {{ total }} {{ total|points_unit }} expire from "
        "{{ first_date|date:'j M' }}. "
        "Spend them soon!",
    ),
    DefaultTemplate(
        "points_expiring",
        "cabinet",
        "ru",
        "Скоро сгорают баллы: {{ total }} {{ total|points_unit }}",
        _EXPIRING_LIST_RU,
    ),
    DefaultTemplate(
        "points_expiring",
        "cabinet",
        "en",
        "{{ total }} {{ total|points_unit }} expire soon",
        _EXPIRING_LIST_EN,
    ),
    # --- tiers ---------------------------------------------------------------------------------
    DefaultTemplate(
        "tier_upgraded",
        "email",
        "ru",
        "Новый статус: {{ tier.name }}",
        "{{ customer.first_name|default:'Здравствуйте' }}, поздравляем!\n\n"
        "Ваш статус теперь «{{ tier.name }}»: {{ tier.earn_percent }}% баллами с покупок."
        "{% if tier.perks %}\n{{ tier.perks }}{% endif %}\n\n{{ cabinet_url }}\n{{ program.name }}",
    ),
    DefaultTemplate(
        "tier_upgraded",
        "email",
        "en",
        "Your new status: {{ tier.name }}",
        "{{ customer.first_name|default:'Hello' }}, congratulations!\n\n"
        "Your status is now {{ tier.name }}: {{ tier.earn_percent }}% back in points."
        "{% if tier.perks %}\n{{ tier.perks }}{% endif %}\n\n{{ cabinet_url }}\n{{ program.name }}",
    ),
    DefaultTemplate(
        "tier_upgraded",
        "sms",
        "ru",
        "",
        "{{ program.name }}: ваш новый статус — {{ tier.name }}, {{ tier.earn_percent }}% баллами.",
        is_active=False,
    ),
    DefaultTemplate(
        "tier_upgraded",
        "sms",
        "en",
        "",
        "{{ program.name }}: your new status is {{ tier.name }}, {{ tier.earn_percent }}% back.",
        is_active=False,
    ),
    DefaultTemplate(
        "tier_upgraded",
        "cabinet",
        "ru",
        "Новый статус: {{ tier.name }}",
        "Теперь вы получаете {{ tier.earn_percent }}% баллами с покупок.",
    ),
    DefaultTemplate(
        "tier_upgraded",
        "cabinet",
        "en",
        "New status: {{ tier.name }}",
        "You now earn {{ tier.earn_percent }}% back in points.",
    ),
    DefaultTemplate(
        "tier_downgraded",
        "email",
        "ru",
        "Ваш статус изменился: {{ tier.name }}",
        "{{ customer.first_name|default:'Здравствуйте' }}, за последний период покупок не хватило "
        "для статуса «{{ old_tier.name }}», и теперь ваш статус — «{{ tier.name }}» "
        "({{ tier.earn_percent }}% баллами).\nВернуть статус можно новыми покупками.\n\n"
        "{{ cabinet_url }}\n{{ program.name }}",
    ),
    DefaultTemplate(
        "tier_downgraded",
        "email",
        "en",
        "Your status changed to {{ tier.name }}",
        "{{ customer.first_name|default:'Hello' }}, your purchases over the last period did not "
        "keep the {{ old_tier.name }} status; your status is now {{ tier.name }} "
        "({{ tier.earn_percent }}% back).\nNew purchases will bring it back.\n\n"
        "{{ cabinet_url }}\n{{ program.name }}",
    ),
    DefaultTemplate(
        "tier_downgraded",
        "cabinet",
        "ru",
        "Статус изменился: {{ tier.name }}",
        "Ваш статус теперь «{{ tier.name }}» ({{ tier.earn_percent }}% баллами).",
    ),
    DefaultTemplate(
        "tier_downgraded",
        "cabinet",
        "en",
        "Status changed: {{ tier.name }}",
        "Your status is now {{ tier.name }} ({{ tier.earn_percent }}% back).",
    ),
    # --- welcome -------------------------------------------------------------------------------
    DefaultTemplate(
        "welcome",
        "email",
        "ru",
        "Добро пожаловать в {{ program.name }}",
        "{{ customer.first_name|default:'Здравствуйте' }}, вы в программе «{{ program.name }}»!\n\n"
        "Копите баллы с каждой покупки и оплачивайте ими следующие.\n"
        "Пригласите друга по коду {{ referral_code }}.\n\nЛичный кабинет: {{ cabinet_url }}",
    ),
    DefaultTemplate(
        "welcome",
        "email",
        "en",
        "Welcome to {{ program.name }}",
        "{{ customer.first_name|default:'Hello' }}, you have joined {{ program.name }}!\n\n"
        "Earn points on every purchase and pay with them next time.\n"
        "Invite a friend with the code {{ referral_code }}.\n\nYour account: {{ cabinet_url }}",
    ),
    DefaultTemplate(
        "welcome",
        "sms",
        "ru",
        "",
        "Добро пожаловать в {{ program.name }}! Баллы копятся с каждой покупки: {{ cabinet_url }}",
    ),
    DefaultTemplate(
        "welcome",
        "sms",
        "en",
        "",
        "Welcome to {{ program.name }}! Earn points on every purchase: {{ cabinet_url }}",
    ),
    DefaultTemplate(
        "welcome",
        "cabinet",
        "ru",
        "Добро пожаловать!",
        "Баллы копятся с каждой покупки. Ваш код для друзей: {{ referral_code }}.",
    ),
    DefaultTemplate(
        "welcome",
        "cabinet",
        "en",
        "Welcome!",
        "You earn points on every purchase. Your code for friends: {{ referral_code }}.",
    ),
    # --- campaigns (text comes from the campaign) ----------------------------------------------
    DefaultTemplate("campaign", "email", "ru", "{{ title }}", "{{ text }}\n\n{{ program.name }}"),
    DefaultTemplate("campaign", "email", "en", "{{ title }}", "{{ text }}\n\n{{ program.name }}"),
    DefaultTemplate("campaign", "sms", "ru", "", "{{ program.name }}: {{ text }}"),
    DefaultTemplate("campaign", "sms", "en", "", "{{ program.name }}: {{ text }}"),
    DefaultTemplate("campaign", "cabinet", "ru", "{{ title }}", "{{ text }}"),
    DefaultTemplate("campaign", "cabinet", "en", "{{ title }}", "{{ text }}"),
    # --- cabinet sign-up code (SMS only: it proves the customer holds the phone) --------------
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


def install_default_templates(
    template_model=None, *, templates: Iterable[DefaultTemplate] = DEFAULTS
) -> int:
    """Create the default templates that do not exist yet; returns how many were created.

    ``template_model`` is the historical model inside a migration (the real one otherwise);
    ``templates`` another app's defaults (campaigns ships those of its events through here).
    """
    model = template_model if template_model is not None else Template
    created = 0
    for spec in templates:
        _, was_created = model.objects.get_or_create(
            event=spec.event,
            channel=spec.channel,
            language=spec.language,
            program=None,
            defaults={"subject": spec.subject, "body": spec.body, "is_active": spec.is_active},
        )
        created += was_created
    return created
