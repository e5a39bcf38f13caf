"""The shipped points messages with the word "points" agreeing with the number.

Rows still holding the text of an earlier release ("начислено 122 баллов") get the new default
(«+122 балла», ``{{ points|points_unit }}``); a template a marketer edited is left as it is.
"""

from django.db import migrations

# The texts as shipped before, by (event, channel, language): (subject, body).
PREVIOUS = {
    ('points_earned', 'email', 'ru'): (
        'Вам начислено {{ points }} баллов',
        "{{ customer.first_name|default:'Здравствуйте' }}, спасибо за покупку!\n\nЗа чек {{ check.receipt_number }} на {{ check.amount }} ₽ вам начислено {{ points }} баллов{% if pending %}; они станут доступны {{ available_at|date:'d.m.Y' }}{% endif %}.\nДоступно сейчас: {{ balance }} баллов.\n\nЛичный кабинет: {{ cabinet_url }}\n{{ program.name }}",
    ),
    ('points_earned', 'email', 'en'): (
        'You earned {{ points }} points',
        "{{ customer.first_name|default:'Hello' }}, thank you for your purchase!\n\nReceipt {{ check.receipt_number }} ({{ check.amount }}) earned you {{ points }} points{% if pending %}; they become available on {{ available_at|date:'j M Y' }}{% endif %}.\nAvailable now: {{ balance }} points.\n\nYour account: {{ cabinet_url }}\n{{ program.name }}",
    ),
    ('points_earned', 'sms', 'ru'): (
        '',
        '{{ program.name }}: +{{ points }} баллов за покупку. Доступно: {{ balance }}.',
    ),
    ('points_earned', 'sms', 'en'): (
        '',
        '{{ program.name }}: +{{ points }} points for your purchase. Available: {{ balance }}.',
    ),
    ('points_earned', 'cabinet', 'ru'): (
        '+{{ points }} баллов',
        "За покупку по чеку {{ check.receipt_number }} начислено {{ points }} баллов{% if pending %}, доступны с {{ available_at|date:'d.m.Y' }}{% endif %}.",
    ),
    ('points_earned', 'cabinet', 'en'): (
        '+{{ points }} points',
        "Receipt {{ check.receipt_number }} earned you {{ points }} points{% if pending %}, available from {{ available_at|date:'j M Y' }}{% endif %}.",
    ),
    ('points_expiring', 'email', 'ru'): (
        'Скоро сгорят {{ total }} баллов',
        "{{ customer.first_name|default:'Здравствуйте' }}, у вас скоро сгорят баллы:\n\n{% for item in items %}— {{ item.points }} баллов — {{ item.date|date:'d.m.Y' }}\n{% endfor %}\nПотратьте их при следующей покупке. Доступно сейчас: {{ balance }} баллов.\n\n{{ cabinet_url }}\n{{ program.name }}",
    ),
    ('points_expiring', 'email', 'en'): (
        '{{ total }} points expire soon',
        "{{ customer.first_name|default:'Hello' }}, some of your points expire soon:\n\n{% for item in items %}- {{ item.points }} points on {{ item.date|date:'j M Y' }}\n{% endfor %}\nSpend them on your next purchase. Available now: {{ balance }} points.\n\n{{ cabinet_url }}\n{{ program.name }}",
    ),
    ('points_expiring', 'sms', 'ru'): (
        '',
        "{{ program.name }}: {{ total }} баллов сгорят с {{ first_date|date:'d.m' }}. Успейте потратить!",
    ),
    ('points_expiring', 'sms', 'en'): (
        '',
        "{{ program.name }}: {{ total }} points expire from {{ first_date|date:'j M' }}. Spend them soon!",
    ),
    ('points_expiring', 'cabinet', 'ru'): (
        'Скоро сгорят {{ total }} баллов',
        "{% for item in items %}— {{ item.points }} баллов — {{ item.date|date:'d.m.Y' }}\n{% endfor %}",
    ),
    ('points_expiring', 'cabinet', 'en'): (
        '{{ total }} points expire soon',
        "{% for item in items %}- {{ item.points }} points on {{ item.date|date:'j M Y' }}\n{% endfor %}",
    ),
}


def update(apps, schema_editor):
    from notifications.defaults import DEFAULTS

    template = apps.get_model("notifications", "Template")
    current = {(d.event, d.channel, d.language): d for d in DEFAULTS}
    for key, (subject, body) in PREVIOUS.items():
        new = current[key]
        template.objects.filter(
            event=key[0], channel=key[1], language=key[2], program=None, subject=subject, body=body
        ).update(subject=new.subject, body=new.body)


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0003_signup_code_templates"),
    ]

    operations = [
        migrations.RunPython(update, migrations.RunPython.noop),
    ]
