"""`manage.py dump_program CODE`: write a programme's definition as JSON to stdout."""

import json

from django.core.management.base import BaseCommand, CommandError

from loyalty.rules.models import Program
from loyalty.rules.program_io import program_dump


class Command(BaseCommand):
    help = "Write a programme as a JSON definition (docs/programme-format.md) to stdout."

    def add_arguments(self, parser):
        parser.add_argument("code")

    def handle(self, *args, code: str, **options):
        program = Program.objects.filter(code=code).first()
        if program is None:
            raise CommandError(f"No programme with code {code!r}.")
        data = program_dump(program=program)
        self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
