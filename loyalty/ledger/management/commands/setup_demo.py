"""The demo that `make run` shows: a Russian coffee chain with months of history."""

import json
import random
import secrets
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from customers.models import Customer
from loyalty import errors
from loyalty.ledger import services
from loyalty.ledger.checks import check_commit
from loyalty.ledger.models import Check
from loyalty.rules.engine import LineInput
from loyalty.rules.models import Program
from loyalty.rules.program_io import program_load

EXAMPLE = Path(settings.BASE_DIR) / "examples" / "programs" / "coffee.json"
CREDENTIALS = Path(settings.VAR_DIR) / "demo-credentials.txt"

FIRST = [
    "Анна",
    "Иван",
    "Мария",
    "Пётр",
    "Ольга",
    "Дмитрий",
    "Елена",
    "Сергей",
    "Наталья",
    "Алексей",
]
LAST = ["Иванова", "Смирнов", "Кузнецова", "Попов", "Соколова", "Лебедев", "Козлова", "Новиков"]
MENU = [
    ("LATTE", "coffee", "Латте", Decimal("250.00")),
    ("CAPPUCCINO", "coffee", "Капучино", Decimal("230.00")),
    ("ESPRESSO", "coffee", "Эспрессо", Decimal("150.00")),
    ("CROISSANT", "bakery", "Круассан", Decimal("180.00")),
    ("CHEESECAKE", "desserts", "Чизкейк", Decimal("320.00")),
    ("BEANS-1KG", "beans", "Зерно 1 кг", Decimal("1900.00")),
]


class Command(BaseCommand):
    help = "Load the demo programme, customers with purchase history, and a superuser."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=40)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, customers, seed, **options):
        data = json.loads(EXAMPLE.read_text(encoding="utf-8"))
        if not Program.objects.filter(code=data["code"]).exists():
            program_load(data)
            self._history(Program.objects.get(code=data["code"]), customers, random.Random(seed))
        username, password = self._superuser()
        self.stdout.write(self.style.SUCCESS("Demo ready."))
        self.stdout.write(
            f"  admin:    http://127.0.0.1:8000/admin/  user {username}  password {password}"
        )
        self.stdout.write("  API docs: http://127.0.0.1:8000/api/docs/")

    def _superuser(self):
        if CREDENTIALS.exists():
            username, password = CREDENTIALS.read_text().split()
        else:
            username, password = "admin", secrets.token_urlsafe(12)
            CREDENTIALS.write_text(f"{username} {password}\n")
            CREDENTIALS.chmod(0o600)
        User = get_user_model()
        user, _ = User.objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_superuser": True}
        )
        if not user.check_password(password):
            user.set_password(password)
            user.is_staff = user.is_superuser = True
            user.save()
        return username, password

    @transaction.atomic
    def _history(self, program, count, rnd):
        outlets = list(program.outlets.order_by("code"))
        now = timezone.now()
        for n in range(count):
            registered = now - timedelta(days=rnd.randint(30, 180))
            customer = Customer.objects.create(
                phone=f"+7916{n:07d}",
                email=f"demo{n}@example.com",
                first_name=rnd.choice(FIRST),
                last_name=rnd.choice(LAST),
                birth_date=(
                    now - timedelta(days=365 * rnd.randint(18, 60) + rnd.randint(0, 364))
                ).date(),
                registered_at=registered,
                consent_email=rnd.random() < 0.7,
                consent_sms=rnd.random() < 0.5,
            )
            services.account_open(
                program=program, customer=customer, now=registered, outlet=rnd.choice(outlets)
            )
            visits = sorted(
                registered + timedelta(days=rnd.uniform(0, (now - registered).days))
                for _ in range(rnd.randint(2, 14))
            )
            for v, at in enumerate(visits):
                self._visit(program, rnd.choice(outlets), customer, at, f"D{n}-{v}", rnd)
        for check in Check.objects.filter(program=program).order_by("id")[:3]:
            services.check_refund(
                check=check,
                lines=[(0, Decimal("1"))],
                source="demo",
                idempotency_key=f"refund-{check.pk}",
                now=check.occurred_at + timedelta(hours=2),
            )

    def _visit(self, program, outlet, customer, at, receipt, rnd):
        lines = []
        for sku, category, name, price in rnd.sample(MENU, rnd.randint(1, 3)):
            qty = Decimal(rnd.randint(1, 2))
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
        try:
            check_commit(
                program=program,
                outlet=outlet,
                customer=customer,
                lines=lines,
                redeem=redeem,
                receipt_number=receipt,
                source="demo",
                idempotency_key=receipt,
                now=at,
            )
        except errors.DomainError:
            check_commit(
                program=program,
                outlet=outlet,
                customer=customer,
                lines=lines,
                redeem=None,
                receipt_number=receipt,
                source="demo",
                idempotency_key=receipt,
                now=at,
            )
