"""The reports door in the admin: the dashboard, its CSV files, and campaign results.

``/admin/reports/dashboard/`` shows a programme's KPIs for a period; every table downloads as
CSV with ``?export=<table>`` and as an Excel workbook with ``?export=<table>&format=xlsx`` (the
same rows; numbers and dates as typed cells). Marketers and the read-only analyst role need one
permission, ``reports.view_dashboard``. Campaign results (target vs control) are added to the
campaign's change page from here, because campaigns sit below reports in the layers.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign
from core.admin import allowed_program_ids, scope_queryset
from loyalty.rules.models import Program
from reports import charts
from reports.models import Dashboard
from reports.periods import Period, local_today, preset_period
from reports.selectors.dashboard import dashboard
from reports.selectors.kpis import DaySource, campaign_run, campaigns_kpis, flatten, jsonable
from reports.selectors.rewards import rewards_kpis

PERMISSION = "reports.view_dashboard"
TABLES = ("kpis", "series", "outlets", "tiers", "cohorts", "campaigns", "rewards")


class PeriodForm(forms.Form):
    program = forms.ModelChoiceField(
        label=_("Programme"), queryset=Program.objects.order_by("code"), empty_label=None
    )
    preset = forms.ChoiceField(
        label=_("Period"),
        initial="30",
        choices=[
            ("7", _("7 days")),
            ("30", _("30 days")),
            ("90", _("90 days")),
            ("month", _("This month")),
            ("year", _("A year")),
            ("custom", _("Custom")),
        ],
    )
    first = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput({"type": "date"})
    )
    last = forms.DateField(label=_("To"), required=False, widget=forms.DateInput({"type": "date"}))

    def __init__(self, *args, programs=None, **kwargs):
        super().__init__(*args, **kwargs)
        if programs is not None:  # a staff user limited to some programmes picks among them
            self.fields["program"].queryset = programs

    def clean(self):
        data = super().clean()
        if data.get("preset") == "custom":
            first, last = data.get("first"), data.get("last")
            if not first:
                self.add_error("first", _("Give the first day of the period."))
            if not last:
                self.add_error("last", _("Give the last day of the period."))
            if first and last and first > last:
                self.add_error("first", _("The first day is after the last one."))
        return data

    def period(self, now) -> Period:
        data = self.cleaned_data
        if data["preset"] == "custom":
            return Period(data["first"], data["last"])
        return preset_period(data["preset"], today=local_today(data["program"], now))


def _has_access(request) -> bool:
    return request.user.is_active and request.user.has_perm(PERMISSION)


@admin.register(Dashboard)
class DashboardAdmin(admin.ModelAdmin):
    """The dashboard takes the place of the change list; nothing here is editable."""

    def has_module_permission(self, request):
        return _has_access(request)

    def has_view_permission(self, request, obj=None):
        return _has_access(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "campaign/<int:campaign_id>/",
                view(self.campaign_view),
                name="reports_campaign_results",
            ),
            path("", view(self.changelist_view), name="reports_dashboard_changelist"),
        ]

    def changelist_view(self, request, extra_context=None):
        if not _has_access(request):
            raise PermissionDenied
        now = timezone.now()
        params = request.GET.copy()
        programs = scope_queryset(
            Program.objects.order_by("code"), allowed_program_ids(request), "pk"
        )
        if "program" not in params:
            first = programs.first()
            if first is not None:
                params["program"] = str(first.pk)
        params.setdefault("preset", "30")
        form = PeriodForm(params, programs=programs)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Reports"),
            "opts": self.model._meta,
            "form": form,
            "board": None,
        }
        if form.is_valid():
            period = form.period(now)
            board = dashboard(program=form.cleaned_data["program"], period=period, now=now)
            rewards = rewards_kpis(program=board.program, period=period)
            export = request.GET.get("export")
            if export:
                if export not in TABLES:
                    form.add_error(None, _("Unknown table to export: %s") % export)
                elif export == "rewards":
                    return _export_rows(
                        board, export, _rewards_rows(rewards), request.GET.get("format")
                    )
                else:
                    return _export(board, export, request.GET.get("format"))
            context.update(_present(board, request), rewards=rewards)
        return TemplateResponse(request, "admin/reports/dashboard.html", context)

    def campaign_view(self, request, campaign_id: int):
        if not _has_access(request):
            raise PermissionDenied
        campaigns = scope_queryset(
            Campaign.objects.select_related("program"), allowed_program_ids(request)
        )
        campaign = get_object_or_404(campaigns, pk=campaign_id)
        now = timezone.now()
        results = campaign_results(campaign, now=now)
        if request.GET.get("export") == "campaigns":
            if request.GET.get("format") == "xlsx":
                return _xlsx_rows(f"campaign-{campaign.code}", results)
            return _csv_rows(f"campaign-{campaign.code}", results)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Campaign results: %s") % campaign.name,
            "opts": self.model._meta,
            "campaign": campaign,
            "results": results,
            "change_url": reverse("admin:campaigns_campaign_change", args=[campaign.pk]),
        }
        return TemplateResponse(request, "admin/reports/campaign_results.html", context)


def campaign_results(campaign: Campaign, *, now) -> list[dict]:
    """The campaign's uplift figures over its whole run up to today."""
    program = campaign.program
    run = campaign_run(campaign, program)
    if run is None:
        return []
    today = local_today(program, now)
    period = run.clip(last=today)
    if period is None:
        return []
    source = DaySource(program, now=now)
    return [row for row in campaigns_kpis(source, period) if row["id"] == campaign.pk]


# --- presentation ----------------------------------------------------------------------------

CARDS = (
    # (label, path in the KPI dict, kind)
    (_("Members"), ("members", "total"), "count"),
    (_("New members"), ("members", "new"), "count"),
    (_("Active members"), ("members", "active"), "count"),
    (_("Participation"), ("checks", "participation_rate"), "rate"),
    (_("Member sales"), ("sales", "member"), "money"),
    (_("Anonymous sales"), ("sales", "anonymous"), "money"),
    (_("Refunded"), ("sales", "refunded"), "money"),
    (_("Average member check"), ("average_check", "member"), "money"),
    (_("Average anonymous check"), ("average_check", "anonymous"), "money"),
    (_("Purchase frequency"), ("frequency",), "number"),
    (_("Repeat purchase rate"), ("repeat_rate",), "rate"),
    (_("Retention"), ("retention_rate",), "rate"),
    (_("LTV"), ("ltv",), "money"),
    (_("Points issued"), ("points", "issued"), "points"),
    (_("Points redeemed"), ("points", "redeemed"), "points"),
    (_("Points expired"), ("points", "expired"), "points"),
    (_("Redemption rate"), ("redemption_rate",), "rate"),
    (_("Outstanding liability"), ("points", "liability"), "money"),
)


def _get(data: dict, keys):
    for key in keys:
        data = data[key]
    return data


def _change(now, before, kind):
    if now is None or before is None:
        return None
    if kind == "rate":
        return {"points": (now - before) * 100, "kind": "pp"}
    if before == 0:
        return None
    return {"points": (now - before) * 100 / before, "kind": "percent"}


def _present(board, request) -> dict:
    cards = []
    for label, keys, kind in CARDS:
        value, before = _get(board.kpis, keys), _get(board.previous, keys)
        cards.append(
            {
                "label": label,
                "value": value,
                "kind": kind,
                "previous": before,
                "change": _change(value, before, kind),
            }
        )
    rows = board.series
    days = [row["day"] for row in rows]
    line = charts.Line
    chart_list = [
        _chart(
            _("Points issued, redeemed and expired"),
            days,
            [
                line(str(_("issued")), charts.values(rows, "issued")),
                line(str(_("redeemed")), charts.values(rows, "redeemed")),
                line(str(_("expired")), charts.values(rows, "expired")),
            ],
            bars=len(days) <= 31,
        ),
        _chart(
            _("Outstanding liability"),
            days,
            [
                line(
                    str(_("liability, %s") % board.program.currency),
                    charts.values(rows, "liability"),
                )
            ],
        ),
        _chart(
            _("New and active members"),
            days,
            [
                line(str(_("new")), charts.values(rows, "new_members")),
                line(str(_("active")), charts.values(rows, "active_members")),
            ],
            bars=len(days) <= 31,
        ),
        _chart(
            _("Member and anonymous sales"),
            days,
            [
                line(str(_("members")), charts.values(rows, "member_sales")),
                line(str(_("anonymous")), charts.values(rows, "anonymous_sales")),
            ],
        ),
        _chart(
            _("Average check"),
            days,
            [
                line(str(_("members")), charts.values(rows, "average_check_member")),
                line(str(_("anonymous")), charts.values(rows, "average_check_anonymous")),
            ],
        ),
    ]
    query = request.GET.copy()
    query.pop("export", None)
    return {
        "board": board,
        "cards": cards,
        "charts": chart_list,
        "previous_period": board.period.previous(),
        "query": query.urlencode(),
    }


def _chart(title, days, lines, **kw) -> dict:
    return {"title": title, "svg": charts.line_chart(str(title), days, lines, **kw)}


def _table(board, name: str) -> list[dict]:
    if name == "kpis":
        data = jsonable(board.kpis)
        before = dict(flatten(jsonable(board.previous)))
        return [
            {"kpi": key, "value": value, "previous": before.get(key)}
            for key, value in flatten(data)
        ]
    if name == "series":
        return board.series
    if name == "outlets":
        return board.outlets
    if name == "tiers":
        return board.tiers
    if name == "campaigns":
        return [{k: v for k, v in row.items() if k != "id"} for row in board.campaigns]
    rows = []
    for row in board.cohorts["rows"]:
        item = {"cohort": row["cohort"], "members": row["members"]}
        for month, cell in zip(board.cohorts["months"], row["cells"], strict=False):
            item[month.strftime("%Y-%m")] = "" if cell is None else cell["share"]
        rows.append(item)
    return rows


def _export(board, name: str, file_format: str | None) -> HttpResponse:
    return _export_rows(board, name, _table(board, name), file_format)


def _export_rows(board, name: str, rows: list[dict], file_format: str | None) -> HttpResponse:
    stem = f"{board.program.code}-{name}-{board.period.first}-{board.period.last}"
    if file_format == "xlsx":
        return _xlsx_rows(stem, rows)
    return _csv_rows(stem, rows)


def _rewards_rows(rewards: dict) -> list[dict]:
    """The rewards table: one row per reward with coupons claimed or used in the period."""
    return [{"reward": code, **figures} for code, figures in rewards["by_reward"].items()]


def _csv_rows(stem: str, rows: list[dict]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{stem}.csv"'
    response.write("\ufeff")  # so spreadsheet programs read UTF-8
    writer = csv.writer(response)
    if rows:
        keys = list(rows[0])
        writer.writerow(keys)
        for row in rows:
            writer.writerow(["" if row.get(k) is None else jsonable(row.get(k)) for k in keys])
    return response


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _cell(value):
    """A typed cell: numbers stay numbers (Decimal kept exact by openpyxl), dates dates, the
    rest the CSV's text; None is an empty cell."""
    if value is None or isinstance(value, bool):
        return None if value is None else str(value)
    if isinstance(value, int | Decimal | date):
        return value
    return jsonable(value)


def _xlsx_rows(stem: str, rows: list[dict]) -> HttpResponse:
    """The CSV's rows as one worksheet (openpyxl, write-only: rows streamed, no styles)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=stem[:31])
    if rows:
        keys = list(rows[0])
        sheet.append(keys)
        for row in rows:
            sheet.append([_cell(row.get(k)) for k in keys])
    buffer = io.BytesIO()
    book.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{stem}.xlsx"'
    return response


# --- campaign results on the campaign's change page ------------------------------------------


def campaign_results_link(campaign_admin, obj) -> str:
    """The campaign's uplift figures and a link to its results page (read-only field)."""
    if obj is None or obj.pk is None:
        return "—"
    if obj.launched_at is None:
        return str(_("The campaign has not run yet."))
    return render_to_string(
        "admin/reports/_campaign_results.html",
        {
            "results": campaign_results(obj, now=timezone.now()),
            "url": reverse("admin:reports_campaign_results", args=[obj.pk]),
        },
    )


campaign_results_link.short_description = _("Results")


def hook_campaign_admin(site=admin.site) -> None:
    """Show a link to the campaign's results on its change page (read-only field)."""
    model_admin = site._registry.get(Campaign)
    if model_admin is None or "report_results" in getattr(model_admin, "readonly_fields", ()):
        return
    cls = type(model_admin)
    cls.report_results = lambda self, obj: mark_safe(campaign_results_link(self, obj))
    cls.report_results.short_description = campaign_results_link.short_description
    model_admin.readonly_fields = (*model_admin.readonly_fields, "report_results")
    if model_admin.fieldsets:
        model_admin.fieldsets = (
            *model_admin.fieldsets,
            (_("Results"), {"fields": ("report_results",)}),
        )


hook_campaign_admin()
