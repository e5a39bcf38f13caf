"""The cabinet sign-up code SMS templates (ru, en) for databases migrated before they shipped.

``install_default_templates`` creates only what is missing, so rows created earlier (the
cabinet used to create them on first use) and a marketer's edits stay as they are.
"""

from django.db import migrations


def install(apps, schema_editor):
    from notifications.defaults import install_default_templates

    install_default_templates(apps.get_model("notifications", "Template"))


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0002_default_templates"),
    ]

    operations = [
        migrations.RunPython(install, migrations.RunPython.noop),
    ]
