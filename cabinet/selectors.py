"""Reads behind the cabinet's pages; every one starts from the signed-in customer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import OfferActivation
from campaigns.providers import eligible_offers
from customers.models import Customer
from loyalty.ledger.models import Account, CheckLine, Coupon, Lot, Operation
from loyalty.ledger.selectors import Balance, account_balance
from loyalty.ledger.services import account_qualification_value
from loyalty.rules.models import EarnRule, Program, RedemptionPolicy, Reward, Tier
from loyalty.rules.rewards import reward_stock_left, rewards_active

ZERO = Decimal("0")
HUNDRED = Decimal("100")
EXPIRING_SOON_DAYS = 30


def cabinet_customer(user) -> Customer | None:
    """The customer behind a signed-in cabinet user (None for staff without one)."""
    if not getattr(user, "is_authenticated", False):
        return None
    return Customer.objects.filter(user=user).first()


def customer_accounts(*, customer: Customer) -> list[Account]:
    return list(
        Account.objects.filter(customer=customer)
        .select_related("program", "tier")
        .order_by("enrolled_at", "id")
    )


def customer_account(*, customer: Customer, program_code: str | None) -> Account | None:
    """The account the cabinet shows: the chosen programme's, else the oldest one."""
    accounts = Account.objects.filter(customer=customer).select_related("program", "tier")
    if program_code:
        chosen = accounts.filter(program__code=program_code).first()
        if chosen is not None:
            return chosen
    return accounts.order_by("enrolled_at", "id").first()


@dataclass(frozen=True)
class TierProgress:
    current: Tier | None
    next: Tier | None
    metric: str
    value: Decimal
    remaining: Decimal
    percent: int


@dataclass(frozen=True)
class Expiring:
    date: date
    points: Decimal


@dataclass(frozen=True)
class Dashboard:
    account: Account
    balance: Balance
    available_money: Decimal
    expiring: list[Expiring]
    expiring_total: Decimal
    progress: TierProgress
    tiers: list[Tier] = field(default_factory=list)


def tier_progress(account: Account, *, tiers: list[Tier], now: datetime) -> TierProgress:
    """Where the account stands between its tier and the next one, by the programme's metric."""
    program = account.program
    value = account_qualification_value(account, now=now)
    current = account.tier
    if current is None:
        reached = [t for t in tiers if t.threshold <= value]
        current = reached[-1] if reached else None
    rank = current.rank if current is not None else -1
    higher = [t for t in tiers if t.rank > rank]
    nxt = higher[0] if higher else None
    if nxt is None:
        return TierProgress(current, None, program.tier_metric, value, ZERO, 100)
    floor = current.threshold if current is not None else ZERO
    span = nxt.threshold - floor
    done = value - floor
    percent = 100 if span <= 0 else int(max(min(done / span * HUNDRED, HUNDRED), ZERO))
    return TierProgress(
        current, nxt, program.tier_metric, value, max(nxt.threshold - value, ZERO), percent
    )


def dashboard(*, account: Account, now: datetime) -> Dashboard:
    """Balance, pending, points expiring within EXPIRING_SOON_DAYS, and tier progress."""
    tiers = list(Tier.objects.filter(program_id=account.program_id).order_by("rank", "threshold"))
    horizon = now + timedelta(days=EXPIRING_SOON_DAYS)
    lots = Lot.objects.filter(
        account=account, remaining__gt=0, expires_at__gt=now, expires_at__lte=horizon
    ).order_by("expires_at", "id")
    by_day: dict[date, Decimal] = {}
    for expires_at, remaining in lots.values_list("expires_at", "remaining"):
        day = timezone.localdate(expires_at)  # the programme's zone is active in the cabinet
        by_day[day] = by_day.get(day, ZERO) + remaining
    balance = account_balance(account, now=now)
    return Dashboard(
        account=account,
        balance=balance,
        available_money=max(balance.available, ZERO) * account.program.point_value,
        expiring=[Expiring(date=day, points=total) for day, total in by_day.items()],
        expiring_total=sum(by_day.values(), ZERO),
        progress=tier_progress(account, tiers=tiers, now=now),
        tiers=tiers,
    )


def history(*, account: Account) -> QuerySet[Operation]:
    """The account's operations, newest first, with their checks and lines (no N+1).

    The history page narrows it with ``cabinet.filters.HistoryFilter``.
    """
    return (
        Operation.objects.filter(account=account)
        .select_related("check_obj", "check_obj__outlet")
        .prefetch_related(
            Prefetch("check_obj__lines", queryset=CheckLine.objects.order_by("index"))
        )
        .order_by("-occurred_at", "-id")
    )


@dataclass(frozen=True)
class Offers:
    available: list
    activated: list


def offers(*, account: Account, now: datetime) -> Offers:
    """Offers for this account now: those still to activate, and those switched on."""
    eligible = list(eligible_offers(account, now=now).order_by("valid_until", "code", "id"))
    activated_ids = set(
        OfferActivation.objects.filter(
            customer_id=account.customer_id, offer__in=[o.pk for o in eligible]
        ).values_list("offer_id", flat=True)
    )
    return Offers(
        available=[o for o in eligible if o.requires_activation and o.pk not in activated_ids],
        activated=[o for o in eligible if o.pk in activated_ids or not o.requires_activation],
    )


def referral_count(*, customer: Customer) -> int:
    """How many friends joined with this customer's referral code."""
    return Customer.objects.filter(referred_by=customer).count()


@dataclass(frozen=True)
class ProgramRules:
    program: Program
    tiers: list[Tier]
    rules: list[EarnRule]
    policy: RedemptionPolicy | None


def program_rules(*, program: Program, now: datetime) -> ProgramRules:
    """The live configuration the rules page describes: tiers, public earn rules, redemption.

    Rules owned by a campaign or a personal offer are left out: they apply to an audience,
    and the cabinet shows them as offers to those they are for.
    """
    rules = list(
        EarnRule.objects.filter(program=program, is_active=True)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .filter(offers__isnull=True, campaign_link__isnull=True)
        .prefetch_related("include", "exclude", "tiers", "outlets")
        .order_by("-priority", "code")
        .distinct()
    )
    policy = RedemptionPolicy.objects.filter(program=program).prefetch_related("exclude").first()
    return ProgramRules(
        program=program,
        tiers=list(program.tiers.order_by("rank", "threshold")),
        rules=rules,
        policy=policy,
    )


# --- rewards and coupons ---------------------------------------------------------------------


@dataclass(frozen=True)
class RewardOffer:
    reward: Reward
    problem: str | None  # why the customer cannot claim it now (translated), or None
    affordable: bool
    stock_left: int | None
    missing: Decimal = ZERO  # points still needed when not affordable


@dataclass(frozen=True)
class CouponView:
    coupon: Coupon
    state: str  # active, used, expired


def reward_offers(*, account: Account, now: datetime) -> list[RewardOffer]:
    """The catalogue as this customer sees it: every active reward, and whether (and why not)
    they can claim it. Two queries plus the catalogue's prefetches, however many rewards."""
    rewards = list(rewards_active(account.program, now=now))
    had = dict(
        Coupon.objects.filter(account=account, reward__in=rewards)
        .values("reward")
        .annotate(n=Count("id"))
        .values_list("reward", "n")
        .order_by()
    )
    available = account_balance(account, now=now).available
    offers = []
    for reward in rewards:
        problem = None
        tiers = [t.pk for t in reward.tiers.all()]
        if tiers and account.tier_id not in tiers:
            problem = _("Not available for your tier.")
        elif reward.limit_per_customer is not None and had.get(reward.pk, 0) >= (
            reward.limit_per_customer
        ):
            problem = _("You have already claimed this as often as allowed.")
        offers.append(
            RewardOffer(
                reward=reward,
                problem=problem,
                affordable=reward.points_cost <= available,
                stock_left=reward_stock_left(reward),
                missing=max(reward.points_cost - available, ZERO),
            )
        )
    return offers


def customer_coupons(*, account: Account, now: datetime, limit: int = 50) -> list[CouponView]:
    """The customer's coupons, active first (soonest to expire), then used and expired ones."""
    rows = list(
        Coupon.objects.filter(account=account)
        .select_related("reward")
        .order_by("-created_at", "-id")[:limit]
    )
    views = [CouponView(coupon=c, state=c.status_at(now)) for c in rows]
    order = {"active": 0, "used": 1, "expired": 2}
    return sorted(
        views,
        key=lambda v: (order[v.state], v.coupon.expires_at if v.state == "active" else now),
    )
