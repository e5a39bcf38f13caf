"""The demo that `make run` shows: a Russian coffee chain with months of history.

Everything goes through the services a real installation uses: the programme through
``program_load`` (examples/programs/coffee.json plus two more outlets), customers through
``customer_enrol``, purchases through ``check_commit`` (so balances, lots, tiers and
notifications are real), a few returns through ``check_refund``. Running it again changes
nothing: the programme is loaded only when absent (a marketer may have edited it since),
customers are found by phone, and checks and refunds replay by their idempotency keys.
"""

import json
import os
import random
import secrets
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation

from core import errors
from loyalty.ledger import services
from loyalty.ledger.models import Check
from loyalty.ledger.services import check_commit, customer_enrol
from loyalty.rules.engine import LineInput
from loyalty.rules.models import Program
from loyalty.rules.program_io import program_load

EXAMPLE = Path(settings.BASE_DIR) / "examples" / "programs" / "coffee.json"
EXTRA_OUTLETS = [
    {"code": "msk-2", "name": "Арбат, 12", "channel": "offline"},
    {"code": "web", "name": "Сайт и приложение", "channel": "online"},
]
SOURCE = "demo"

FIRST = [
    ("Анна", "f"),
    ("Иван", "m"),
    ("Мария", "f"),
    ("Пётр", "m"),
    ("Ольга", "f"),
    ("Дмитрий", "m"),
    ("Елена", "f"),
    ("Сергей", "m"),
    ("Наталья", "f"),
    ("Алексей", "m"),
]
LAST = [
    ("Иванов", "Иванова"),
    ("Смирнов", "Смирнова"),
    ("Кузнецов", "Кузнецова"),
    ("Попов", "Попова"),
    ("Соколов", "Соколова"),
    ("Лебедев", "Лебедева"),
    ("Козлов", "Козлова"),
    ("Новиков", "Новикова"),
]
MENU = [
    ("LATTE", "coffee", "Латте", Decimal("250.00")),
    ("CAPPUCCINO", "coffee", "Капучино", Decimal("230.00")),
    ("ESPRESSO", "coffee", "Эспрессо", Decimal("150.00")),
    ("CROISSANT", "bakery", "Круассан", Decimal("180.00")),
    ("CHEESECAKE", "desserts", "Чизкейк", Decimal("320.00")),
    ("BEANS-1KG", "beans", "Зерно 1 кг", Decimal("1900.00")),
    ("CIGARETTES", "tobacco", "Сигареты", Decimal("220.00")),
]


def site_url(host: str, port: int) -> str:
    """Where a browser on this machine reaches a server bound to ``host:port``."""
    if host in ("", "0.0.0.0", "::"):  # bound to every interface: this machine is one of them
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host.strip('[]')}]"
    return f"http://{host}:{port}"


class Command(BaseCommand):
    help = "Load the demo programme, customers with purchase history, and a superuser."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=40)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--host",
            default=os.environ.get("HOST") or "127.0.0.1",
            help="host the web server listens on, for the printed URLs (env HOST)",
        )
        parser.add_argument(
            "--port",
            type=int,
            default=int(os.environ.get("PORT") or 8000),
            help="its port (env PORT)",
        )

    def handle(self, *args, customers, seed, host, port, **options):
        data = json.loads(EXAMPLE.read_text(encoding="utf-8"))
        program = Program.objects.filter(code=data["code"]).first()
        if program is None:
            data["outlets"] = data["outlets"] + EXTRA_OUTLETS
            program = program_load(data=data)
            self.stdout.write(f"Loaded the programme {program.code!r} from {EXAMPLE.name}.")
        if Check.objects.filter(program=program, account__isnull=False).exists():
            self.stdout.write("Demo customers and purchases are already there.")
        else:
            self._history(program, customers, random.Random(seed))
        credentials = self._credentials()
        username, password = credentials["admin"].split(" ", 1)
        self._superuser(username, password)
        api_key = self._api_key(program, credentials)
        site = site_url(host, port)
        with translation.override(settings.LANGUAGE_CODE):  # the unprefixed default language
            admin, cabinet = reverse("admin:index"), reverse("cabinet:dashboard")
        self.stdout.write(self.style.SUCCESS("Demo ready."))
        self.stdout.write(f"  admin:    {site}{admin}  user {username}  password {password}")
        self.stdout.write(f"  cabinet:  {site}{cabinet}")
        if api_key:
            self.stdout.write(f"  POS API:  outlet msk-1, header  Authorization: Api-Key {api_key}")
        self.stdout.write(f"  API docs: {site}{reverse('api-docs')}")

    # --- credentials ------------------------------------------------------------------------

    def _credentials_path(self) -> Path:
        return Path(settings.VAR_DIR) / "demo-credentials.json"

    def _credentials(self) -> dict:
        path = self._credentials_path()
        stored = json.loads(path.read_text()) if path.exists() else {}
        if "admin" not in stored:
            stored["admin"] = f"admin {secrets.token_urlsafe(12)}"
            self._save_credentials(stored)
        return stored

    def _save_credentials(self, stored: dict) -> None:
        path = self._credentials_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)

    def _superuser(self, username: str, password: str) -> None:
        User = get_user_model()
        user, _ = User.objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_superuser": True}
        )
        if not (user.check_password(password) and user.is_staff and user.is_superuser):
            user.set_password(password)
            user.is_staff = user.is_superuser = True
            user.save()

    def _api_key(self, program: Program, stored: dict) -> str | None:
        """A terminal key for the first outlet, if the POS API app provides keys."""
        config = next((c for c in apps.get_app_configs() if c.name == "loyalty.api"), None)
        try:
            key_model = config.get_model("OutletAPIKey") if config else None
        except LookupError:
            key_model = None
        if key_model is None:
            return None
        outlet = program.outlets.get(code="msk-1")
        key = stored.get("api_key")
        if key and key_model.objects.is_valid(key):
            return key
        # The library keeps only a hash: a key not in the credentials file is replaced.
        with transaction.atomic():
            key_model.objects.filter(outlet=outlet, name="demo").delete()
            _, key = key_model.objects.create_key(name="demo", outlet=outlet)
        stored["api_key"] = key
        self._save_credentials(stored)
        return key

    # --- history ----------------------------------------------------------------------------

    @transaction.atomic
    def _history(self, program: Program, count: int, rnd: random.Random) -> None:
        outlets = list(program.outlets.filter(is_active=True).order_by("code"))
        now = timezone.now().replace(microsecond=0)
        for n in range(count):
            registered = now - timedelta(days=rnd.randint(30, 180), minutes=rnd.randint(0, 600))
            first, gender = rnd.choice(FIRST)
            last = rnd.choice(LAST)[0 if gender == "m" else 1]
            customer, _, _ = customer_enrol(
                program=program,
                outlet=rnd.choice(outlets),
                phone=f"+7916{n:07d}",
                email=f"demo{n}@example.com",
                first_name=first,
                last_name=last,
                birth_date=(
                    now - timedelta(days=365 * rnd.randint(18, 60) + rnd.randint(0, 364))
                ).date(),
                consents={"email": rnd.random() < 0.7, "sms": rnd.random() < 0.5},
                now=registered,
            )
            # A few regulars spend enough to climb to silver (100 000) and gold (200 000).
            visits = rnd.randint(2, 14) if n % 10 else rnd.randint(40, 60)
            span = (now - registered).total_seconds()
            moments = sorted(
                registered + timedelta(seconds=rnd.uniform(60, span)) for _ in range(visits)
            )
            for v, at in enumerate(moments):
                big = n % 10 == 0
                self._visit(program, rnd.choice(outlets), customer, at, f"D{n}-{v}", rnd, big)
        for check in Check.objects.filter(program=program, account__isnull=False).order_by("id")[
            :3
        ]:
            services.check_refund(
                check=check,
                lines=[(0, Decimal("1"))],
                source=SOURCE,
                idempotency_key=f"refund-{check.receipt_number}",
                now=check.occurred_at + timedelta(hours=2),
            )

    def _visit(self, program, outlet, customer, at, receipt, rnd, big) -> None:
        lines = []
        for sku, category, name, price in rnd.sample(MENU, rnd.randint(1, 3)):
            qty = Decimal(rnd.randint(1, 2) if not big else rnd.randint(2, 4))
            lines.append(
                LineInput(
                    sku=sku,
                    category=category,
                    name=name,
                    quantity=qty,
                    price=price,
                    amount=qty * price,
                )
            )
        redeem = "max" if rnd.random() < 0.25 else None
        commit = {
            "program": program,
            "outlet": outlet,
            "customer": customer,
            "lines": lines,
            "receipt_number": receipt,
            "source": SOURCE,
            "idempotency_key": receipt,
            "now": at,
        }
        try:
            with transaction.atomic():
                check_commit(redeem=redeem, **commit)
        except (errors.RedeemNotAllowed, errors.InsufficientPoints):
            check_commit(redeem=None, **commit)
