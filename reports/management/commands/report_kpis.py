"""manage.py report_kpis CODE --from YYYY-MM-DD --to YYYY-MM-DD [--format json|csv] [--live]"""

import csv
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core import errors
from loyalty.rules.models import Program
from reports.periods import Period, parse_day
from reports.selectors.kpis import flatten, jsonable, program_kpis


def _message(exc: errors.ValidationFailed) -> str:
    return "; ".join(f"{name}: {' '.join(map(str, msgs))}" for name, msgs in exc.fields.items())


class Command(BaseCommand):
    help = "Print the programme's KPIs for a period (docs/reports.md), as JSON or CSV."

    def add_arguments(self, parser):
        parser.add_argument("code", help="programme code")
        parser.add_argument("--from", dest="first", required=True, help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="last", required=True, help="last day, YYYY-MM-DD")
        parser.add_argument("--format", choices=["json", "csv"], default="json")
        parser.add_argument("--live", action="store_true", help="compute every day from the ledger")

    def handle(self, *args, code, first, last, format, live, **opts):
        program = Program.objects.filter(code=code).first()
        if program is None:
            raise CommandError(f"code: no programme {code!r}.")
        try:
            period = Period(parse_day(first, "from"), parse_day(last, "to"))
        except errors.ValidationFailed as exc:
            raise CommandError(_message(exc)) from None
        data = jsonable(program_kpis(program=program, period=period, now=timezone.now(), live=live))
        if format == "json":
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
            return
        writer = csv.writer(self.stdout, lineterminator="\n")
        writer.writerow(["kpi", "value"])
        for key, value in flatten(data):
            writer.writerow([key, "" if value is None else value])
