"""The demo that `make run` shows: a Russian coffee chain with months of history.

Everything goes through the services a real installation uses: the programme through
``program_load`` (examples/programs/coffee.json plus two more outlets), the triggers
(welcome, birthday, win-back, referral) as a marketer sets them, customers through
``member_enrol`` (with the welcome bonus), purchases through ``check_commit`` at their business
time over the last six months (so balances, lots, tiers and notifications are real), a few
returns through ``check_refund``. Two campaigns go through their lifecycle services: one ran
from 75 to 45 days ago with a control group and is finished (its results are on the reports
page), one has been running for 20 days. Two personal offers, two segments of our own; then
every segment is refreshed and the report aggregates of the last 90 days are rebuilt.

It lives in ``backoffice`` (a door, top of the layers) because it uses campaigns and reports.
Running it again changes nothing: the programme is loaded only when absent (a marketer may
have edited it since), customers are found by phone, checks and refunds replay by their
idempotency keys, and the history, campaigns and offers are made only once.
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

from campaigns import services as campaign_services
from campaigns.enrolment import member_enrol
from campaigns.models import Campaign, CampaignRule, Offer, OfferRule, Segment, TriggerConfig
from campaigns.segments import segments_refresh
from core import errors
from customers.models import Customer
from loyalty.ledger import services
from loyalty.ledger.models import Check
from loyalty.ledger.services import check_commit
from loyalty.rules.engine import LineInput
from loyalty.rules.models import EarnRule, Program
from loyalty.rules.program_io import program_load
from loyalty.rules.versioning import program_config_changed
from reports.periods import local_today
from reports.services import aggregates_rebuild

EXAMPLE = Path(settings.BASE_DIR) / "examples" / "programs" / "coffee.json"
EXTRA_OUTLETS = [
    {"code": "msk-2", "name": "Арбат, 12", "channel": "offline"},
    {"code": "web", "name": "Сайт и приложение", "channel": "online"},
]
SOURCE = "demo"
DEMO_PHONE = "+79160000000"  # the first customer: the one whose cabinet the demo opens
TRIGGERS = {
    "welcome_points": Decimal("100"),
    "birthday_points": Decimal("300"),
    "winback_points": Decimal("150"),
    "winback_after_days": 60,
    "referral_referrer_points": Decimal("200"),
    "referral_friend_points": Decimal("100"),
    "budget_points": Decimal("200000"),
}
SEGMENTS = [
    {
        "code": "coffee-lovers",
        "name": "Любители кофе",
        "description": "Пять и больше покупок за 90 дней",
        "conditions": {"all": [{"field": "frequency", "op": "gte", "value": 5, "period_days": 90}]},
    },
    {
        "code": "email-subscribers",
        "name": "Подписчики рассылки",
        "description": "Согласились получать письма",
        "conditions": {"all": [{"field": "consent_email", "op": "is", "value": True}]},
    },
]

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
        now = timezone.now()
        refreshed = segments_refresh(now=now)
        first = local_today(program, now) - timedelta(days=90)
        aggregates_rebuild(program=program, first=first, last=local_today(program, now), now=now)
        self.stdout.write(
            f"Segments refreshed ({refreshed.joined} joined, {refreshed.left} left); "
            f"reports rebuilt from {first.isoformat()}."
        )
        credentials = self._credentials()
        username, password = credentials["admin"].split(" ", 1)
        self._superuser(username, password)
        api_key = self._api_key(program, credentials)
        cabinet_password = self._cabinet_user(credentials)
        site = site_url(host, port)
        with translation.override(settings.LANGUAGE_CODE):  # the unprefixed default language
            admin, cabinet = reverse("admin:index"), reverse("cabinet:dashboard")
        self.stdout.write(self.style.SUCCESS("Demo ready."))
        self.stdout.write(f"  admin:    {site}{admin}  user {username}  password {password}")
        self.stdout.write(f"  cabinet:  {site}{cabinet}")
        if cabinet_password:
            self.stdout.write(
                f"            phone {DEMO_PHONE} (or email demo0@example.com)  "
                f"password {cabinet_password}"
            )
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

    def _cabinet_user(self, stored: dict) -> str | None:
        """The demo customer's cabinet sign-in (email or phone and a password), as sign-up makes."""
        customer = Customer.objects.filter(phone=DEMO_PHONE).select_related("user").first()
        if customer is None:
            return None
        password = stored.get("cabinet") or secrets.token_urlsafe(9)
        if stored.get("cabinet") != password:
            stored["cabinet"] = password
            self._save_credentials(stored)
        user = customer.user
        if user is None:
            user = get_user_model()(
                username=f"customer-{customer.public_id.hex}", email=customer.email
            )
            user.set_password(password)
            user.save()
            Customer.objects.filter(pk=customer.pk).update(user=user)
        elif not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
        return password

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
        TriggerConfig.objects.update_or_create(program=program, defaults=TRIGGERS)
        for spec in SEGMENTS:
            Segment.objects.get_or_create(program=program, code=spec["code"], defaults=spec)
        people = []
        for n in range(count):
            registered = now - timedelta(days=rnd.randint(30, 180), minutes=rnd.randint(0, 600))
            first, gender = rnd.choice(FIRST)
            last = rnd.choice(LAST)[0 if gender == "m" else 1]
            customer, _, _ = member_enrol(
                program=program,
                outlet=rnd.choice(outlets),
                phone=f"+7916{n:07d}",
                email=f"demo{n}@example.com",
                first_name=first,
                last_name=last,
                birth_date=(
                    now - timedelta(days=365 * rnd.randint(18, 60) + rnd.randint(0, 364))
                ).date(),
                consents={"email": rnd.random() < 0.7 or n == 0, "sms": rnd.random() < 0.5},
                now=registered,
            )
            people.append((n, customer, registered))
        finished = self._campaign(
            program,
            code="autumn-bonus",
            name="Осенний бонус",
            description="+50 баллов за чек от 500 ₽ подписчикам рассылки",
            segment=Segment.objects.get(program=program, code="email-subscribers"),
            starts_at=now - timedelta(days=75),
            ends_at=now - timedelta(days=45),
            rule={"kind": "threshold", "min_amount": Decimal("500"), "points": Decimal("50")},
            budget=Decimal("30000"),
        )
        self._campaign(
            program,
            code="winter-warmup",
            name="Согревающая зима",
            description="+30 баллов за чек от 300 ₽ всем участникам",
            segment=None,
            starts_at=now - timedelta(days=20),
            ends_at=now + timedelta(days=40),
            rule={"kind": "threshold", "min_amount": Decimal("300"), "points": Decimal("30")},
            budget=Decimal("50000"),
        )
        for n, customer, registered in people:
            # A few regulars spend enough to climb to silver (100 000) and gold (200 000).
            visits = rnd.randint(2, 14) if n % 10 else rnd.randint(40, 60)
            span = (now - registered).total_seconds()
            moments = sorted(
                registered + timedelta(seconds=rnd.uniform(60, span)) for _ in range(visits)
            )
            for v, at in enumerate(moments):
                big = n % 10 == 0
                self._visit(program, rnd.choice(outlets), customer, at, f"D{n}-{v}", rnd, big)
        campaign_services.campaign_finish(campaign=finished, now=finished.ends_at)
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
        self._offers(program, now, demo=people[0][1] if people else None)

    def _campaign(
        self, program, *, code, name, description, segment, starts_at, ends_at, rule, budget
    ) -> Campaign:
        """A campaign with its own earn rule and a 20 % control group, launched at its start."""
        campaign = Campaign.objects.create(
            program=program,
            code=code,
            name=name,
            description=description,
            segment=segment,
            starts_at=starts_at,
            ends_at=ends_at,
            control_percent=Decimal("20"),
            budget_points=budget,
            message_title=name,
            message_text=description,
        )
        earn = EarnRule.objects.create(program=program, code=code, name=name, **rule)
        CampaignRule.objects.create(campaign=campaign, rule=earn)
        program_config_changed(program.pk)
        return campaign_services.campaign_launch(campaign=campaign, now=starts_at)

    def _offers(self, program, now, *, demo) -> None:
        """A personal offer for sleeping members and one for the demo customer."""
        sleeping = Segment.objects.filter(code="sleeping", program__isnull=True).first()
        specs = [
            (
                "come-back",
                "Возвращайтесь: +200 баллов",
                "За покупку от 1 000 ₽ в ближайший месяц",
                {"kind": "threshold", "min_amount": Decimal("1000"), "points": Decimal("200")},
                sleeping,
                None,
            ),
            (
                "personal-cheesecake",
                "Чизкейк с бонусом",
                "+70 баллов за чек от 500 ₽ — только для вас",
                {"kind": "threshold", "min_amount": Decimal("500"), "points": Decimal("70")},
                None,
                demo,
            ),
        ]
        for code, title, description, rule, segment, customer in specs:
            earn = EarnRule.objects.create(
                program=program, code=f"offer-{code}", name=title, **rule
            )
            offer = Offer.objects.create(
                program=program,
                code=code,
                title=title,
                description=description,
                segment=segment,
                valid_from=now - timedelta(days=3),
                valid_until=now + timedelta(days=30),
            )
            OfferRule.objects.create(offer=offer, rule=earn)
            if customer is not None:
                offer.customers.add(customer)
        program_config_changed(program.pk)

    def _visit(self, program, outlet, customer, at, receipt, rnd, big) -> None:
        lines = []
        picked = rnd.sample(MENU, rnd.randint(1, 3))
        if big and MENU[5] not in picked:  # a regular who buys beans: climbs the tiers
            picked.append(MENU[5])
        for sku, category, name, price in picked:
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
