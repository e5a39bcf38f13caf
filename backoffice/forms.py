"""The customer card's action forms (each posts to its own admin URL)."""

from __future__ import annotations

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty.ledger.models import Account
from loyalty.rules.models import Outlet, Program


class AdjustForm(forms.Form):
    account = forms.ModelChoiceField(label=_("Account"), queryset=Account.objects.none())
    points = forms.DecimalField(
        label=_("Points"), max_digits=14, decimal_places=2, help_text=_("Negative to deduct")
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )
    # One per rendered form: submitting the same form twice (a double click, a resend of the
    # page) is one adjustment, not two — the token is the ledger operation's idempotency key.
    token = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, customer, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["token"] = uuid.uuid4()
        self.fields["account"].queryset = Account.objects.filter(customer=customer).select_related(
            "program"
        )
        self.fields["account"].label_from_instance = lambda a: a.program.name

    def clean_points(self):
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError(_("Must not be zero."))
        return points


class BlockForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=255)

    def __init__(self, *args, customer=None, **kwargs):
        super().__init__(*args, **kwargs)


class UnblockForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=255, required=False)

    def __init__(self, *args, customer=None, **kwargs):
        super().__init__(*args, **kwargs)


class EnrolForm(forms.Form):
    program = forms.ModelChoiceField(label=_("Programme"), queryset=Program.objects.none())
    outlet = forms.ModelChoiceField(
        label=_("Outlet"),
        queryset=Outlet.objects.none(),
        required=False,
        help_text=_("Where the customer joined; empty: none"),
    )

    def __init__(self, *args, customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = (
            Program.objects.filter(is_active=True)
            .exclude(accounts__customer=customer)
            .order_by("name")
        )
        self.fields["outlet"].queryset = Outlet.objects.filter(
            is_active=True, program__is_active=True
        ).select_related("program")
        self.fields["outlet"].label_from_instance = lambda o: f"{o.program.code}: {o.name}"


class TillCodeForm(forms.Form):
    def __init__(self, *args, customer=None, **kwargs):
        super().__init__(*args, **kwargs)


FORMS = {
    "adjust": AdjustForm,
    "block": BlockForm,
    "unblock": UnblockForm,
    "enrol": EnrolForm,
    "till_code": TillCodeForm,
}
