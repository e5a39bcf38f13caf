from django.core.management.base import BaseCommand

from core.sync import schedules_sync


class Command(BaseCommand):
    help = (
        "Upsert the system schedules (core/schedule.py) into django-celery-beat by name: create "
        "missing entries, correct task paths; times edited by staff in the admin are kept."
    )

    def handle(self, *args, **options):
        result = schedules_sync()
        for label, names in (("created", result.created), ("updated", result.updated)):
            for name in names:
                self.stdout.write(f"{label}: {name}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(result.created)} created, {len(result.updated)} updated, "
                f"{len(result.unchanged)} unchanged"
            )
        )
