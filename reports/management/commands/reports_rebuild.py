"""manage.py reports_rebuild --from YYYY-MM-DD --to YYYY-MM-DD [--program CODE]"""

import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core import errors
from loyalty.rules.models import Program
from reports.periods import Period, parse_day
from reports.services import aggregates_rebuild


class Command(BaseCommand):
    help = "Recompute the stored daily report aggregates of past days (safe to re-run)."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", required=True, help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="last", required=True, help="last day, YYYY-MM-DD")
        parser.add_argument("--program", help="programme code (default: every programme)")

    def handle(self, *args, first, last, program, **opts):
        try:
            period = Period(parse_day(first, "from"), parse_day(last, "to"))
        except errors.ValidationFailed as exc:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in exc.fields.items())
            ) from None
        programs = Program.objects.order_by("pk")
        if program:
            programs = programs.filter(code=program)
            if not programs.exists():
                raise CommandError(f"--program: no programme {program!r}.")
        now = timezone.now()
        for each in programs:
            started = time.monotonic()
            result = aggregates_rebuild(program=each, first=period.first, last=period.last, now=now)
            self.stdout.write(
                f"{each.code}: {result.days} days, {result.months} months, "
                f"{result.member_rows} member rows in {time.monotonic() - started:.1f} s"
            )
