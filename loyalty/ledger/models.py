"""The points ledger: accounts, checks, operations, lots and append-only entries.

Invariants (checked by ``services.ledger_reconcile``):
1. per account, cached available + pending == Σ entries == Σ lot.remaining;
2. only a refund clawback may take the balance below zero, as a *debt lot*, and only when the
   programme allows it; future credits repay debt first;
3. (program, source, idempotency_key) is unique per operation, so a replay never moves twice;
4. every point issued ends as remaining, redeemed, expired or clawed back;
5. writers lock the account row first, so operations on one account serialise; an operation
   moves only the lots of its own (locked) account.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.money import money_field, points_field

ZERO = Decimal("0")


class Account(models.Model):
    program = models.ForeignKey(
        "rules.Program",
        verbose_name=_("programme"),
        on_delete=models.PROTECT,
        related_name="accounts",
    )
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="accounts",
    )
    tier = models.ForeignKey(
        "rules.Tier",
        verbose_name=_("tier"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="accounts",
    )
    tier_since = models.DateTimeField(_("tier since"), null=True, blank=True)
    # Cached balances as of the last write; pending lots mature and positive lots expire by
    # time alone, so readers go through selectors.account_balance(), which recomputes once
    # ``pending_release_at`` (the next such moment, maturity or expiry) has passed.
    available = points_field(_("available points"), default=ZERO)
    pending = points_field(_("pending points"), default=ZERO)
    # Points a two-phase payment holds (docs/adr/0007-two-phase-payment.md): they sit in hold
    # lots until confirmed or released. A hold lot's ``available_at`` is the end of its
    # reservation, so an expired hold is available again by time alone, like a pending lot,
    # and ``pending_release_at`` is the next moment either kind matures.
    held = points_field(_("held points"), default=ZERO)
    pending_release_at = models.DateTimeField(_("next pending release"), null=True, blank=True)
    lifetime_spend = money_field(_("lifetime spend"), default=ZERO)
    lifetime_visits = models.PositiveIntegerField(_("lifetime visits"), default=0)
    lifetime_earned = points_field(_("lifetime points earned"), default=ZERO)
    last_purchase_at = models.DateTimeField(_("last purchase at"), null=True, blank=True)
    enrolled_at = models.DateTimeField(_("enrolled at"))
    enrolled_outlet = models.ForeignKey(
        "rules.Outlet",
        verbose_name=_("enrolled at outlet"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        ordering = ["program", "id"]
        constraints = [
            models.UniqueConstraint(fields=["program", "customer"], name="account_per_program"),
            models.CheckConstraint(
                condition=Q(pending__gte=0), name="account_pending_not_negative"
            ),
            models.CheckConstraint(condition=Q(held__gte=0), name="account_held_not_negative"),
        ]
        indexes = [
            models.Index(fields=["program", "last_purchase_at"]),
            # Reports count members by the day they joined (docs/reports.md).
            models.Index(fields=["program", "enrolled_at"], name="account_enrolled"),
        ]

    def __str__(self) -> str:
        return f"{self.customer} @ {self.program.code}"


class CheckStatus(models.TextChoices):
    RESERVED = "reserved", _("reserved")
    RESERVATION_EXPIRED = "expired", _("reservation expired")
    COMPLETED = "completed", _("completed")
    PARTIALLY_REFUNDED = "partially_refunded", _("partially refunded")
    REFUNDED = "refunded", _("refunded")
    CANCELLED = "cancelled", _("cancelled")


# Checks that are not purchases: voided, or reserved and not (yet) confirmed. Reports,
# segments and triggers count every other check.
NOT_PURCHASES = (CheckStatus.CANCELLED, CheckStatus.RESERVED, CheckStatus.RESERVATION_EXPIRED)


class Check(models.Model):
    public_id = models.UUIDField(_("id"), default=uuid.uuid4, unique=True, editable=False)
    program = models.ForeignKey(
        "rules.Program",
        verbose_name=_("programme"),
        on_delete=models.PROTECT,
        related_name="checks",
    )
    outlet = models.ForeignKey(
        "rules.Outlet", verbose_name=_("outlet"), on_delete=models.PROTECT, related_name="checks"
    )
    account = models.ForeignKey(
        Account,
        verbose_name=_("account"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="checks",
        help_text=_("Empty for an anonymous check"),
    )
    receipt_number = models.CharField(_("receipt number"), max_length=64)
    status = models.CharField(
        _("status"), max_length=20, choices=CheckStatus.choices, default=CheckStatus.COMPLETED
    )
    channel = models.CharField(_("channel"), max_length=10, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"), db_index=True)
    subtotal = money_field(_("subtotal"))
    discount = money_field(_("discount paid with points"), default=ZERO)
    coupon_discount = money_field(_("discount by coupons"), default=ZERO)
    coupons = models.JSONField(
        _("coupons applied"), default=list, blank=True, help_text=_("[{code, discount}]")
    )
    payable = money_field(_("payable"))
    redeemed_points = points_field(_("redeemed points"), default=ZERO)
    earned_points = points_field(_("earned points"), default=ZERO)
    refunded_amount = money_field(_("refunded amount"), default=ZERO)
    tier_code = models.CharField(_("tier at check time"), max_length=50, blank=True)
    breakdown = models.JSONField(_("breakdown"), default=list, blank=True)
    # Two-phase payment: a reserved check holds its points until then (confirm or release).
    reserved_until = models.DateTimeField(_("reserved until"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("check")
        verbose_name_plural = _("checks")
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["outlet", "receipt_number"], name="receipt_per_outlet"),
        ]
        indexes = [
            models.Index(fields=["account", "-occurred_at"]),
            # The release job's scan: reservations still open, by their end.
            models.Index(
                fields=["reserved_until"],
                name="check_reservation_open",
                condition=Q(status="reserved"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.receipt_number} ({self.subtotal})"


class CheckLine(models.Model):
    check_obj = models.ForeignKey(
        Check,
        verbose_name=_("check"),
        on_delete=models.CASCADE,
        related_name="lines",
        db_column="check_id",
    )
    index = models.PositiveIntegerField(_("index"))
    sku = models.CharField(_("SKU"), max_length=64, blank=True)
    category = models.CharField(_("category"), max_length=100, blank=True)
    name = models.CharField(_("name"), max_length=255, blank=True)
    quantity = models.DecimalField(_("quantity"), max_digits=14, decimal_places=3)
    price = money_field(_("price"))
    amount = money_field(_("amount"))
    is_promo = models.BooleanField(_("promo"), default=False)
    redeemed_points = points_field(_("redeemed points"), default=ZERO)
    discount = money_field(_("discount"), default=ZERO)
    coupon_discount = money_field(_("discount by coupons"), default=ZERO)
    earned_points = points_field(_("earned points"), default=ZERO)
    rule_points = models.JSONField(_("points per rule"), default=dict, blank=True)
    refunded_quantity = models.DecimalField(
        _("refunded quantity"), max_digits=14, decimal_places=3, default=ZERO
    )

    class Meta:
        verbose_name = _("check line")
        verbose_name_plural = _("check lines")
        ordering = ["check_obj", "index"]
        constraints = [
            models.UniqueConstraint(fields=["check_obj", "index"], name="check_line_index"),
            models.CheckConstraint(
                condition=Q(refunded_quantity__gte=0) & Q(refunded_quantity__lte=F("quantity")),
                name="check_line_refund_within_quantity",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.index} {self.sku} × {self.quantity}"


class OperationKind(models.TextChoices):
    CHECK = "check", _("purchase")
    REFUND = "refund", _("refund")
    CANCEL = "cancel", _("check cancelled")
    GRANT = "grant", _("bonus")
    EVENT = "event", _("event bonus")
    ADJUST = "adjust", _("manual adjustment")
    EXPIRE = "expire", _("expiry")
    TRANSFER = "transfer", _("transfer")
    HOLD = "hold", _("points held")
    RELEASE = "release", _("hold released")
    REWARD = "reward", _("reward claimed")


class Operation(models.Model):
    """One business event that moves points; its entries are the movements."""

    public_id = models.UUIDField(_("id"), default=uuid.uuid4, unique=True, editable=False)
    program = models.ForeignKey(
        "rules.Program", verbose_name=_("programme"), on_delete=models.PROTECT, related_name="+"
    )
    # No index of its own: ("account", "-id") below serves every lookup by account.
    account = models.ForeignKey(
        Account,
        verbose_name=_("account"),
        on_delete=models.PROTECT,
        related_name="operations",
        db_index=False,
    )
    kind = models.CharField(_("kind"), max_length=10, choices=OperationKind.choices)
    source = models.CharField(_("source"), max_length=64)
    idempotency_key = models.CharField(_("idempotency key"), max_length=200)
    check_obj = models.ForeignKey(
        Check,
        verbose_name=_("check"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="operations",
        db_column="check_id",
    )
    points = points_field(_("net points"), default=ZERO)
    description = models.CharField(_("description"), max_length=255, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    meta = models.JSONField(_("details"), default=dict, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("operation")
        verbose_name_plural = _("operations")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "source", "idempotency_key"], name="operation_idempotency"
            ),
        ]
        indexes = [
            models.Index(fields=["account", "-id"]),
            # Reports sum a day's movements by business time (docs/reports.md).
            models.Index(fields=["program", "occurred_at"], name="operation_business_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.points}"


class LotKind(models.TextChoices):
    EARN = "earn", _("earned on a purchase")
    GRANT = "grant", _("bonus")
    RESTORE = "restore", _("returned after a refund")
    ADJUST = "adjust", _("manual adjustment")
    DEBT = "debt", _("debt after a refund")
    HOLD = "hold", _("held for a reserved check")


class Lot(models.Model):
    """Points credited by one operation; ``remaining`` is what is left of them.

    A debt lot is the one exception: its amount and remaining are ≤ 0, and credits repay it.
    """

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="lots"
    )
    operation = models.ForeignKey(
        Operation, verbose_name=_("operation"), on_delete=models.PROTECT, related_name="lots"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=LotKind.choices)
    amount = points_field(_("amount"))
    remaining = points_field(_("remaining"))
    available_at = models.DateTimeField(_("available at"))
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    rule_code = models.CharField(_("rule"), max_length=64, blank=True)
    # Almost always empty: indexed only where set (``lot_restored_from``), so zeroing or
    # creating an ordinary lot does not write an index entry for a NULL.
    restored_from = models.ForeignKey(
        "self",
        verbose_name=_("restored from"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="restorations",
        db_index=False,
    )
    # A hold lot's source: where a release gives its points back (indexed only where set).
    held_from = models.ForeignKey(
        "self",
        verbose_name=_("held from"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="holds",
        db_index=False,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("lot")
        verbose_name_plural = _("lots")
        ordering = ["account", "expires_at", "available_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="debt", amount__lte=0, remaining__lte=0, remaining__gte=F("amount"))
                    | (
                        ~Q(kind="debt")
                        & Q(amount__gt=0, remaining__gte=0, remaining__lte=F("amount"))
                    )
                ),
                name="lot_remaining_within_amount",
            ),
        ]
        indexes = [
            models.Index(
                fields=["account", "expires_at", "available_at", "id"],
                name="lot_open_fifo",
                condition=~Q(remaining=0),
            ),
            models.Index(fields=["expires_at"], name="lot_expiry", condition=Q(remaining__gt=0)),
            # Debts a new credit repays first: almost always empty, so the probe a commit makes
            # when it earns costs one look into an empty index.
            models.Index(fields=["account"], name="lot_debt", condition=Q(remaining__lt=0)),
            models.Index(
                fields=["restored_from"],
                name="lot_restored_from",
                condition=Q(restored_from__isnull=False),
            ),
            models.Index(
                fields=["held_from"],
                name="lot_held_from",
                condition=Q(held_from__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.remaining}/{self.amount}"


class EntryKind(models.TextChoices):
    EARN = "earn", _("earned")
    REDEEM = "redeem", _("redeemed")
    EXPIRE = "expire", _("expired")
    CLAWBACK = "clawback", _("clawed back")
    RESTORE = "restore", _("restored")
    ADJUST = "adjust", _("adjusted")
    REPAY = "repay", _("debt repaid")
    DEBT = "debt", _("debt")
    HOLD = "hold", _("held")
    RELEASE = "release", _("released")


class Entry(models.Model):
    """An append-only signed movement of one lot by one operation."""

    operation = models.ForeignKey(
        Operation, verbose_name=_("operation"), on_delete=models.PROTECT, related_name="entries"
    )
    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="entries"
    )
    lot = models.ForeignKey(
        Lot, verbose_name=_("lot"), on_delete=models.PROTECT, related_name="entries"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=EntryKind.choices)
    amount = points_field(_("amount"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("entry")
        verbose_name_plural = _("entries")
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="entry_not_zero")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"


class Refund(models.Model):
    public_id = models.UUIDField(_("id"), default=uuid.uuid4, unique=True, editable=False)
    check_obj = models.ForeignKey(
        Check,
        verbose_name=_("check"),
        on_delete=models.PROTECT,
        related_name="refunds",
        db_column="check_id",
    )
    operation = models.OneToOneField(
        Operation, verbose_name=_("operation"), on_delete=models.PROTECT, related_name="refund"
    )
    lines = models.JSONField(_("returned lines"), default=list)
    amount = money_field(_("refunded amount"), default=ZERO)
    clawed_back_points = points_field(_("clawed back"), default=ZERO)
    restored_points = points_field(_("restored"), default=ZERO)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.check_obj} −{self.amount}"


class RuleAward(models.Model):
    """Points a rule gave on one operation: per-customer limits, budgets and ROI read these."""

    operation = models.ForeignKey(
        Operation, verbose_name=_("operation"), on_delete=models.PROTECT, related_name="awards"
    )
    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="awards"
    )
    rule = models.ForeignKey(
        "rules.EarnRule",
        verbose_name=_("rule"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="awards",
    )
    rule_code = models.CharField(_("rule"), max_length=64)
    points = points_field(_("points"))
    cancelled = models.BooleanField(_("cancelled"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("rule award")
        verbose_name_plural = _("rule awards")
        ordering = ["-id"]
        indexes = [models.Index(fields=["account", "rule_code"])]

    def __str__(self) -> str:
        return f"{self.rule_code}: {self.points}"


class Coupon(models.Model):
    """A reward coupon: issued when a customer claims a reward, bound to that customer's
    account, used once at the till (or, for a gift, handed out by staff).

    ``used_check`` is the check that used it; a cancel of that check clears it again while
    the coupon is still valid (docs/api.md). Expiry is by time alone (``expires_at``).
    """

    program = models.ForeignKey(
        "rules.Program", verbose_name=_("programme"), on_delete=models.PROTECT, related_name="+"
    )
    code = models.CharField(_("code"), max_length=20)
    reward = models.ForeignKey(
        "rules.Reward", verbose_name=_("reward"), on_delete=models.PROTECT, related_name="coupons"
    )
    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="coupons"
    )
    operation = models.OneToOneField(
        Operation,
        verbose_name=_("claim"),
        on_delete=models.PROTECT,
        related_name="coupon",
    )
    points_cost = points_field(_("points paid"))
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    used_check = models.ForeignKey(
        Check,
        verbose_name=_("used on check"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="used_coupons",
    )
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handed out by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("claimed at"))

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["program", "code"], name="coupon_code_per_program"),
        ]
        indexes = [
            models.Index(fields=["account", "reward"], name="coupon_account_reward"),
            models.Index(fields=["program", "created_at"], name="coupon_program_claimed"),
        ]

    def __str__(self) -> str:
        return self.code

    def status_at(self, now) -> str:
        if self.used_at is not None:
            return "used"
        if now >= self.expires_at:
            return "expired"
        return "active"


class MemberProfile(models.Model):
    """What one programme knows of its member: names, email, birth date, card, consents.

    One per account (customer × programme). No programme reads another's profile: the global
    ``Customer`` only identifies the person (phone); everything a programme collected lives
    here, and consents are given to this programme. ``public_id`` is the customer ``id`` the
    POS API shows to this programme's terminals, different in every programme.
    """

    account = models.OneToOneField(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="profile"
    )
    program = models.ForeignKey(
        "rules.Program",
        verbose_name=_("programme"),
        on_delete=models.PROTECT,
        related_name="member_profiles",
    )
    public_id = models.UUIDField(_("customer id"), default=uuid.uuid4, unique=True, editable=False)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    email = models.EmailField(_("email"), blank=True, db_index=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    card_number = models.CharField(_("card number"), max_length=32, null=True, blank=True)
    consent_sms = models.BooleanField(_("SMS consent"), default=False)
    consent_sms_at = models.DateTimeField(_("SMS consent changed at"), null=True, blank=True)
    consent_email = models.BooleanField(_("email consent"), default=False)
    consent_email_at = models.DateTimeField(_("email consent changed at"), null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("member profile")
        verbose_name_plural = _("member profiles")
        ordering = ["program", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "card_number"], name="member_card_per_program"
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or str(self.public_id)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class TierChange(models.Model):
    """One change of an account's tier (the status history), written with the change itself.

    Every tier change goes through ``services.tiers._tier_set``, which writes this row in the
    same transaction; an account's first tier is set when it opens and has no row. The reports
    count members by tier from a nightly snapshot corrected by the changes after it.
    """

    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="tier_changes"
    )
    program = models.ForeignKey(
        "rules.Program", verbose_name=_("programme"), on_delete=models.PROTECT, related_name="+"
    )
    old_tier = models.ForeignKey(
        "rules.Tier",
        verbose_name=_("previous tier"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    new_tier = models.ForeignKey(
        "rules.Tier",
        verbose_name=_("new tier"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    upgrade = models.BooleanField(_("upgrade"))
    changed_at = models.DateTimeField(_("changed at"))

    class Meta:
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        ordering = ["account", "id"]
        indexes = [models.Index(fields=["program", "id"], name="tier_change_program")]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.old_tier_id} → {self.new_tier_id}"
