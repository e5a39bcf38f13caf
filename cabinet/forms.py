"""Forms of the cabinet: input parsing only; the work is in services and selectors."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from core import errors
from customers.models import Customer
from customers.phones import phone_normalise
from loyalty.ledger.models import MemberProfile

from . import ratelimit


def login_candidates(identifier: str) -> list:
    """Cabinet users an email or a phone may name (emails are not unique across customers)."""
    identifier = identifier.strip()
    if "@" in identifier:
        # Emails live in the programmes' member profiles; the person is the cabinet user.
        ids = MemberProfile.objects.filter(email__iexact=identifier).values("account__customer")
        rows = Customer.objects.filter(pk__in=ids, user__isnull=False)
    else:
        try:
            phone = phone_normalise(identifier, region=settings.KOPILKA_DEFAULT_REGION)
        except errors.ValidationFailed:
            return []
        rows = Customer.objects.filter(phone=phone, user__isnull=False)
    return [c.user for c in rows.select_related("user").order_by("id")[:5]]


def limit_identifier(identifier: str) -> str:
    """The bucket an attempt counts in: a phone in E.164 whatever its spelling, else the text."""
    if "@" in identifier:
        return identifier.lower()
    try:
        return phone_normalise(identifier, region=settings.KOPILKA_DEFAULT_REGION)
    except errors.ValidationFailed:
        return identifier.lower()


class CabinetLoginForm(AuthenticationForm):
    """Sign in with an email or a phone number and a password, with attempt limits."""

    username = forms.CharField(
        label=_("Email or phone"),
        max_length=254,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("Wrong email, phone or password."),
        "throttled": _("Too many attempts. Try again in a few minutes."),
    }

    def clean(self):
        identifier = (self.cleaned_data.get("username") or "").strip()
        password = self.cleaned_data.get("password")
        if not identifier or not password:
            return self.cleaned_data
        ip = ratelimit.client_ip(self.request) if self.request else ""
        identifier = limit_identifier(identifier)
        if ratelimit.attempt_blocked(door="login", ip=ip, identifier=identifier):
            raise forms.ValidationError(self.error_messages["throttled"], code="throttled")
        for user in login_candidates(identifier):
            found = authenticate(self.request, username=user.get_username(), password=password)
            if found is not None:
                self.user_cache = found
                break
        if self.user_cache is None:
            ratelimit.attempt_record(door="login", ip=ip, identifier=identifier)
            raise self.get_invalid_login_error()
        ratelimit.attempts_clear(door="login", identifier=identifier)
        self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class SignupPhoneForm(forms.Form):
    phone = forms.CharField(
        label=_("Phone number"),
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
        help_text=_("The number you gave at the till when you joined."),
    )


class SignupConfirmForm(forms.Form):
    code = forms.CharField(
        label=_("Code from the SMS"),
        max_length=6,
        min_length=6,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9]*"}
        ),
    )
    password1 = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("New password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", _("The two passwords differ."))
        elif first:
            try:
                password_validation.validate_password(first)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


class ProfileForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    email = forms.EmailField(
        label=_("Email"),
        required=False,
        help_text=_("Password reset links are sent here."),
    )


class ConsentForm(forms.Form):
    channel = forms.ChoiceField(choices=[("email", _("Email")), ("sms", _("SMS"))])
    value = forms.TypedChoiceField(
        choices=[("1", _("on")), ("0", _("off"))], coerce=lambda v: v == "1"
    )


class OfferActivateForm(forms.Form):
    offer = forms.SlugField(max_length=50)


class RewardClaimForm(forms.Form):
    """A claim: first without ``confirm`` (the confirmation page), then with it and the
    ``token`` that page issued, so a double submit claims once."""

    reward = forms.SlugField(max_length=50)
    token = forms.UUIDField(required=False)
    confirm = forms.BooleanField(required=False)
