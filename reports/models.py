"""Daily report aggregates, kept by the nightly job (reports.services.aggregates_refresh).

One set of rows per (programme, day) in the programme's time zone; a day is "stored" when its
``ProgramDay`` row exists. Every figure is what ``reports.selectors.days.ledger_days`` computes
from the live ledger for that day, written as it was at ``computed_at``. Readers take stored days
as they are and compute today (and any day not stored) live through the same selector, so the
dashboard and ``manage.py report_kpis`` read one code path (docs/reports.md).
"""

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

POINTS = {"max_digits": 16, "decimal_places": 2, "default": Decimal("0")}
MONEY = {"max_digits": 16, "decimal_places": 2, "default": Decimal("0")}


class ProgramDay(models.Model):
    """Programme-wide figures of one day; its presence marks the day as stored."""

    program = models.ForeignKey(
        "rules.Program", verbose_name=_("programme"), on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField(_("day"))
    new_members = models.PositiveIntegerField(_("new members"), default=0)
    active_members = models.PositiveIntegerField(_("active members"), default=0)
    issued = models.DecimalField(_("points issued"), **POINTS)
    redeemed = models.DecimalField(_("points redeemed"), **POINTS)
    expired = models.DecimalField(_("points expired"), **POINTS)
    clawed_back = models.DecimalField(_("points clawed back"), **POINTS)
    restored = models.DecimalField(_("points restored"), **POINTS)
    adjusted = models.DecimalField(_("points adjusted"), **POINTS)
    net = models.DecimalField(_("net points movement"), **POINTS)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("report day")
        verbose_name_plural = _("report days")
        ordering = ["program", "day"]
        constraints = [
            models.UniqueConstraint(fields=["program", "day"], name="report_program_day"),
        ]

    def __str__(self) -> str:
        return f"{self.program_id} {self.day}"


class OutletDay(models.Model):
    """Checks, sales and refunds of one outlet on one day."""

    program = models.ForeignKey(
        "rules.Program", verbose_name=_("programme"), on_delete=models.CASCADE, related_name="+"
    )
    outlet = models.ForeignKey(
        "rules.Outlet", verbose_name=_("outlet"), on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField(_("day"))
    member_checks = models.PositiveIntegerField(_("member checks"), default=0)
    anonymous_checks = models.PositiveIntegerField(_("anonymous checks"), default=0)
    member_sales = models.DecimalField(_("member sales"), **MONEY)
    anonymous_sales = models.DecimalField(_("anonymous sales"), **MONEY)
    refunded = models.DecimalField(_("refunded"), **MONEY)

    class Meta:
        verbose_name = _("outlet day")
        verbose_name_plural = _("outlet days")
        ordering = ["program", "day", "outlet"]
        constraints = [
            models.UniqueConstraint(fields=["program", "day", "outlet"], name="report_outlet_day"),
        ]

    def __str__(self) -> str:
        return f"{self.outlet_id} {self.day}"


class MemberDay(models.Model):
    """One member's counted checks at one outlet on one day: the base of distinct counts.

    ``cohort`` is the first day of the month the member joined, as known when the day was
    computed (a later offline upload that moves the join earlier is picked up by a rebuild).
    """

    program = models.ForeignKey(
        "rules.Program", verbose_name=_("programme"), on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField(_("day"))
    account = models.ForeignKey(
        "ledger.Account", verbose_name=_("account"), on_delete=models.CASCADE, related_name="+"
    )
    outlet = models.ForeignKey(
        "rules.Outlet", verbose_name=_("outlet"), on_delete=models.CASCADE, related_name="+"
    )
    cohort = models.DateField(_("cohort month"))
    checks = models.PositiveIntegerField(_("checks"), default=0)
    sales = models.DecimalField(_("sales"), **MONEY)

    class Meta:
        verbose_name = _("member day")
        verbose_name_plural = _("member days")
        ordering = ["program", "day", "account", "outlet"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "day", "account", "outlet"], name="report_member_day"
            ),
        ]
        indexes = [models.Index(fields=["account", "day"], name="report_member_day_account")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.day}"


class CampaignDay(models.Model):
    """Points the campaign's rules awarded on one day (not counting cancelled checks)."""

    program = models.ForeignKey(
        "rules.Program", verbose_name=_("programme"), on_delete=models.CASCADE, related_name="+"
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        verbose_name=_("campaign"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    day = models.DateField(_("day"))
    points = models.DecimalField(_("points awarded"), **POINTS)

    class Meta:
        verbose_name = _("campaign day")
        verbose_name_plural = _("campaign days")
        ordering = ["program", "day", "campaign"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "day", "campaign"], name="report_campaign_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.day}"


class CohortMonth(models.Model):
    """Members of a joining month active in a later (closed) month."""

    program = models.ForeignKey(
        "rules.Program", verbose_name=_("programme"), on_delete=models.CASCADE, related_name="+"
    )
    month = models.DateField(_("month"))
    cohort = models.DateField(_("cohort month"))
    active = models.PositiveIntegerField(_("active members"), default=0)

    class Meta:
        verbose_name = _("cohort month")
        verbose_name_plural = _("cohort months")
        ordering = ["program", "month", "cohort"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "month", "cohort"], name="report_cohort_month"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cohort} → {self.month}"


class AggregationState(models.Model):
    """How far the nightly job has read the ledger: changes after these ids touch old days."""

    program = models.OneToOneField(
        "rules.Program", verbose_name=_("programme"), on_delete=models.CASCADE, related_name="+"
    )
    last_operation_id = models.BigIntegerField(_("last operation read"), default=0)
    last_check_id = models.BigIntegerField(_("last check read"), default=0)
    last_account_id = models.BigIntegerField(_("last account read"), default=0)
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        verbose_name = _("aggregation state")
        verbose_name_plural = _("aggregation states")

    def __str__(self) -> str:
        return str(self.program_id)


class Dashboard(ProgramDay):
    """The admin dashboard's entry (no table of its own) and its permission."""

    class Meta:
        proxy = True
        verbose_name = _("dashboard")
        verbose_name_plural = _("dashboard")
        default_permissions = ()
        permissions = [("view_dashboard", _("Can view the reports dashboard"))]
