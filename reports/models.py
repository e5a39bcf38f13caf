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
    # The highest campaign-audience row counted into the day's campaign cells (ADR 0012).
    audience_mark = models.BigIntegerField(_("audience rows counted"), default=0)
    # The highest ledger entry id the day's point figures could count: an entry dated on the
    # day with a higher id came later and is not in ``net`` (None: stored before the mark
    # was kept). Readers add those to the stored nets to get the liability now.
    entry_mark = models.BigIntegerField(_("ledger entries counted up to"), null=True, blank=True)
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
    # The member's previous stored day at this outlet (None: the first).
    outlet_prev = models.DateField(_("previous day at the outlet"), null=True, blank=True)

    class Meta:
        verbose_name = _("member day")
        verbose_name_plural = _("member days")
        ordering = ["program", "day", "account", "outlet"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "day", "account", "outlet"], name="report_member_day"
            ),
        ]
        indexes = [
            # Covering: today's buyers' stored rows are read by the index alone (PostgreSQL).
            models.Index(
                fields=["account", "day"],
                name="report_member_day_account",
                include=["program", "outlet", "cohort", "checks", "sales", "outlet_prev"],
            ),
            models.Index(fields=["account", "outlet", "day"], name="report_member_day_outlet"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.day}"


class MemberVisit(models.Model):
    """One member's counted checks on one day, all outlets together, linked to the days before.

    ``prev_day`` / ``prev2_day`` are the member's two previous stored days (None: none) and
    ``prev_checks`` the checks of ``prev_day``; ``first_in_month``: no earlier visit in the
    same month. They make every distinct-member count a sum over ``ActivityCell`` rows (ADR 0012).
    """

    program = models.ForeignKey(
        "rules.Program", verbose_name=_("programme"), on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField(_("day"))
    account = models.ForeignKey(
        "ledger.Account", verbose_name=_("account"), on_delete=models.CASCADE, related_name="+"
    )
    cohort = models.DateField(_("cohort month"))
    checks = models.PositiveIntegerField(_("checks"), default=0)
    sales = models.DecimalField(_("sales"), **MONEY)
    prev_day = models.DateField(_("previous day"), null=True, blank=True)
    prev_checks = models.PositiveIntegerField(_("checks of the previous day"), default=0)
    prev2_day = models.DateField(_("day before the previous"), null=True, blank=True)
    first_in_month = models.BooleanField(_("first visit of the month"), default=True)

    class Meta:
        verbose_name = _("member visit")
        verbose_name_plural = _("member visits")
        ordering = ["program", "day", "account"]
        constraints = [
            # Covering: today's buyers' stored visits are read by the index alone (PostgreSQL).
            models.UniqueConstraint(
                fields=["program", "account", "day"],
                name="report_member_visit",
                include=[
                    "cohort",
                    "checks",
                    "sales",
                    "prev_day",
                    "prev_checks",
                    "prev2_day",
                    "first_in_month",
                ],
            ),
        ]
        indexes = [models.Index(fields=["program", "day"], name="report_member_visit_day")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.day}"


class CellKind(models.TextChoices):
    VISIT = "V", _("visits by previous day")
    MULTI = "W", _("visits of two or more checks by previous day")
    STEP = "S", _("second-visit steps")
    OUTLET = "O", _("outlet visits by previous day at the outlet")
    MONTH = "M", _("first visits of the month by cohort")
    CAMPAIGN = "C", _("campaign group visits by previous day")
    GROUP_SALES = "G", _("campaign group sales")


class ActivityCell(models.Model):
    """Visits of one day counted by the day that came before them (ADR 0012).

    An exact cell (``cumulative`` false) counts the day's visits whose ``other`` day is the
    given one (None: no earlier day); a cumulative cell counts those whose ``other`` is before
    the week start ``other`` (or None: the exact None count). ``MONTH`` cells count first
    visits of the month by cohort month (``other``). Members may be negative (``STEP``).
    ``CAMPAIGN`` cells are the visits of a campaign group's members (audience rows up to the
    day's ``ProgramDay.audience_mark``); ``GROUP_SALES`` their visits and sales of the day.
    """

    program = models.ForeignKey(
        "rules.Program", verbose_name=_("programme"), on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField(_("day"))
    kind = models.CharField(_("kind"), max_length=1, choices=CellKind.choices)
    outlet = models.ForeignKey(
        "rules.Outlet",
        verbose_name=_("outlet"),
        on_delete=models.CASCADE,
        related_name="+",
        null=True,
        blank=True,
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        verbose_name=_("campaign"),
        on_delete=models.CASCADE,
        related_name="+",
        null=True,
        blank=True,
    )
    control = models.BooleanField(_("control group"), default=False)
    cumulative = models.BooleanField(_("cumulative"), default=False)
    other = models.DateField(_("other day"), null=True, blank=True)
    members = models.IntegerField(_("members"), default=0)
    sales = models.DecimalField(_("sales"), **MONEY)

    class Meta:
        verbose_name = _("activity cell")
        verbose_name_plural = _("activity cells")
        ordering = ["program", "day", "kind"]
        indexes = [
            models.Index(
                fields=["program", "kind", "cumulative", "other", "day"], name="report_cell_other"
            ),
            models.Index(fields=["program", "day"], name="report_cell_day"),
            # A section reads one kind over the period's days.
            models.Index(fields=["program", "kind", "day"], name="report_cell_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.day} {self.other}"


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


class TierCount(models.Model):
    """Members by the local day they joined and their tier, as of the snapshot's marks.

    Written by the nightly refresh from every account (``reports.services.tiers_snapshot``);
    readers add the accounts opened, the tiers changed and the joins moved by offline checks
    after the marks (``AggregationState.tiers_*``), so members by tier need no scan.
    """

    program = models.ForeignKey(
        "rules.Program", verbose_name=_("programme"), on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField(_("joined on"))
    tier = models.ForeignKey(
        "rules.Tier",
        verbose_name=_("tier"),
        on_delete=models.CASCADE,
        related_name="+",
        null=True,
        blank=True,
    )
    members = models.PositiveIntegerField(_("members"), default=0)

    class Meta:
        verbose_name = _("members by tier")
        verbose_name_plural = _("members by tier")
        ordering = ["program", "day"]
        indexes = [models.Index(fields=["program", "day"], name="report_tier_count_day")]

    def __str__(self) -> str:
        return f"{self.program_id} {self.day} {self.tier_id}: {self.members}"


class AggregationState(models.Model):
    """How far the nightly job has read the ledger: changes after these ids touch old days."""

    program = models.OneToOneField(
        "rules.Program", verbose_name=_("programme"), on_delete=models.CASCADE, related_name="+"
    )
    last_operation_id = models.BigIntegerField(_("last operation read"), default=0)
    last_check_id = models.BigIntegerField(_("last check read"), default=0)
    last_account_id = models.BigIntegerField(_("last account read"), default=0)
    last_entry_id = models.BigIntegerField(_("last ledger entry read"), default=0)
    # The members-by-tier snapshot (``TierCount``): the rows it counted are the accounts, the
    # checks and the tier changes up to these ids; None: no snapshot yet.
    tiers_at = models.DateTimeField(_("members by tier counted at"), null=True, blank=True)
    tiers_account_id = models.BigIntegerField(_("last account counted by tier"), default=0)
    tiers_check_id = models.BigIntegerField(_("last check counted by tier"), default=0)
    tiers_change_id = models.BigIntegerField(_("last tier change counted"), default=0)
    # The latest opening among the accounts counted: a later check dated before it may move
    # a counted member's joining earlier.
    tiers_joined_before = models.DateTimeField(_("latest opening counted"), null=True, blank=True)
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
