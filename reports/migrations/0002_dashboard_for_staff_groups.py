"""The marketer and analyst groups (core.0002) read the reports dashboard."""

from django.db import migrations

GROUPS = ("marketer", "analyst")


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("reports")
    app_config.models_module = True  # as core.0002: permissions exist only after migrate
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.get(
        content_type__app_label="reports", codename="view_dashboard"
    )
    for name in GROUPS:
        group, _created = Group.objects.get_or_create(name=name)
        group.permissions.add(permission)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name__in=GROUPS):
        group.permissions.remove(
            *group.permissions.filter(content_type__app_label="reports", codename="view_dashboard")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_daily_aggregates"),
        ("core", "0002_staff_groups"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
