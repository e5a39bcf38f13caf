"""The programme a marketer builds: outlets, tiers, product sets, earn rules, redemption policy.

These rows are configuration. The calculation engine never sees them: ``loader.py`` turns a
programme into plain frozen specs once, and ``engine.py`` computes from those.
"""

import re
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.money import MONEY_QUANTUM, money_field, points_exact, points_field

SHARE = {"max_digits": 5, "decimal_places": 4}
PERCENT = {"max_digits": 7, "decimal_places": 4}


class Rounding(models.TextChoices):
    DOWN = "down", _("down")
    HALF_UP = "half_up", _("half up")
    UP = "up", _("up")


class TierMetric(models.TextChoices):
    SPEND = "spend", _("spend")
    VISITS = "visits", _("visits")
    POINTS = "points", _("points earned")


class Channel(models.TextChoices):
    OFFLINE = "offline", _("offline store")
    ONLINE = "online", _("online shop")
    APP = "app", _("mobile app")
    PARTNER = "partner", _("partner")


class Program(models.Model):
    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)
    currency = models.CharField(_("currency"), max_length=3, default="RUB")
    region = models.CharField(
        _("phone region"), max_length=2, default="RU", help_text=_("Default region for phones")
    )
    timezone = models.CharField(_("time zone"), max_length=64, default="Europe/Moscow")
    precision = models.PositiveSmallIntegerField(
        _("point precision"),
        choices=[(0, _("whole points")), (2, _("hundredths"))],
        default=0,
    )
    rounding = models.CharField(
        _("rounding"), max_length=10, choices=Rounding.choices, default=Rounding.DOWN
    )
    point_value = money_field(
        _("point value"),
        default=Decimal("1.00"),
        validators=[MinValueValidator(MONEY_QUANTUM)],
        help_text=_("Money one point pays off"),
    )
    lifetime_days = models.PositiveIntegerField(
        _("points lifetime, days"), null=True, blank=True, help_text=_("Empty: points never expire")
    )
    hold_days = models.PositiveIntegerField(
        _("hold period, days"), default=0, help_text=_("Earned points are pending this long")
    )
    allow_negative_after_refund = models.BooleanField(
        _("allow a negative balance after refunds"), default=True
    )
    reservation_minutes = models.PositiveIntegerField(
        _("reservation hold, minutes"),
        default=15,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
        help_text=_(
            "Points held by a two-phase payment are released after this long "
            "unless the check is confirmed"
        ),
    )
    accrual_exclude = models.ManyToManyField(
        "ProductSet",
        verbose_name=_("products that earn nothing"),
        blank=True,
        related_name="+",
    )
    accrual_promo_items = models.BooleanField(_("promo items earn points"), default=True)
    tier_metric = models.CharField(
        _("tier qualification metric"),
        max_length=10,
        choices=TierMetric.choices,
        default=TierMetric.SPEND,
    )
    tier_period_days = models.PositiveIntegerField(
        _("tier qualification period, days"),
        null=True,
        blank=True,
        help_text=_("Empty: lifetime; otherwise a rolling window"),
    )
    tier_grace_days = models.PositiveIntegerField(
        _("tier downgrade grace, days"),
        default=0,
        help_text=_("A tier is kept at least this long after it was reached"),
    )
    gross_margin = models.DecimalField(
        _("gross margin"),
        max_digits=5,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text=_(
            "A fraction from 0 to 1, like 0.35: campaign ROI in the reports uses it. "
            "Empty: ROI is not computed"
        ),
    )
    # How far a till's clock may be from ours: an ``occurred_at`` outside this window is a
    # typo or a broken clock, and would put points into the wrong days, hours and tiers.
    occurred_at_past_days = models.PositiveIntegerField(
        _("accept check times back, days"),
        default=30,
        validators=[MaxValueValidator(3650)],
        help_text=_("A check or event may be reported at most this many days after it happened"),
    )
    occurred_at_future_minutes = models.PositiveIntegerField(
        _("accept check times ahead, minutes"),
        default=5,
        validators=[MaxValueValidator(24 * 60)],
        help_text=_("Tolerance for a till clock running fast"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # Raised in the transaction of every change to the programme's configuration
    # (loyalty/rules/versioning.py); the key of the per-process spec cache (loader.py). Never
    # written by ``save()``: a stale instance must not set it back.
    config_version = models.PositiveBigIntegerField(
        _("configuration version"), default=0, editable=False
    )

    history = HistoricalRecords(excluded_fields=["config_version"])

    class Meta:
        verbose_name = _("programme")
        verbose_name_plural = _("programmes")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(precision__in=[0, 2]), name="program_precision"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if (
            not (self._state.adding or kwargs.get("force_insert"))
            and kwargs.get("update_fields") is None
        ):
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name != "config_version"
            ]
        super().save(*args, **kwargs)

    def clean(self):
        problems = {}
        try:
            ZoneInfo(self.timezone or "")
        except (ZoneInfoNotFoundError, ValueError):
            problems["timezone"] = _(
                "Unknown time zone; use a name like Europe/Moscow or Asia/Yekaterinburg."
            )
        if not re.fullmatch(r"[A-Z]{3}", self.currency or ""):
            problems["currency"] = _("Use a three-letter ISO currency code, like RUB.")
        if (self.region or "") not in phonenumbers.SUPPORTED_REGIONS:
            problems["region"] = _("Use a two-letter country code, like RU.")
        if problems:
            raise ValidationError(problems)


class Outlet(models.Model):
    program = models.ForeignKey(
        Program, verbose_name=_("programme"), on_delete=models.CASCADE, related_name="outlets"
    )
    code = models.SlugField(_("code"), max_length=50)
    name = models.CharField(_("name"), max_length=200)
    channel = models.CharField(
        _("channel"), max_length=10, choices=Channel.choices, default=Channel.OFFLINE
    )
    is_active = models.BooleanField(_("active"), default=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("outlet")
        verbose_name_plural = _("outlets")
        ordering = ["program", "code"]
        constraints = [
            models.UniqueConstraint(fields=["program", "code"], name="outlet_code_per_program")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Category(models.Model):
    """A node of the product catalogue; a product set naming a category includes its children."""

    program = models.ForeignKey(
        Program, verbose_name=_("programme"), on_delete=models.CASCADE, related_name="categories"
    )
    code = models.SlugField(_("code"), max_length=100)
    name = models.CharField(_("name"), max_length=200)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="children",
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["program", "code"]
        constraints = [
            models.UniqueConstraint(fields=["program", "code"], name="category_code_per_program")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def clean(self):
        if self.parent_id is None:
            return
        if self.parent.program_id != self.program_id:
            raise ValidationError({"parent": _("The parent belongs to another programme.")})
        seen = {self.pk} if self.pk else set()
        node = self.parent
        while node is not None:
            if node.pk in seen:
                raise ValidationError(
                    {"parent": _("A category cannot be its own ancestor; choose another parent.")}
                )
            seen.add(node.pk)
            node = node.parent


def _string_list_problem(value) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        return _('Give a list of non-empty texts, like ["coffee", "tea"].')
    if len(set(value)) != len(value):
        return _("Each value may appear only once.")
    return None


class ProductSet(models.Model):
    program = models.ForeignKey(
        Program, verbose_name=_("programme"), on_delete=models.CASCADE, related_name="product_sets"
    )
    code = models.SlugField(_("code"), max_length=50)
    name = models.CharField(_("name"), max_length=200, blank=True)
    categories = models.JSONField(
        _("categories"), default=list, blank=True, help_text=_("Category codes, children included")
    )
    skus = models.JSONField(_("SKUs"), default=list, blank=True)
    exclude_skus = models.JSONField(_("excluded SKUs"), default=list, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("product set")
        verbose_name_plural = _("product sets")
        ordering = ["program", "code"]
        constraints = [
            models.UniqueConstraint(fields=["program", "code"], name="product_set_code_per_program")
        ]

    def __str__(self) -> str:
        return self.name or self.code

    def clean(self):
        problems = {}
        for name in ("categories", "skus", "exclude_skus"):
            problem = _string_list_problem(getattr(self, name))
            if problem:
                problems[name] = problem
        if not problems and not (self.categories or self.skus):
            problems["categories"] = _("Name at least one category or SKU.")
        if problems:
            raise ValidationError(problems)


class Tier(models.Model):
    program = models.ForeignKey(
        Program, verbose_name=_("programme"), on_delete=models.CASCADE, related_name="tiers"
    )
    code = models.SlugField(_("code"), max_length=50)
    name = models.CharField(_("name"), max_length=100)
    rank = models.PositiveSmallIntegerField(_("rank"), default=0)
    threshold = money_field(
        _("qualification threshold"),
        default=Decimal("0"),
        validators=[MinValueValidator(0)],
    )
    earn_percent = models.DecimalField(
        _("earn percent"),
        **PERCENT,
        default=Decimal("0"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    max_share = models.DecimalField(
        _("max share of a check payable with points"),
        **SHARE,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text=_("Overrides the redemption policy; 0.30 = 30 %"),
    )
    perks = models.TextField(_("perks"), blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["program", "rank", "threshold"]
        constraints = [
            models.UniqueConstraint(fields=["program", "code"], name="tier_code_per_program"),
            models.UniqueConstraint(fields=["program", "rank"], name="tier_rank_per_program"),
        ]

    def __str__(self) -> str:
        return self.name


class RedemptionPolicy(models.Model):
    program = models.OneToOneField(
        Program,
        verbose_name=_("programme"),
        on_delete=models.CASCADE,
        related_name="redemption_policy",
    )
    max_share = models.DecimalField(
        _("max share of a check payable with points"),
        **SHARE,
        default=Decimal("1"),
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )
    min_order_amount = money_field(
        _("minimum order amount"), default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    min_balance = points_field(
        _("minimum balance to redeem"),
        default=Decimal("0"),
        validators=[MinValueValidator(0)],
    )
    max_points_per_check = points_field(
        _("max points per check"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    exclude = models.ManyToManyField(
        ProductSet, verbose_name=_("products not payable with points"), blank=True, related_name="+"
    )
    allow_promo_items = models.BooleanField(_("promo items payable with points"), default=False)
    earn_on_redeemed = models.BooleanField(_("earn on the part paid with points"), default=False)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("redemption policy")
        verbose_name_plural = _("redemption policies")

    def __str__(self) -> str:
        return str(_("Redemption policy of %(program)s") % {"program": self.program})


HOURS_WINDOW = re.compile(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d")


class RuleKind(models.TextChoices):
    MULTIPLIER = "multiplier", _("multiplier of base accrual")
    FIXED_PER_ITEM = "fixed_per_item", _("fixed points per item")
    THRESHOLD = "threshold", _("order threshold bonus")
    NTH_PURCHASE = "nth_purchase", _("every Nth purchase")
    FIRST_PURCHASE = "first_purchase", _("first purchase")
    EVENT = "event", _("event bonus")


class EarnRule(models.Model):
    """One earn rule; ``kind`` chooses the behaviour (engine) and the parameters it needs."""

    program = models.ForeignKey(
        Program, verbose_name=_("programme"), on_delete=models.CASCADE, related_name="earn_rules"
    )
    code = models.SlugField(_("code"), max_length=50)
    name = models.CharField(_("name"), max_length=200, blank=True)
    description = models.TextField(
        _("description for customers"), blank=True, help_text=_("Shown in the cabinet")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=RuleKind.choices)
    is_active = models.BooleanField(_("active"), default=True)
    # Parameters; which ones a rule needs depends on its kind (see clean()).
    factor = models.DecimalField(_("factor"), max_digits=8, decimal_places=4, null=True, blank=True)
    points = points_field(_("points"), null=True, blank=True)
    min_amount = money_field(_("threshold amount"), null=True, blank=True)
    every = models.PositiveIntegerField(_("every Nth purchase"), null=True, blank=True)
    event = models.SlugField(_("event"), max_length=50, blank=True)
    # Conditions shared by every kind.
    priority = models.IntegerField(_("priority"), default=0, help_text=_("Higher goes first"))
    exclusive = models.BooleanField(
        _("exclusive"), default=False, help_text=_("Suppresses other rules of the same kind")
    )
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    days_of_week = models.JSONField(
        _("days of week"), default=list, blank=True, help_text=_("1 = Monday … 7 = Sunday")
    )
    hours = models.JSONField(
        _("hours"), default=list, blank=True, help_text=_('Local windows, e.g. ["08:00-11:00"]')
    )
    outlets = models.ManyToManyField(Outlet, verbose_name=_("outlets"), blank=True)
    channels = models.JSONField(_("channels"), default=list, blank=True)
    tiers = models.ManyToManyField(Tier, verbose_name=_("tiers"), blank=True)
    segments = models.JSONField(
        _("segments"), default=list, blank=True, help_text=_("Segment codes")
    )
    include = models.ManyToManyField(
        ProductSet, verbose_name=_("only these products"), blank=True, related_name="+"
    )
    exclude = models.ManyToManyField(
        ProductSet, verbose_name=_("except these products"), blank=True, related_name="+"
    )
    min_order_amount = money_field(_("minimum order"), null=True, blank=True)
    lifetime_days = models.PositiveIntegerField(
        _("points lifetime, days"), null=True, blank=True, help_text=_("Overrides the programme")
    )
    limit_per_customer = models.PositiveIntegerField(_("times per customer"), null=True, blank=True)
    budget_points = points_field(_("total points budget"), null=True, blank=True)
    # Spent budget: changed only by the ledger with F() under a row lock, never by forms.
    budget_used = points_field(_("budget used"), default=Decimal("0"), editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["budget_used"])

    class Meta:
        verbose_name = _("earn rule")
        verbose_name_plural = _("earn rules")
        ordering = ["program", "-priority", "code"]
        constraints = [
            models.UniqueConstraint(fields=["program", "code"], name="earn_rule_code_per_program"),
            models.CheckConstraint(condition=Q(budget_used__gte=0), name="earn_rule_budget_used"),
        ]

    def __str__(self) -> str:
        return self.name or self.code

    def get_inline_title(self) -> str:
        """The row's title on the programme page (django-unfold): what the rule gives."""
        from loyalty.rules.preview import rule_preview

        preview = rule_preview(self) if self.program_id else ""
        parts = [str(self), str(self.get_kind_display()), preview]
        return " · ".join(part for part in parts if part)

    # --- validation: the shared conditions, then the kind's own parameters -------------------

    # The parameters each kind uses; the others must stay empty (the admin hides them).
    KIND_PARAMS = {
        RuleKind.MULTIPLIER: ("factor",),
        RuleKind.FIXED_PER_ITEM: ("points",),
        RuleKind.THRESHOLD: ("min_amount", "points"),
        RuleKind.NTH_PURCHASE: ("every", "points"),
        RuleKind.FIRST_PURCHASE: ("points",),
        RuleKind.EVENT: ("event", "points"),
    }
    PARAMS = ("factor", "points", "min_amount", "every", "event")
    # When a rule applies, and how far it may go: the admin, its form and the programme file
    # all list the rule's fields in this order.
    CONDITIONS = (
        "priority",
        "exclusive",
        "valid_from",
        "valid_until",
        "days_of_week",
        "hours",
        "outlets",
        "channels",
        "tiers",
        "segments",
        "include",
        "exclude",
        "min_order_amount",
    )
    LIMITS = ("lifetime_days", "limit_per_customer", "budget_points")

    def clean(self):
        problems: dict[str, list] = {}
        self._clean_conditions(problems)
        if self.kind in self.KIND_PARAMS:
            for name in self.PARAMS:
                if name not in self.KIND_PARAMS[self.kind] and getattr(self, name) not in (
                    None,
                    "",
                ):
                    problems.setdefault(name, []).append(
                        _("A rule of kind “%(kind)s” does not use this; leave it empty.")
                        % {"kind": self.get_kind_display()}
                    )
            getattr(self, f"clean_{self.kind}")(problems)
        if problems:
            raise ValidationError(problems)

    def _need_points(self, problems, why):
        if self.points is None:
            problems.setdefault("points", []).append(why)
        elif self.points <= 0:
            problems.setdefault("points", []).append(_("Points must be greater than zero."))
        elif self.program_id and not points_exact(self.points, precision=self.program.precision):
            problems.setdefault("points", []).append(
                _("This programme counts whole points; give a whole number.")
                if self.program.precision == 0
                else _("Give at most two decimal places.")
            )

    def clean_multiplier(self, problems):
        if self.factor is None:
            problems.setdefault("factor", []).append(
                _("Give the factor the base accrual is multiplied by, e.g. 2 for double points.")
            )
        elif self.factor <= 1:
            problems.setdefault("factor", []).append(
                _("The factor must be greater than 1 (1 would change nothing).")
            )

    def clean_fixed_per_item(self, problems):
        self._need_points(problems, _("Give the points awarded for each item."))

    def clean_threshold(self, problems):
        if self.min_amount is None:
            problems.setdefault("min_amount", []).append(
                _("Give the check amount from which the bonus is awarded.")
            )
        elif self.min_amount <= 0:
            problems.setdefault("min_amount", []).append(
                _("The threshold amount must be greater than zero.")
            )
        self._need_points(problems, _("Give the bonus points for reaching the threshold."))

    def clean_nth_purchase(self, problems):
        if self.every is None:
            problems.setdefault("every", []).append(
                _("Give N: the bonus is awarded on every N-th purchase.")
            )
        elif self.every < 2:
            problems.setdefault("every", []).append(
                _("N must be 2 or more; for every purchase use the base accrual or a threshold.")
            )
        self._need_points(problems, _("Give the bonus points for the N-th purchase."))

    def clean_first_purchase(self, problems):
        self._need_points(problems, _("Give the bonus points for the first purchase."))

    def clean_event(self, problems):
        if not self.event:
            problems.setdefault("event", []).append(
                _("Name the event, e.g. review, survey, subscription, registration or birthday.")
            )
        self._need_points(problems, _("Give the points awarded for the event."))

    def _clean_conditions(self, problems):
        def add(name, message):
            problems.setdefault(name, []).append(message)

        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            add("valid_until", _("The rule must end after it starts."))
        days = self.days_of_week
        if not isinstance(days, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7 for d in days
        ):
            add("days_of_week", _("Give days as numbers from 1 (Monday) to 7 (Sunday)."))
        elif len(set(days)) != len(days):
            add("days_of_week", _("Each day may appear only once."))
        hours = self.hours
        if not isinstance(hours, list) or not all(
            isinstance(h, str) and HOURS_WINDOW.fullmatch(h.strip()) for h in hours
        ):
            add("hours", _('Give time windows like "08:00-11:00" (24-hour clock).'))
        else:
            for window in hours:
                start, end = (part.strip() for part in window.split("-", 1))
                if start == end:
                    add("hours", _("The window %(window)s is empty.") % {"window": window})
        channels = self.channels
        if not isinstance(channels, list) or not all(c in Channel.values for c in channels):
            add(
                "channels",
                _("Give channels from: %(choices)s.") % {"choices": ", ".join(Channel.values)},
            )
        problem = _string_list_problem(self.segments)
        if problem:
            add("segments", problem)
        if self.min_order_amount is not None and self.min_order_amount < 0:
            add("min_order_amount", _("The minimum order cannot be negative."))
        if self.budget_points is not None and self.budget_points <= 0:
            add("budget_points", _("The budget must be greater than zero; leave empty for none."))
        if self.limit_per_customer is not None and self.limit_per_customer < 1:
            add("limit_per_customer", _("Give 1 or more; leave empty for no limit."))
        if self.lifetime_days is not None and self.lifetime_days < 1:
            add("lifetime_days", _("Give 1 day or more; leave empty to use the programme's."))


class RewardKind(models.TextChoices):
    DISCOUNT_AMOUNT = "discount_amount", _("money off")
    DISCOUNT_PERCENT = "discount_percent", _("percent off")
    FREE_PRODUCT = "free_product", _("free product")
    GIFT = "gift", _("gift handed out by staff")


class Reward(models.Model):
    """An item of the rewards catalogue: claimed for points, it issues a coupon.

    ``claimed`` counts the coupons issued; the ledger changes it with ``F()`` under the row
    lock (``loyalty.ledger.services.rewards``), never through forms.
    """

    program = models.ForeignKey(
        Program, verbose_name=_("programme"), on_delete=models.CASCADE, related_name="rewards"
    )
    code = models.SlugField(_("code"), max_length=50)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(
        _("description for customers"), blank=True, help_text=_("Shown in the cabinet")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=RewardKind.choices)
    is_active = models.BooleanField(_("active"), default=True)
    points_cost = points_field(_("points cost"), validators=[MinValueValidator(0)])
    amount = money_field(_("money off"), null=True, blank=True)
    percent = models.DecimalField(_("percent off"), **PERCENT, null=True, blank=True)
    max_amount = money_field(
        _("at most, money"), null=True, blank=True, help_text=_("Caps a percent discount")
    )
    include = models.ManyToManyField(
        ProductSet,
        verbose_name=_("only these products"),
        blank=True,
        related_name="+",
        help_text=_("Empty: the whole basket (not allowed for a free product)"),
    )
    coupon_days = models.PositiveIntegerField(
        _("coupon lifetime, days"), default=30, validators=[MinValueValidator(1)]
    )
    stock = models.PositiveIntegerField(
        _("stock"),
        null=True,
        blank=True,
        help_text=_("Coupons that may be issued; empty: no limit"),
    )
    claimed = models.PositiveIntegerField(_("coupons issued"), default=0, editable=False)
    limit_per_customer = models.PositiveIntegerField(_("times per customer"), null=True, blank=True)
    tiers = models.ManyToManyField(
        Tier, verbose_name=_("tiers"), blank=True, help_text=_("Empty: every tier")
    )
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords(excluded_fields=["claimed"])

    KIND_PARAMS = {
        RewardKind.DISCOUNT_AMOUNT: ("amount",),
        RewardKind.DISCOUNT_PERCENT: ("percent", "max_amount"),
        RewardKind.FREE_PRODUCT: (),
        RewardKind.GIFT: (),
    }
    PARAMS = ("amount", "percent", "max_amount")

    class Meta:
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        ordering = ["program", "points_cost", "code"]
        constraints = [
            models.UniqueConstraint(fields=["program", "code"], name="reward_code_per_program"),
            models.CheckConstraint(
                condition=Q(stock__isnull=True) | Q(claimed__lte=F("stock")),
                name="reward_stock_not_oversold",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.code

    def clean(self):
        problems: dict[str, list] = {}

        def add(name, message):
            problems.setdefault(name, []).append(message)

        for name in self.PARAMS:
            if name not in self.KIND_PARAMS.get(self.kind, ()) and getattr(self, name) is not None:
                add(name, _("A reward of this kind does not use this; leave it empty."))
        if self.kind == RewardKind.DISCOUNT_AMOUNT and (self.amount is None or self.amount <= 0):
            add("amount", _("Give the money off, greater than zero."))
        if self.kind == RewardKind.DISCOUNT_PERCENT:
            if self.percent is None or not (0 < self.percent <= 100):
                add("percent", _("Give a percent greater than 0 and at most 100."))
            if self.max_amount is not None and self.max_amount <= 0:
                add("max_amount", _("The cap must be greater than zero; leave empty for none."))
        if self.points_cost is not None:
            if self.points_cost < 0:
                add("points_cost", _("The cost cannot be negative."))
            elif self.program_id and not points_exact(
                self.points_cost, precision=self.program.precision
            ):
                add("points_cost", _("Give at most the programme's decimal places."))
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            add("valid_until", _("The reward must end after it starts."))
        if self.limit_per_customer is not None and self.limit_per_customer < 1:
            add("limit_per_customer", _("Give 1 or more; leave empty for no limit."))
        if problems:
            raise ValidationError(problems)


class StaffProgramAccess(models.Model):
    """A staff user limited to some programmes (docs/security.md, "Staff and programmes").

    A staff user with no rows, and every superuser, sees every programme. A user with rows
    sees, changes and simulates only those programmes and what belongs to them.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff user"),
        on_delete=models.CASCADE,
        related_name="program_access",
    )
    program = models.ForeignKey(
        Program, verbose_name=_("programme"), on_delete=models.CASCADE, related_name="staff_access"
    )

    class Meta:
        verbose_name = _("staff access to a programme")
        verbose_name_plural = _("staff access to programmes")
        ordering = ["user", "program"]
        constraints = [
            models.UniqueConstraint(fields=["user", "program"], name="staff_program_access_once")
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.program}"
