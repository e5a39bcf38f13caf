"""What the clock did: one row per job run, and alerts that need a human."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class JobStatus(models.TextChoices):
    RUNNING = "running", _("running")
    SUCCEEDED = "succeeded", _("succeeded")
    FAILED = "failed", _("failed")


class JobRun(models.Model):
    """One run of a scheduled job.

    A *period job* (expiry for an hour, reminders for a day) has a ``period_key``; the pair
    (job, period_key) is unique, so a second run for the same period finds the row and does
    nothing. Jobs without a period (the outbox dispatcher) leave it empty.
    """

    job = models.CharField(_("job"), max_length=100)
    period_key = models.CharField(_("period"), max_length=64, null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=JobStatus.choices, default=JobStatus.RUNNING
    )
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    rows_touched = models.PositiveBigIntegerField(_("rows touched"), default=0)
    attempts = models.PositiveIntegerField(
        _("attempts"), default=1, help_text=_("How many times this period was started")
    )
    details = models.JSONField(_("details"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "period_key"],
                condition=Q(period_key__isnull=False),
                name="jobrun_once_per_period",
            ),
        ]
        indexes = [models.Index(fields=["job", "-started_at"], name="jobrun_job_recent")]

    def __str__(self) -> str:
        return f"{self.job} [{self.period_key or '—'}] {self.get_status_display()}"

    @property
    def duration(self):
        if self.finished_at is None:
            return None
        return self.finished_at - self.started_at


class AlertLevel(models.TextChoices):
    WARNING = "warning", _("warning")
    ERROR = "error", _("error")


class Alert(models.Model):
    """Something a job found that staff must look at (the in-admin twin of mail_admins)."""

    source = models.CharField(_("source"), max_length=100)
    level = models.CharField(
        _("level"), max_length=10, choices=AlertLevel.choices, default=AlertLevel.ERROR
    )
    title = models.CharField(_("title"), max_length=255)
    details = models.TextField(_("details"), blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"))
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("acknowledged by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["-created_at"],
                name="alert_open",
                condition=Q(acknowledged_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return self.title
