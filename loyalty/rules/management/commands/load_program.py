"""`manage.py load_program FILE.json`: create or update a programme from its definition."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core import errors
from loyalty.rules.program_io import program_load


class Command(BaseCommand):
    help = "Create or update a programme from a JSON definition (docs/programme-format.md)."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise CommandError(f"{file} is not valid JSON: {exc}") from None
        try:
            program = program_load(data=data)
        except errors.ValidationFailed as exc:
            lines = [f"{file}: {exc.detail} Nothing was changed."]
            for path, messages in (exc.fields or {}).items():
                lines.extend(f"  {path}: {message}" for message in messages)
            raise CommandError("\n".join(lines)) from None
        self.stdout.write(self.style.SUCCESS(f"Loaded programme {program.code!r}."))
