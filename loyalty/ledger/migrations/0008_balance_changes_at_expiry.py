"""The cached balance now also changes when a positive lot expires (selectors.lots_balance).

``Account.pending_release_at`` becomes the next moment the balance changes by time alone: a
pending lot matures *or* a positive lot expires. Existing rows only knew maturities, so the
earliest expiry of each account's positive lots is folded in; readers then recompute the
balance from the lots once it passes, as they do for maturities.
"""

from django.db import migrations
from django.db.models import F, Min, OuterRef, Subquery
from django.db.models.functions import Coalesce, Least


def forwards(apps, schema_editor):
    Account = apps.get_model("ledger", "Account")
    Lot = apps.get_model("ledger", "Lot")
    next_expiry = Subquery(
        Lot.objects.filter(account=OuterRef("pk"), remaining__gt=0, expires_at__isnull=False)
        .values("account")
        .annotate(first=Min("expires_at"))
        .values("first")[:1]
    )
    Account.objects.filter(pending_release_at__isnull=True).update(pending_release_at=next_expiry)
    Account.objects.filter(pending_release_at__isnull=False).update(
        pending_release_at=Least(
            F("pending_release_at"), Coalesce(next_expiry, F("pending_release_at"))
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0007_operation_kinds_hold_release_reward"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
