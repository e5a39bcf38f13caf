"""``manage.py create_api_key OUTLET_CODE --program CODE [--name NAME]``: prints only the key."""

from django.core.management.base import BaseCommand, CommandError

from loyalty.api.models import OutletAPIKey
from loyalty.rules.models import Outlet


class Command(BaseCommand):
    help = "Create a POS API key for an outlet and write the key (only) to stdout."

    def add_arguments(self, parser):
        parser.add_argument("outlet_code")
        parser.add_argument("--program", required=True, help="Programme code.")
        parser.add_argument("--name", default="", help="A name to recognise the key by.")

    def handle(self, *args, outlet_code, program, name, **options):
        outlet = Outlet.objects.filter(program__code=program, code=outlet_code).first()
        if outlet is None:
            raise CommandError(f"No outlet {outlet_code!r} in programme {program!r}.")
        _, key = OutletAPIKey.objects.create_key(
            outlet=outlet, name=(name or f"{program}/{outlet_code}")[:50]
        )
        self.stdout.write(key)
