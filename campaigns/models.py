"""Segments, campaigns, triggers and personal offers.

Segments live here rather than in ``customers`` (see docs/adr/0004-campaigns-and-segments.md):
a segment belongs to a programme and its membership is computed from ledger accounts, and
``customers`` must not depend on ``loyalty``. Rules reference segments by code only (data), so
the rules app imports none of this.
"""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.money import money_field, points_field

ZERO = Decimal("0")


# --- segments -------------------------------------------------------------------------------------


class Segment(models.Model):
    """A dynamic audience: accounts matching ``conditions`` (see ``campaigns.segments``).

    A segment without a programme is built in and evaluated in every programme.
    """

    program = models.ForeignKey(
        "rules.Program",
        verbose_name=_("programme"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="segments",
        help_text=_("Empty: available in every programme"),
    )
    code = models.SlugField(
        _("code"), max_length=50, help_text=_("Rules and offers refer to the segment by it")
    )
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    conditions = models.JSONField(
        _("conditions"),
        default=dict,
        blank=True,
        help_text=_(
            'A group {"all": [...]} or {"any": [...]} of conditions and nested groups; '
            'a condition is {"field": …, "op": …, "value": …}. Empty: every member.'
        ),
    )
    is_builtin = models.BooleanField(_("built in"), default=False, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    refreshed_at = models.DateTimeField(_("refreshed at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["refreshed_at"])

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["program", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "code"],
                condition=Q(program__isnull=False),
                name="segment_code_per_program",
            ),
            models.UniqueConstraint(
                fields=["code"], condition=Q(program__isnull=True), name="segment_code_builtin"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class SegmentMembership(models.Model):
    """Who is in a segment, as of its last refresh (set-based, nightly)."""

    segment = models.ForeignKey(
        Segment, verbose_name=_("segment"), on_delete=models.CASCADE, related_name="memberships"
    )
    account = models.ForeignKey(
        "ledger.Account",
        verbose_name=_("account"),
        on_delete=models.CASCADE,
        related_name="segment_memberships",
    )
    since = models.DateTimeField(_("member since"))

    class Meta:
        verbose_name = _("segment member")
        verbose_name_plural = _("segment members")
        ordering = ["segment", "account"]
        constraints = [
            models.UniqueConstraint(fields=["segment", "account"], name="segment_member_once"),
        ]
        indexes = [models.Index(fields=["account"], name="segment_member_account")]

    def __str__(self) -> str:
        return f"{self.segment.code}: {self.account_id}"


class RfmScore(models.Model):
    """Recency, frequency and monetary quintiles (1–5, 5 best) of one account, nightly."""

    # A derived table rewritten every night, a million rows at a time: no database-level
    # foreign keys (their per-row checks were most of the refresh time); the ORM still cascades.
    account = models.OneToOneField(
        "ledger.Account",
        verbose_name=_("account"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="rfm",
        db_constraint=False,
    )
    program = models.ForeignKey(
        "rules.Program",
        verbose_name=_("programme"),
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
    )
    recency_days = models.PositiveIntegerField(_("days since last purchase"), null=True)
    frequency = models.PositiveIntegerField(_("purchases in the period"), default=0)
    monetary = money_field(_("spend in the period"), default=ZERO)
    r = models.PositiveSmallIntegerField(_("R"))
    f = models.PositiveSmallIntegerField(_("F"))
    m = models.PositiveSmallIntegerField(_("M"))
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("RFM score")
        verbose_name_plural = _("RFM scores")
        ordering = ["program", "-r", "-f", "-m", "account"]
        indexes = [models.Index(fields=["program", "r", "f", "m"], name="rfm_scores")]

    def __str__(self) -> str:
        return f"{self.r}{self.f}{self.m}"

    @property
    def code(self) -> str:
        return f"{self.r}{self.f}{self.m}"


# --- campaigns ------------------------------------------------------------------------------------


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    SCHEDULED = "scheduled", _("scheduled")
    RUNNING = "running", _("running")
    PAUSED = "paused", _("paused")
    FINISHED = "finished", _("finished")


class Campaign(models.Model):
    """A time-bound promotion: its own earn rules, for an audience, within a points budget."""

    program = models.ForeignKey(
        "rules.Program",
        verbose_name=_("programme"),
        on_delete=models.PROTECT,
        related_name="campaigns",
    )
    code = models.SlugField(_("code"), max_length=50)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=CampaignStatus.choices,
        default=CampaignStatus.DRAFT,
        editable=False,
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)
    segment = models.ForeignKey(
        Segment,
        verbose_name=_("target segment"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="campaigns",
        help_text=_("Empty: every member of the programme"),
    )
    control_percent = models.DecimalField(
        _("control group, %"),
        max_digits=5,
        decimal_places=2,
        default=ZERO,
        validators=[MinValueValidator(ZERO), MaxValueValidator(Decimal("50"))],
        help_text=_("This share of the audience is excluded at random, to measure the uplift"),
    )
    budget_points = points_field(
        _("points budget"),
        null=True,
        blank=True,
        validators=[MinValueValidator(ZERO)],
        help_text=_("The campaign's rules stop awarding when it is spent. Empty: no limit"),
    )
    rules = models.ManyToManyField(
        "rules.EarnRule",
        through="CampaignRule",
        verbose_name=_("earn rules"),
        blank=True,
        related_name="campaigns",
    )
    promo_code = models.CharField(
        _("promo code"),
        max_length=30,
        blank=True,
        help_text=_(
            "Given at the till, it switches on the campaign's rules that require a code. "
            "Empty: no code"
        ),
    )
    promo_limit_total = models.PositiveIntegerField(
        _("promo code uses in total"), null=True, blank=True, help_text=_("Empty: no limit")
    )
    promo_limit_per_customer = models.PositiveIntegerField(
        _("promo code uses per customer"), null=True, blank=True, help_text=_("Empty: no limit")
    )
    # Uses of the code by committed checks: changed only with F() by campaigns.promo.
    promo_uses = models.PositiveIntegerField(_("promo code uses"), default=0, editable=False)
    message_title = models.CharField(_("launch message title"), max_length=200, blank=True)
    message_text = models.TextField(
        _("launch message text"), blank=True, help_text=_("Empty: no message at launch")
    )
    messages_sent_at = models.DateTimeField(
        _("launch messages sent at"), null=True, blank=True, editable=False
    )
    launched_at = models.DateTimeField(_("launched at"), null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["promo_uses"])

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["program", "-starts_at", "code"]
        constraints = [
            models.UniqueConstraint(fields=["program", "code"], name="campaign_code_per_program"),
            models.UniqueConstraint(
                fields=["program", "promo_code"],
                condition=~Q(promo_code=""),
                name="campaign_promo_code_per_program",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=models.F("starts_at")),
                name="campaign_ends_after_start",
            ),
        ]
        indexes = [models.Index(fields=["status", "starts_at"], name="campaign_due")]

    def __str__(self) -> str:
        return self.name

    @property
    def audience_code(self) -> str:
        """The pseudo-segment the campaign's rules require (see campaigns.providers)."""
        return f"campaign:{self.code}"


class CampaignRule(models.Model):
    """Links an earn rule to the campaign that owns it; a rule belongs to one campaign."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="links"
    )
    rule = models.OneToOneField(
        "rules.EarnRule",
        verbose_name=_("earn rule"),
        on_delete=models.CASCADE,
        related_name="campaign_link",
    )
    requires_code = models.BooleanField(
        _("requires the promo code"),
        default=False,
        help_text=_("The rule awards only on a check that gives the campaign's promo code"),
    )

    class Meta:
        verbose_name = _("campaign rule")
        verbose_name_plural = _("campaign rules")
        ordering = ["campaign", "rule"]

    def __str__(self) -> str:
        return str(self.rule)


class CampaignMember(models.Model):
    """The campaign's persisted audience draw: who is in the control group never changes."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="members"
    )
    account = models.ForeignKey(
        "ledger.Account",
        verbose_name=_("account"),
        on_delete=models.CASCADE,
        related_name="campaign_members",
    )
    is_control = models.BooleanField(_("control group"), default=False)
    assigned_at = models.DateTimeField(_("assigned at"))

    class Meta:
        verbose_name = _("campaign member")
        verbose_name_plural = _("campaign members")
        ordering = ["campaign", "account"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "account"], name="campaign_member_once"),
        ]
        indexes = [models.Index(fields=["account"], name="campaign_member_account")]

    def __str__(self) -> str:
        return f"{self.campaign.code}: {self.account_id}{' (control)' if self.is_control else ''}"


class PromoCodeUse(models.Model):
    """One committed check that used a campaign's promo code; cancelled with the check."""

    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        on_delete=models.CASCADE,
        related_name="promo_uses_log",
    )
    account = models.ForeignKey(
        "ledger.Account",
        verbose_name=_("account"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty for an anonymous check"),
    )
    check_obj = models.ForeignKey(
        "ledger.Check",
        verbose_name=_("check"),
        on_delete=models.CASCADE,
        related_name="+",
        db_column="check_id",
    )
    cancelled = models.BooleanField(_("cancelled"), default=False)
    used_at = models.DateTimeField(_("used at"))

    class Meta:
        verbose_name = _("promo code use")
        verbose_name_plural = _("promo code uses")
        ordering = ["-used_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "check_obj"], name="promo_use_once_per_check"
            )
        ]
        indexes = [models.Index(fields=["campaign", "account"], name="promo_use_account")]

    def __str__(self) -> str:
        return f"{self.campaign.code}: {self.check_obj_id}"


# --- triggers -------------------------------------------------------------------------------------


class TriggerConfig(models.Model):
    """Automatic bonuses of one programme. Zero points switch a trigger off."""

    program = models.OneToOneField(
        "rules.Program",
        verbose_name=_("programme"),
        on_delete=models.CASCADE,
        related_name="trigger_config",
    )
    welcome_points = points_field(
        _("welcome bonus, points"), default=ZERO, validators=[MinValueValidator(ZERO)]
    )
    welcome_lifetime_days = models.PositiveIntegerField(
        _("welcome points lifetime, days"),
        null=True,
        blank=True,
        help_text=_("Empty: the programme's lifetime"),
    )
    birthday_points = points_field(
        _("birthday bonus, points"), default=ZERO, validators=[MinValueValidator(ZERO)]
    )
    birthday_days_before = models.PositiveSmallIntegerField(
        _("days before the birthday"),
        default=0,
        validators=[MaxValueValidator(60)],
        help_text=_("0: on the day itself"),
    )
    birthday_lifetime_days = models.PositiveIntegerField(
        _("birthday points lifetime, days"),
        null=True,
        blank=True,
        default=14,
        help_text=_("Empty: the programme's lifetime"),
    )
    winback_points = points_field(
        _("win-back bonus, points"), default=ZERO, validators=[MinValueValidator(ZERO)]
    )
    winback_after_days = models.PositiveIntegerField(
        _("sleeping after, days without purchases"),
        default=90,
        validators=[MinValueValidator(1)],
    )
    winback_lifetime_days = models.PositiveIntegerField(
        _("win-back points lifetime, days"),
        null=True,
        blank=True,
        default=30,
        help_text=_("Empty: the programme's lifetime"),
    )
    winback_message = models.BooleanField(_("send a win-back message"), default=True)
    referral_referrer_points = points_field(
        _("referral: points to the referrer"),
        default=ZERO,
        validators=[MinValueValidator(ZERO)],
    )
    referral_friend_points = points_field(
        _("referral: points to the new customer"),
        default=ZERO,
        validators=[MinValueValidator(ZERO)],
    )
    referral_min_amount = money_field(
        _("referral: minimum first purchase"),
        default=ZERO,
        validators=[MinValueValidator(ZERO)],
    )
    referral_limit_per_year = models.PositiveIntegerField(
        _("referral: rewarded friends per referrer a year"),
        null=True,
        blank=True,
        help_text=_("Empty: no limit"),
    )
    referral_lifetime_days = models.PositiveIntegerField(
        _("referral points lifetime, days"),
        null=True,
        blank=True,
        help_text=_("Empty: the programme's lifetime"),
    )
    budget_points = points_field(
        _("points budget of all triggers"),
        null=True,
        blank=True,
        validators=[MinValueValidator(ZERO)],
        help_text=_("Triggers stop granting when it is spent. Empty: no limit"),
    )
    # Changed only by campaigns.triggers with F() under the row lock, never by forms.
    budget_used = points_field(_("budget used"), default=ZERO, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["budget_used"])

    class Meta:
        verbose_name = _("trigger settings")
        verbose_name_plural = _("trigger settings")
        ordering = ["program"]
        constraints = [
            models.CheckConstraint(condition=Q(budget_used__gte=0), name="trigger_budget_used"),
        ]

    def __str__(self) -> str:
        return str(_("Triggers of %(program)s") % {"program": self.program})


class ReferralStatus(models.TextChoices):
    PENDING = "pending", _("waiting to be granted")
    GRANTED = "granted", _("granted")
    REJECTED = "rejected", _("not eligible")
    CANCELLED = "cancelled", _("first check cancelled before the grant")
    REVERSED = "reversed", _("reversed (check cancelled)")


class Referral(models.Model):
    """A referred customer's first purchase and what it earned both sides; one per friend."""

    program = models.ForeignKey(
        "rules.Program", verbose_name=_("programme"), on_delete=models.CASCADE, related_name="+"
    )
    referrer = models.ForeignKey(
        "ledger.Account",
        verbose_name=_("referrer"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="referrals_made",
    )
    friend = models.OneToOneField(
        "ledger.Account",
        verbose_name=_("new customer"),
        on_delete=models.CASCADE,
        related_name="referral",
    )
    check_obj = models.ForeignKey(
        "ledger.Check",
        verbose_name=_("first check"),
        on_delete=models.CASCADE,
        related_name="+",
        db_column="check_id",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=ReferralStatus.choices, default=ReferralStatus.PENDING
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"))
    granted_at = models.DateTimeField(_("granted at"), null=True, blank=True)
    reversed_at = models.DateTimeField(_("reversed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"], name="referral_status")]

    def __str__(self) -> str:
        return f"{self.referrer_id} → {self.friend_id}"


# --- personal offers ------------------------------------------------------------------------------


class Offer(models.Model):
    """A personal offer: rules that apply only for its audience (and after activation)."""

    program = models.ForeignKey(
        "rules.Program",
        verbose_name=_("programme"),
        on_delete=models.CASCADE,
        related_name="offers",
    )
    code = models.SlugField(_("code"), max_length=50)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    rules = models.ManyToManyField(
        "rules.EarnRule",
        through="OfferRule",
        verbose_name=_("earn rules it unlocks"),
        blank=True,
        related_name="offers",
    )
    segment = models.ForeignKey(
        Segment,
        verbose_name=_("segment"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="offers",
    )
    customers = models.ManyToManyField(
        "customers.Customer",
        verbose_name=_("chosen customers"),
        blank=True,
        related_name="personal_offers",
    )
    requires_activation = models.BooleanField(
        _("requires activation"),
        default=True,
        help_text=_("The customer activates it in the cabinet before it applies at the till"),
    )
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("personal offer")
        verbose_name_plural = _("personal offers")
        ordering = ["program", "-valid_from", "code"]
        constraints = [
            models.UniqueConstraint(fields=["program", "code"], name="offer_code_per_program"),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True)
                | Q(valid_from__isnull=True)
                | Q(valid_until__gt=models.F("valid_from")),
                name="offer_valid_window",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class OfferRule(models.Model):
    offer = models.ForeignKey(
        Offer, verbose_name=_("offer"), on_delete=models.CASCADE, related_name="links"
    )
    rule = models.OneToOneField(
        "rules.EarnRule",
        verbose_name=_("earn rule"),
        on_delete=models.CASCADE,
        related_name="offer_link",
    )

    class Meta:
        verbose_name = _("offer rule")
        verbose_name_plural = _("offer rules")
        ordering = ["offer", "rule"]

    def __str__(self) -> str:
        return str(self.rule)


class OfferActivation(models.Model):
    offer = models.ForeignKey(
        Offer, verbose_name=_("offer"), on_delete=models.CASCADE, related_name="activations"
    )
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="offer_activations",
    )
    activated_at = models.DateTimeField(_("activated at"))

    class Meta:
        verbose_name = _("offer activation")
        verbose_name_plural = _("offer activations")
        ordering = ["-activated_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["offer", "customer"], name="offer_activation_once"),
        ]
        indexes = [models.Index(fields=["customer"], name="offer_activation_customer")]

    def __str__(self) -> str:
        return f"{self.offer.code}: {self.customer_id}"
