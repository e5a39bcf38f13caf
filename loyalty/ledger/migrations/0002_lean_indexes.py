"""Leaner ledger indexes (issue 5, point expiry): every row written costs an entry per index.

* ``lot.restored_from``: indexed only where set (almost never), instead of a full index that
  held a NULL entry for every lot and took a write on every non-HOT update of ``remaining``.
* ``operation.account``: its own index dropped; ``(account, -id)`` serves every lookup by
  account, the PROTECT check included.

Only the indexes change. A plain ``AlterField(db_index=False)`` would make Django drop and
re-create the foreign keys, re-validating them over the whole table under a lock that stops
writers; the database side here drops the indexes by name and leaves the constraints alone.
"""

import django.db.models.deletion
from django.db import migrations, models

LOT_RESTORED_FROM = "ledger_lot_restored_from_id_c132b4b1"
OPERATION_ACCOUNT = "ledger_operation_account_id_d99bb10c"


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="lot",
                    name="restored_from",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="restorations",
                        to="ledger.lot",
                        verbose_name="restored from",
                    ),
                ),
                migrations.AlterField(
                    model_name="operation",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="operations",
                        to="ledger.account",
                        verbose_name="account",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{LOT_RESTORED_FROM}"',
                    f'CREATE INDEX "{LOT_RESTORED_FROM}" ON "ledger_lot" ("restored_from_id")',
                ),
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{OPERATION_ACCOUNT}"',
                    f'CREATE INDEX "{OPERATION_ACCOUNT}" ON "ledger_operation" ("account_id")',
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="lot",
            index=models.Index(
                condition=models.Q(("restored_from__isnull", False)),
                fields=["restored_from"],
                name="lot_restored_from",
            ),
        ),
    ]
