import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from customers.phones import phone_mask


def new_referral_code() -> str:
    # 8 characters from an alphabet without look-alikes: easy to dictate, 32^8 ≈ 10^12 codes.
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(8))


class Customer(models.Model):
    """A person in the loyalty platform; their points live in one ledger account per programme."""

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    phone = models.CharField(
        _("phone"), max_length=20, unique=True, null=True, blank=True, help_text=_("E.164")
    )
    email = models.EmailField(_("email"), blank=True, db_index=True)
    card_number = models.CharField(
        _("card number"), max_length=32, unique=True, null=True, blank=True
    )
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    registered_at = models.DateTimeField(_("registered at"), db_index=True)
    referral_code = models.CharField(
        _("referral code"), max_length=16, unique=True, default=new_referral_code
    )
    referred_by = models.ForeignKey(
        "self",
        verbose_name=_("referred by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="referrals",
    )
    consent_sms = models.BooleanField(_("SMS consent"), default=False)
    consent_sms_at = models.DateTimeField(_("SMS consent changed at"), null=True, blank=True)
    consent_email = models.BooleanField(_("email consent"), default=False)
    consent_email_at = models.DateTimeField(_("email consent changed at"), null=True, blank=True)
    is_blocked = models.BooleanField(_("blocked"), default=False)
    blocked_reason = models.CharField(_("block reason"), max_length=255, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("cabinet user"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="customer",
    )

    history = HistoricalRecords(excluded_fields=["registered_at"])

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["-registered_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(referred_by=models.F("id")), name="customer_not_self_referred"
            ),
        ]

    def __str__(self) -> str:
        # Names belong to the programmes (member profiles), not to the global record.
        return self.phone_masked or str(self.public_id)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def phone_masked(self) -> str:
        """+79991234567 → +7999***4567 (see ``phone_mask``)."""
        return phone_mask(self.phone)


class CodePurpose(models.TextChoices):
    TILL = "till", _("identification at the till")
    SIGNUP = "signup", _("sign-up confirmation")


class OneTimeCode(models.Model):
    """A short-lived code a customer shows at the till or types to confirm sign-up.

    Only a digest of the code is stored; ``used_at`` is set once, atomically, on consumption.
    """

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="one_time_codes",
    )
    purpose = models.CharField(_("purpose"), max_length=10, choices=CodePurpose.choices)
    code_digest = models.CharField(_("code digest"), max_length=64, db_index=True)
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("one-time code")
        verbose_name_plural = _("one-time codes")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["purpose", "code_digest"], name="otc_purpose_digest"),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} · {self.customer}"


class ErasureRecord(models.Model):
    """The audit of one erasure of a person's data on request (152-FZ / GDPR): who, when, why,
    and a non-reversible reference (an HMAC of the phone), never the data itself."""

    customer = models.OneToOneField(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="erasure",
    )
    reference = models.CharField(_("reference"), max_length=64, db_index=True)
    reason = models.TextField(_("reason"))
    erased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("erased by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    erased_at = models.DateTimeField(_("erased at"))

    class Meta:
        verbose_name = _("erasure record")
        verbose_name_plural = _("erasure records")
        ordering = ["-erased_at", "-id"]

    def __str__(self) -> str:
        return f"{self.reference[:12]} · {self.erased_at:%Y-%m-%d}"
