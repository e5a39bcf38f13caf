"""Message templates and the outbox.

A ``Template`` is the text of one event on one channel in one language, written by a marketer
in Django template syntax. A ``Message`` is one outbox row: rendered when the event happens
(inside the transaction that caused it), sent later by the dispatcher, never sent twice for
the same idempotency key.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    EMAIL = "email", _("email")
    SMS = "sms", _("SMS")
    CABINET = "cabinet", _("personal cabinet")


class Template(models.Model):
    event = models.CharField(_("event"), max_length=64)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    program = models.ForeignKey(
        "rules.Program",
        verbose_name=_("programme"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty: used by every programme without a template of its own"),
    )
    subject = models.CharField(
        _("subject"),
        max_length=255,
        blank=True,
        help_text=_("Email subject or cabinet title; SMS have none"),
    )
    body = models.TextField(_("body"), help_text=_("Django template syntax: {{ variable }}"))
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["event", "channel", "language", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "channel", "language"],
                condition=Q(program__isnull=True),
                name="template_default_per_event_channel_language",
            ),
            models.UniqueConstraint(
                fields=["program", "event", "channel", "language"],
                condition=Q(program__isnull=False),
                name="template_per_program_event_channel_language",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} · {self.get_channel_display()} · {self.language}"


class MessageStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    SENDING = "sending", _("sending")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")
    SKIPPED = "skipped", _("skipped")


class Message(models.Model):
    """One outbox row. ``sending`` carries a lease: past ``lease_until`` it is retried."""

    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="messages",
    )
    program = models.ForeignKey(
        "rules.Program",
        verbose_name=_("programme"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    event = models.CharField(_("event"), max_length=64)
    language = models.CharField(_("language"), max_length=10)
    template = models.ForeignKey(
        Template,
        verbose_name=_("template"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
    )
    marketing = models.BooleanField(_("marketing"), default=False)
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    body = models.TextField(_("body"), blank=True)
    recipient = models.CharField(_("recipient"), max_length=255, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64)
    status = models.CharField(
        _("status"), max_length=10, choices=MessageStatus.choices, default=MessageStatus.PENDING
    )
    status_reason = models.CharField(_("reason"), max_length=255, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    scheduled_for = models.DateTimeField(_("scheduled for"))
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True)
    claim_token = models.UUIDField(_("claim"), null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    provider_message_id = models.CharField(_("provider message id"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["scheduled_for", "id"],
                name="message_due",
                condition=Q(status="pending"),
            ),
            models.Index(
                fields=["lease_until"],
                name="message_lease",
                condition=Q(status="sending"),
            ),
            models.Index(
                fields=["customer", "channel", "-created_at"], name="message_customer_recent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.customer} ({self.get_channel_display()})"
