"""factory_boy factories for every model the foundation owns."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from customers.models import Customer
from loyalty.ledger.models import (
    Account,
    Check,
    CheckLine,
    Entry,
    Lot,
    MemberProfile,
    Operation,
    Refund,
    RuleAward,
    TierChange,
)
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


PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "birth_date",
    "card_number",
    "consent_sms",
    "consent_sms_at",
    "consent_email",
    "consent_email_at",
)


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account
        skip_postgeneration_save = True
        django_get_or_create = ("program", "customer")

    program = factory.SubFactory(ProgramFactory)
    customer = factory.SubFactory(CustomerFactory)
    enrolled_at = T0

    @factory.post_generation
    def profile(obj, create, extracted, **kwargs):
        """Tests describe a member by the customer's fields (``customer__email=…``): the
        programme of this account is the one that collected them, so its profile holds them.
        (Production code never copies them: each programme's profile is filled by its own
        enrolment, see loyalty.ledger.services.accounts.profile_fill.)"""
        if not create:
            return
        customer = obj.customer
        MemberProfile.objects.filter(account=obj).update(
            **{field: getattr(customer, field) for field in PROFILE_FIELDS}, **kwargs
        )
        obj.refresh_from_db()  # drop the cached empty profile


class TierChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TierChange

    account = factory.SubFactory(AccountFactory)
    program = factory.SelfAttribute("account.program")
    old_tier = None
    new_tier = factory.SubFactory(TierFactory, program=factory.SelfAttribute("..program"))
    upgrade = True
    changed_at = T0


class MemberProfileFactory(factory.django.DjangoModelFactory):
    """The profile every account gets when it is opened (filled by the AccountFactory)."""

    class Meta:
        model = MemberProfile
        django_get_or_create = ("account",)

    account = factory.SubFactory(AccountFactory)
    program = factory.LazyAttribute(lambda o: o.account.program)


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


class OperationFactory(factory.django.DjangoModelFactory):
    """A bare operation row. Points move only through loyalty.ledger.services; use this for
    rows that services read (reports, admin), and LotFactory to credit a consistent lot."""

    class Meta:
        model = Operation

    account = factory.SubFactory(AccountFactory)
    program = factory.LazyAttribute(lambda o: o.account.program)
    kind = "grant"
    source = "test"
    idempotency_key = factory.Sequence(lambda n: f"op-{n}")
    occurred_at = T0


class LotFactory(factory.django.DjangoModelFactory):
    """A credited lot with its earning entry, so the account's entries and lots agree
    (the cached balance is not refreshed: call services for that)."""

    class Meta:
        model = Lot
        skip_postgeneration_save = True

    account = factory.SubFactory(AccountFactory)
    operation = factory.SubFactory(OperationFactory, account=factory.SelfAttribute("..account"))
    kind = "grant"
    amount = Decimal("100")
    remaining = factory.SelfAttribute("amount")
    available_at = T0
    expires_at = None

    @factory.post_generation
    def entry(obj, create, extracted, **kwargs):
        if create and extracted is not False:
            Entry.objects.create(
                operation=obj.operation,
                account=obj.account,
                lot=obj,
                kind="earn",
                amount=obj.amount,
            )


class EntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Entry

    lot = factory.SubFactory(LotFactory, entry=False)
    account = factory.SelfAttribute("lot.account")
    operation = factory.SelfAttribute("lot.operation")
    kind = "earn"
    amount = factory.SelfAttribute("lot.amount")


class RefundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Refund

    check_obj = factory.SubFactory(CheckFactory)
    operation = factory.SubFactory(
        OperationFactory,
        account=factory.SelfAttribute("..check_obj.account"),
        kind="refund",
        check_obj=factory.SelfAttribute("..check_obj"),
    )
    lines = factory.LazyFunction(lambda: [{"index": 0, "quantity": "1"}])
    amount = Decimal("10.00")


class RuleAwardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RuleAward

    operation = factory.SubFactory(OperationFactory)
    account = factory.SelfAttribute("operation.account")
    rule_code = "rule"
    points = Decimal("10")


class OneTimeCodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "customers.OneTimeCode"

    customer = factory.SubFactory(CustomerFactory)
    purpose = "till"
    code_digest = factory.Sequence(lambda n: f"{n:064x}")
    expires_at = factory.LazyAttribute(lambda o: o.created_at + timedelta(minutes=10))
    created_at = T0


# --- jobs (issue 5) -------------------------------------------------------------------------------


class JobRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "core.JobRun"

    job = "ledger.points_expire"
    period_key = factory.Sequence(lambda n: f"period-{n}")
    status = "succeeded"
    started_at = T0
    finished_at = T0


class AlertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "core.Alert"

    source = "ledger.reconcile"
    title = "Ledger reconcile found 1 discrepancies"
    created_at = T0


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


class SegmentMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "campaigns.SegmentMembership"

    segment = factory.SubFactory(SegmentFactory)
    account = factory.SubFactory(AccountFactory, program=factory.SelfAttribute("..segment.program"))
    since = T0


class RfmScoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "campaigns.RfmScore"

    account = factory.SubFactory(AccountFactory)
    program = factory.SelfAttribute("account.program")
    r = 3
    f = 3
    m = 3
    recency_days = 30
    computed_at = T0


class CampaignRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "campaigns.CampaignRule"

    campaign = factory.SubFactory(CampaignFactory)
    rule = factory.SubFactory(EarnRuleFactory, program=factory.SelfAttribute("..campaign.program"))


class CampaignMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "campaigns.CampaignMember"

    campaign = factory.SubFactory(CampaignFactory)
    account = factory.SubFactory(
        AccountFactory, program=factory.SelfAttribute("..campaign.program")
    )
    assigned_at = T0


class ReferralFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "campaigns.Referral"

    friend = factory.SubFactory(AccountFactory)
    program = factory.SelfAttribute("friend.program")
    referrer = factory.SubFactory(AccountFactory, program=factory.SelfAttribute("..program"))
    check_obj = factory.SubFactory(CheckFactory, account=factory.SelfAttribute("..friend"))
    created_at = T0


class OfferRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "campaigns.OfferRule"

    offer = factory.SubFactory(OfferFactory)
    rule = factory.SubFactory(EarnRuleFactory, program=factory.SelfAttribute("..offer.program"))


class OfferActivationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "campaigns.OfferActivation"

    offer = factory.SubFactory(OfferFactory)
    customer = factory.SubFactory(CustomerFactory)
    activated_at = T0


# --- reports ------------------------------------------------------------------------------------


class ProgramDayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "reports.ProgramDay"

    program = factory.SubFactory(ProgramFactory)
    day = factory.Sequence(lambda n: datetime(2026, 1, 1, tzinfo=UTC).date() + timedelta(days=n))
    computed_at = factory.LazyFunction(lambda: datetime(2026, 1, 2, tzinfo=UTC))


class DashboardFactory(ProgramDayFactory):
    class Meta:
        model = "reports.Dashboard"


class OutletDayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "reports.OutletDay"

    outlet = factory.SubFactory(OutletFactory)
    program = factory.SelfAttribute("outlet.program")
    day = factory.Sequence(lambda n: datetime(2026, 1, 1, tzinfo=UTC).date() + timedelta(days=n))


class MemberDayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "reports.MemberDay"

    account = factory.SubFactory(AccountFactory)
    program = factory.SelfAttribute("account.program")
    outlet = factory.SubFactory(OutletFactory, program=factory.SelfAttribute("..program"))
    day = factory.Sequence(lambda n: datetime(2026, 1, 1, tzinfo=UTC).date() + timedelta(days=n))
    cohort = datetime(2026, 1, 1, tzinfo=UTC).date()
    checks = 1
    sales = Decimal("100.00")


class MemberVisitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "reports.MemberVisit"

    account = factory.SubFactory(AccountFactory)
    program = factory.SelfAttribute("account.program")
    day = factory.Sequence(lambda n: datetime(2026, 1, 1, tzinfo=UTC).date() + timedelta(days=n))
    cohort = datetime(2026, 1, 1, tzinfo=UTC).date()
    checks = 1
    sales = Decimal("100.00")


class ActivityCellFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "reports.ActivityCell"

    program = factory.SubFactory(ProgramFactory)
    day = factory.Sequence(lambda n: datetime(2026, 1, 1, tzinfo=UTC).date() + timedelta(days=n))
    kind = "V"
    members = 1


class CampaignDayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "reports.CampaignDay"

    campaign = factory.SubFactory(CampaignFactory)
    program = factory.SelfAttribute("campaign.program")
    day = factory.Sequence(lambda n: datetime(2026, 1, 1, tzinfo=UTC).date() + timedelta(days=n))
    points = Decimal("10")


class CohortMonthFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "reports.CohortMonth"

    program = factory.SubFactory(ProgramFactory)
    month = datetime(2026, 2, 1, tzinfo=UTC).date()
    cohort = factory.Sequence(lambda n: datetime(2000 + n % 25, 1 + n % 12, 1, tzinfo=UTC).date())
    active = 1


class TierCountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "reports.TierCount"

    program = factory.SubFactory(ProgramFactory)
    day = factory.Sequence(lambda n: datetime(2026, 1, 1, tzinfo=UTC).date() + timedelta(days=n))
    tier = factory.SubFactory(TierFactory, program=factory.SelfAttribute("..program"))
    members = 3


class AggregationStateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "reports.AggregationState"

    program = factory.SubFactory(ProgramFactory)
    updated_at = factory.LazyFunction(lambda: datetime(2026, 1, 1, tzinfo=UTC))


class RewardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "rules.Reward"

    program = factory.SubFactory(ProgramFactory)
    code = factory.Sequence(lambda n: f"reward-{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())
    kind = "discount_amount"
    points_cost = Decimal("100")
    amount = Decimal("50.00")
    coupon_days = 30


class CouponFactory(factory.django.DjangoModelFactory):
    """A bare coupon row; claims go through loyalty.ledger.services.rewards."""

    class Meta:
        model = "ledger.Coupon"

    account = factory.SubFactory(AccountFactory)
    program = factory.LazyAttribute(lambda o: o.account.program)
    reward = factory.LazyAttribute(lambda o: RewardFactory(program=o.program))
    operation = factory.LazyAttribute(lambda o: OperationFactory(account=o.account, kind="reward"))
    code = factory.Sequence(lambda n: f"TEST-{n:04d}")
    points_cost = Decimal("100")
    expires_at = T0 + timedelta(days=30)
    created_at = T0


class PromoCodeUseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "campaigns.PromoCodeUse"

    check_obj = factory.SubFactory(CheckFactory)
    account = factory.LazyAttribute(lambda o: o.check_obj.account)
    campaign = factory.LazyAttribute(lambda o: CampaignFactory(program=o.check_obj.program))
    used_at = T0


class StaffProgramAccessFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "rules.StaffProgramAccess"

    user = factory.LazyFunction(
        lambda: get_user_model().objects.create_user(
            f"staff-{uuid.uuid4().hex[:8]}", password="x", is_staff=True
        )
    )
    program = factory.SubFactory(ProgramFactory)


class ErasureRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "customers.ErasureRecord"

    customer = factory.SubFactory(CustomerFactory)
    reference = factory.Sequence(lambda n: f"{n:064x}")
    reason = "The customer asked in writing"
    erased_by = factory.LazyFunction(
        lambda: get_user_model().objects.create_user(
            f"dpo-{uuid.uuid4().hex[:8]}", password="x", is_staff=True
        )
    )
    erased_at = T0
