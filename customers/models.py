import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


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
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.phone or self.card_number or str(self.public_id)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def phone_masked(self) -> str:
        """+79991234567 → +7999***4567: enough for a cashier to confirm, too little to misuse."""
        if not self.phone:
            return ""
        return f"{self.phone[:5]}***{self.phone[-4:]}" if len(self.phone) > 9 else "***"
