from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from loyalty.ledger.services import ledger_reconcile


class Command(BaseCommand):
    help = "Check the ledger invariants; print every discrepancy and exit non-zero if any."

    def add_arguments(self, parser):
        parser.add_argument("--account", type=int, action="append", help="account id (repeatable)")

    def handle(self, *args, account=None, **options):
        found = ledger_reconcile(now=timezone.now(), account_ids=account)
        for discrepancy in found:
            self.stdout.write(str(discrepancy))
        if found:
            raise CommandError(f"{len(found)} discrepancies found")
        self.stdout.write(self.style.SUCCESS("Ledger consistent."))
