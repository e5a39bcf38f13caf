"""The history page's filters (django-filter): kind of operation and a range of whole days."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import django_filters
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.ledger.models import OperationKind


def _day_start(day: date) -> datetime:
    # The programme's zone is active in the cabinet (``cabinet_view``).
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


class HistoryFilterForm(forms.Form):
    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        return data


class HistoryFilter(django_filters.FilterSet):
    """Dates are whole days in the programme's time zone; ``date_to`` is inclusive.

    A form with an error filters nothing (the page shows every operation and the error).
    """

    kind = django_filters.ChoiceFilter(
        label=_("Kind"), choices=OperationKind.choices, empty_label=_("All")
    )
    date_from = django_filters.DateFilter(
        label=_("From"),
        method="filter_date_from",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    date_to = django_filters.DateFilter(
        label=_("To"),
        method="filter_date_to",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        form = HistoryFilterForm
        fields: list[str] = []

    def filter_date_from(self, queryset, name, value):
        return queryset.filter(occurred_at__gte=_day_start(value))

    def filter_date_to(self, queryset, name, value):
        return queryset.filter(occurred_at__lt=_day_start(value + timedelta(days=1)))

    def filter_queryset(self, queryset):
        if not self.form.is_valid():
            return queryset
        return super().filter_queryset(queryset)
