from django.db import migrations

# Built-in segments: every programme has them (program is empty); marketers may edit their
# conditions or switch them off, and a later migration never overwrites an edit.
BUILTIN = [
    {
        "code": "new",
        "name": "Новые",
        "description": "Вступили в программу за последние 30 дней.",
        "conditions": {"all": [{"field": "registration_days", "op": "lte", "value": 30}]},
    },
    {
        "code": "regular",
        "name": "Постоянные",
        "description": "Не менее трёх покупок за последние 90 дней.",
        "conditions": {
            "all": [{"field": "frequency", "op": "gte", "value": 3, "period_days": 90}]
        },
    },
    {
        "code": "sleeping",
        "name": "Спящие",
        "description": "Покупали, но не были 90 дней и больше.",
        "conditions": {"all": [{"field": "recency_days", "op": "gte", "value": 90}]},
    },
    {
        "code": "vip",
        "name": "VIP",
        "description": "Потратили 50 000 ₽ и больше за последний год.",
        "conditions": {
            "all": [{"field": "monetary", "op": "gte", "value": "50000", "period_days": 365}]
        },
    },
]


def install(apps, schema_editor):
    Segment = apps.get_model("campaigns", "Segment")
    for spec in BUILTIN:
        Segment.objects.get_or_create(
            program=None,
            code=spec["code"],
            defaults={
                "name": spec["name"],
                "description": spec["description"],
                "conditions": spec["conditions"],
                "is_builtin": True,
            },
        )
    from campaigns.notices import DEFAULTS
    from notifications.defaults import install_default_templates

    install_default_templates(apps.get_model("notifications", "Template"), templates=DEFAULTS)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0001_initial"),
        ("notifications", "0002_default_templates"),
    ]

    operations = [
        migrations.RunPython(install, migrations.RunPython.noop),
    ]
