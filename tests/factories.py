"""factory_boy factories for every model the foundation owns."""

from datetime import UTC, datetime
from decimal import Decimal

import factory

from customers.models import Customer
from loyalty.ledger.models import Account, Check, CheckLine
from loyalty.rules.models import (
    Category,
    EarnRule,
    Outlet,
    ProductSet,
    Program,
    RedemptionPolicy,
    Tier,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"prog-{n}")
    name = factory.LazyAttribute(lambda o: f"Programme {o.code}")
    lifetime_days = 365
    hold_days = 0


class OutletFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Outlet

    program = factory.SubFactory(ProgramFactory)
    code = factory.Sequence(lambda n: f"outlet-{n}")
    name = factory.LazyAttribute(lambda o: f"Outlet {o.code}")


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    program = factory.SubFactory(ProgramFactory)
    code = factory.Sequence(lambda n: f"cat-{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())


class ProductSetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductSet

    program = factory.SubFactory(ProgramFactory)
    code = factory.Sequence(lambda n: f"set-{n}")
    categories = factory.LazyFunction(list)
    skus = factory.LazyFunction(list)


class TierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tier

    program = factory.SubFactory(ProgramFactory)
    code = factory.Sequence(lambda n: f"tier-{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())
    rank = factory.Sequence(lambda n: n)
    threshold = Decimal("0")
    earn_percent = Decimal("5")


class RedemptionPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RedemptionPolicy

    program = factory.SubFactory(ProgramFactory)
    max_share = Decimal("0.30")


class EarnRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EarnRule

    program = factory.SubFactory(ProgramFactory)
    code = factory.Sequence(lambda n: f"rule-{n}")
    kind = "fixed_per_item"
    points = Decimal("10")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    phone = factory.Sequence(lambda n: f"+7999{n:07d}")
    first_name = "Анна"
    registered_at = T0


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    program = factory.SubFactory(ProgramFactory)
    customer = factory.SubFactory(CustomerFactory)
    enrolled_at = T0


class CheckFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Check

    program = factory.LazyAttribute(lambda o: o.account.program)
    outlet = factory.LazyAttribute(lambda o: OutletFactory(program=o.program))
    account = factory.SubFactory(AccountFactory)
    receipt_number = factory.Sequence(lambda n: f"R-{n}")
    occurred_at = T0
    subtotal = Decimal("100.00")
    payable = Decimal("100.00")


class CheckLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CheckLine

    check_obj = factory.SubFactory(CheckFactory)
    index = factory.Sequence(lambda n: n)
    sku = "SKU"
    quantity = Decimal("1")
    price = Decimal("100.00")
    amount = Decimal("100.00")


# --- notifications (issue 5) ---------------------------------------------------------------------


class TemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "notifications.Template"

    event = "points_earned"
    channel = "email"
    language = "ru"
    subject = "+{{ points }}"
    body = "{{ customer.first_name }}: +{{ points }}"
    is_active = True


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "notifications.Message"

    customer = factory.SubFactory(CustomerFactory)
    channel = "email"
    event = "points_earned"
    language = "ru"
    idempotency_key = factory.Sequence(lambda n: f"msg-{n}")
    subject = "Subject"
    body = "Body"
    time_zone = "Europe/Moscow"
    scheduled_for = T0
    created_at = T0


# --- campaigns, segments, offers, triggers (issue 6) ---------------------------------------------


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "campaigns.Segment"

    program = factory.SubFactory(ProgramFactory)
    code = factory.Sequence(lambda n: f"seg-{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())
    conditions = factory.LazyFunction(dict)


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "campaigns.Campaign"

    program = factory.SubFactory(ProgramFactory)
    code = factory.Sequence(lambda n: f"camp-{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())
    starts_at = T0


class OfferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "campaigns.Offer"

    program = factory.SubFactory(ProgramFactory)
    code = factory.Sequence(lambda n: f"offer-{n}")
    title = factory.LazyAttribute(lambda o: o.code.title())


class TriggerConfigFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "campaigns.TriggerConfig"
        django_get_or_create = ("program",)

    program = factory.SubFactory(ProgramFactory)
