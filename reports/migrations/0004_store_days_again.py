"""Days stored before the activity cells existed have no visits or cells: forget them all.

Readers compute every day not stored live (correct, only slower), and the next nightly job,
with no aggregation state, stores the whole history again with its visits and cells (ADR 0012).
"""

from django.db import migrations

TABLES = ("ProgramDay", "OutletDay", "MemberDay", "CampaignDay", "CohortMonth", "AggregationState")


def forget_stored_days(apps, schema_editor):
    for name in TABLES:
        apps.get_model("reports", name).objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("reports", "0003_activity_cells")]

    operations = [migrations.RunPython(forget_stored_days, migrations.RunPython.noop)]
