"""API keys of POS terminals and the stored first responses of idempotent writes."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey


class OutletAPIKey(AbstractAPIKey):
    """A terminal's key: it acts as its outlet, inside the outlet's programme only.

    The library stores a SHA-512 of the key and shows the key once, on creation.
    """

    outlet = models.ForeignKey(
        "rules.Outlet",
        verbose_name=_("outlet"),
        on_delete=models.CASCADE,
        related_name="api_keys",
    )
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = _("POS API key")
        verbose_name_plural = _("POS API keys")


class IdempotentRequest(models.Model):
    """The first response to a write sent with an ``Idempotency-Key``, replayed on a retry.

    Keys are scoped to the outlet (all terminals of a till share the receipt numbering). The row
    is inserted in the same transaction as the write it guards, so a concurrent request with the
    same key blocks on the unique index until the first one commits or rolls back.
    """

    outlet = models.ForeignKey(
        "rules.Outlet", verbose_name=_("outlet"), on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(_("idempotency key"), max_length=100)
    request_hash = models.CharField(_("request hash"), max_length=64)
    status_code = models.PositiveSmallIntegerField(_("status code"), default=0)
    response_body = models.BinaryField(_("response body"), default=b"")
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("idempotent request")
        verbose_name_plural = _("idempotent requests")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["outlet", "key"], name="idempotency_key_per_outlet"),
        ]

    def __str__(self) -> str:
        return f"{self.outlet_id}:{self.key}"
