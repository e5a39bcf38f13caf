"""The cabinet's doors: parse the request, make one service or selector call, render.

Ownership is never taken from the URL: every page works on ``request.customer``, the
customer linked to the signed-in user, and its account in the chosen programme.
"""

from __future__ import annotations

import functools
import logging
import uuid

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django.views.i18n import set_language

from campaigns import services as campaign_services
from campaigns.models import Offer
from core import errors
from customers.codes import one_time_code_issue
from customers.models import CodePurpose, Customer
from customers.phones import phone_normalise
from loyalty.ledger.models import MemberProfile
from loyalty.ledger.services.rewards import reward_claim as reward_claim_service
from loyalty.rules.models import Reward
from notifications.selectors import cabinet_messages, cabinet_unread_count
from notifications.services import cabinet_message_mark_read

from . import describe, filters, forms, ratelimit, selectors, services

logger = logging.getLogger(__name__)

TILL_CODE_TTL_SECONDS = 300
SESSION_PROGRAM = "cabinet_program"
SESSION_SIGNUP_PHONE = "cabinet_signup_phone"
PAGE_SIZE = 20


def cabinet_view(view):
    """Signed-in customers only; sets ``request.customer`` and ``request.account``."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect(f"{reverse('cabinet:login')}?next={request.path}")
        customer = selectors.cabinet_customer(request.user)
        if customer is None:
            return render(request, "cabinet/no_customer.html", status=403)
        account = selectors.customer_account(
            customer=customer, program_code=request.session.get(SESSION_PROGRAM)
        )
        request.customer, request.account = customer, account
        if account is None:
            return render(request, "cabinet/no_account.html", status=200)
        timezone.activate(account.program.timezone)
        return view(request, *args, **kwargs)

    return wrapper


def _context(request, **extra) -> dict:
    return {
        "customer": request.customer,
        "account": request.account,
        # What this programme knows of the member; the cabinet shows the chosen programme's.
        "profile": request.account.profile,
        "program": request.account.program,
        "unread": cabinet_unread_count(customer=request.customer),
        **extra,
    }


# --- language ------------------------------------------------------------------------------


@require_POST
def language(request):
    """Django's set_language, resolving ``next`` in the language of its own path.

    set_language translates ``next`` by resolving it in the active language; with
    prefix_default_language=False an /en/… path does not resolve while Russian is active (and
    vice versa), and the switch would silently keep the old language.
    """
    next_path = request.POST.get("next", "")
    path_language = translation.get_language_from_path(next_path) or settings.LANGUAGE_CODE
    with translation.override(path_language):
        return set_language(request)


# --- sign-in, sign-out, password reset ------------------------------------------------------------


class LoginView(auth_views.LoginView):
    form_class = forms.CabinetLoginForm
    template_name = "cabinet/login.html"
    redirect_authenticated_user = True
    next_page = reverse_lazy("cabinet:dashboard")


class LogoutView(auth_views.LogoutView):
    # Django's LogoutView accepts POST only: a link or an image cannot sign anyone out.
    next_page = reverse_lazy("cabinet:login")


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "cabinet/password_reset_form.html"
    email_template_name = "cabinet/password_reset_email.txt"
    subject_template_name = "cabinet/password_reset_subject.txt"
    success_url = reverse_lazy("cabinet:password_reset_done")

    def form_valid(self, form):
        ip = ratelimit.client_ip(self.request)
        email = form.cleaned_data["email"]
        if ratelimit.attempt_blocked(door="reset", ip=ip, identifier=email):
            # Same answer as a sent mail: the limit must not reveal which addresses exist.
            return HttpResponseRedirect(self.get_success_url())
        ratelimit.attempt_record(door="reset", ip=ip, identifier=email)
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "cabinet/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "cabinet/password_reset_confirm.html"
    success_url = reverse_lazy("cabinet:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "cabinet/password_reset_complete.html"


# --- sign-up --------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def signup(request):
    """Step 1: the phone enrolled at the till; a code goes to it by SMS."""
    form = forms.SignupPhoneForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ip = ratelimit.client_ip(request)
        try:
            # Limits count the number, not its spelling: "8 (999)…" and "+7999…" are one phone.
            phone = phone_normalise(
                form.cleaned_data["phone"], region=settings.KOPILKA_DEFAULT_REGION
            )
        except errors.ValidationFailed as exc:
            for message in (exc.fields or {}).get("phone", [exc.detail]):
                form.add_error("phone", message)
        else:
            if not ratelimit.attempt_take(door="signup", ip=ip, identifier=phone):
                form.add_error(None, _("Too many attempts. Try again later."))
            else:
                services.signup_code_send(
                    phone=phone,
                    region=settings.KOPILKA_DEFAULT_REGION,
                    language=translation.get_language() or settings.LANGUAGE_CODE,
                    now=timezone.now(),
                )
                # The phone waits in the session, never in the URL.
                request.session[SESSION_SIGNUP_PHONE] = phone
                return redirect("cabinet:signup_confirm")
    return render(request, "cabinet/signup.html", {"form": form})


@require_http_methods(["GET", "POST"])
def signup_confirm(request):
    """Step 2: the code from the SMS and a password; the user is linked and signed in."""
    phone = request.session.get(SESSION_SIGNUP_PHONE)
    if not phone:
        return redirect("cabinet:signup")
    form = forms.SignupConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ip = ratelimit.client_ip(request)
        if ratelimit.attempt_blocked(door="confirm", ip=ip, identifier=phone):
            form.add_error(None, _("Too many attempts. Ask for a new code later."))
        else:
            try:
                user = services.signup_complete(
                    phone=phone,
                    code=form.cleaned_data["code"],
                    password=form.cleaned_data["password1"],
                    now=timezone.now(),
                )
            except errors.CustomerNotFound:
                ratelimit.attempt_record(door="confirm", ip=ip, identifier=phone)
                form.add_error("code", _("The code is wrong or has expired."))
            else:
                ratelimit.attempts_clear(door="confirm", identifier=phone)
                request.session.pop(SESSION_SIGNUP_PHONE, None)
                auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(request, _("Welcome! Your cabinet is ready."))
                return redirect("cabinet:dashboard")
    masked = Customer(phone=phone).phone_masked
    return render(request, "cabinet/signup_confirm.html", {"form": form, "phone_masked": masked})


def _referrer_name(referrer: Customer | None) -> str:
    """The friend's first name as they gave it to the programme of their first account."""
    if referrer is None:
        return ""
    profile = (
        MemberProfile.objects.filter(account__customer=referrer).order_by("account_id").first()
    )
    return profile.first_name if profile is not None else ""


def invite(request, code: str):
    """The page a referral link opens: how to join with the friend's code (public)."""
    referrer = Customer.objects.filter(referral_code=code.upper()).first()
    return render(
        request,
        "cabinet/invite.html",
        {
            "code": code.upper() if referrer else "",
            "first_name": _referrer_name(referrer),
        },
        status=200 if referrer else 404,
    )


# --- pages ----------------------------------------------------------------------------------------


@cabinet_view
def dashboard(request):
    data = selectors.dashboard(account=request.account, now=timezone.now())
    accounts = selectors.customer_accounts(customer=request.customer)
    return render(
        request, "cabinet/dashboard.html", _context(request, data=data, accounts=accounts)
    )


@cabinet_view
def history(request):
    found = filters.HistoryFilter(
        request.GET or None, queryset=selectors.history(account=request.account)
    )
    page = Paginator(found.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "cabinet/history.html", _context(request, form=found.form, page=page))


@cabinet_view
def offers(request):
    data = selectors.offers(account=request.account, now=timezone.now())
    return render(request, "cabinet/offers.html", _context(request, offers=data))


@require_POST
@cabinet_view
def offer_activate(request):
    form = forms.OfferActivateForm(request.POST)
    offer = None
    if form.is_valid():
        offer = Offer.objects.filter(
            program_id=request.account.program_id, code=form.cleaned_data["offer"]
        ).first()
    try:
        if offer is None:
            raise campaign_services.OfferNotAvailable()
        campaign_services.offer_activate(customer=request.customer, offer=offer, now=timezone.now())
    except campaign_services.OfferNotAvailable as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, _("The offer “%(title)s” is on.") % {"title": offer.title})
    return redirect("cabinet:offers")


@cabinet_view
def rewards(request):
    now = timezone.now()
    coupons = selectors.customer_coupons(account=request.account, now=now)
    for view in coupons:
        if view.state == "active":
            view.coupon.qr = _qr_svg(view.coupon.code)
    context = _context(
        request,
        offers=selectors.reward_offers(account=request.account, now=now),
        coupons=coupons,
        balance=selectors.account_balance(request.account, now=now),
        fresh=request.GET.get("coupon", ""),
    )
    return render(request, "cabinet/rewards.html", context)


@require_POST
@cabinet_view
def reward_claim(request):
    """Confirm, then claim: the points leave the balance and a coupon is issued."""
    form = forms.RewardClaimForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a reward from the list."))
        return redirect("cabinet:rewards")
    code = form.cleaned_data["reward"]
    reward = Reward.objects.filter(program_id=request.account.program_id, code=code).first()
    if reward is None:
        messages.error(request, _("There is no such reward."))
        return redirect("cabinet:rewards")
    now = timezone.now()
    if not form.cleaned_data["confirm"] or form.cleaned_data["token"] is None:
        balance = selectors.account_balance(request.account, now=now)
        context = _context(
            request,
            reward=reward,
            token=uuid.uuid4(),
            balance=balance,
            after=balance.available - reward.points_cost,
        )
        return render(request, "cabinet/reward_confirm.html", context)
    try:
        claim = reward_claim_service(
            program=request.account.program,
            customer=request.customer,
            reward_code=reward.code,
            source="cabinet",
            idempotency_key=f"reward:{request.customer.pk}:{form.cleaned_data['token']}",
            now=now,
        )
    except errors.DomainError as exc:
        messages.error(request, exc.detail)
        return redirect("cabinet:rewards")
    messages.success(
        request,
        _("“%(reward)s” is yours: coupon %(code)s.")
        % {"reward": reward.name, "code": claim.coupon.code},
    )
    return redirect(f"{reverse('cabinet:rewards')}?coupon={claim.coupon.code}")


def _qr_svg(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    svg = image.to_string(encoding="unicode")
    # The SVG is ours (a code from our own alphabet in it): safe to inline.
    return mark_safe(svg.replace("<svg ", '<svg role="img" class="qr" ', 1))


@require_http_methods(["GET", "POST"])
@cabinet_view
def till_code(request):
    """A one-time code for the till: issued on POST, shown once, never put in a URL."""
    context = _context(request, ttl=TILL_CODE_TTL_SECONDS)
    if request.method == "POST":
        now = timezone.now()
        code = one_time_code_issue(
            customer=request.customer,
            purpose=CodePurpose.TILL,
            now=now,
            ttl_seconds=TILL_CODE_TTL_SECONDS,
        )
        context.update(
            code=code, qr=_qr_svg(code), expires_at=now.timestamp() + TILL_CODE_TTL_SECONDS
        )
        response = render(request, "cabinet/till_code.html", context)
        response["Cache-Control"] = "no-store"
        return response
    return render(request, "cabinet/till_code.html", context)


@cabinet_view
def referral(request):
    link = request.build_absolute_uri(
        reverse("cabinet:invite", kwargs={"code": request.customer.referral_code})
    )
    joined = selectors.referral_count(customer=request.customer)
    return render(request, "cabinet/referral.html", _context(request, link=link, joined=joined))


@require_http_methods(["GET", "POST"])
@cabinet_view
def profile(request):
    profile = request.account.profile
    initial = {
        "first_name": profile.first_name,
        "last_name": profile.last_name,
        "email": profile.email,
    }
    form = forms.ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.profile_update(
                account=request.account, now=timezone.now(), **form.cleaned_data
            )
        except errors.ValidationFailed as exc:
            for name, problems in (exc.fields or {}).items():
                for problem in problems:
                    form.add_error(name if name in form.fields else None, problem)
        else:
            messages.success(request, _("Profile saved."))
            return redirect("cabinet:profile")
    consents = [
        ("email", _("Email"), profile.consent_email, profile.consent_email_at),
        ("sms", _("SMS"), profile.consent_sms, profile.consent_sms_at),
    ]
    return render(request, "cabinet/profile.html", _context(request, form=form, consents=consents))


@require_POST
@cabinet_view
def consent(request):
    form = forms.ConsentForm(request.POST)
    if form.is_valid():
        services.consent_set(
            account=request.account,
            channel=form.cleaned_data["channel"],
            value=form.cleaned_data["value"],
            now=timezone.now(),
        )
        messages.success(request, _("Your choice is saved."))
    else:
        messages.error(request, _("Choose a channel and on or off."))
    return redirect("cabinet:profile")


@cabinet_view
def inbox(request):
    page = Paginator(cabinet_messages(customer=request.customer), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "cabinet/inbox.html", _context(request, page=page))


@require_POST
@cabinet_view
def inbox_read(request):
    ids = [int(v) for v in request.POST.getlist("message") if v.isdigit()]
    cabinet_message_mark_read(customer=request.customer, message_ids=ids, now=timezone.now())
    return redirect("cabinet:inbox")


@cabinet_view
def rules(request):
    data = selectors.program_rules(program=request.account.program, now=timezone.now())
    program = data.program
    return render(
        request,
        "cabinet/rules.html",
        _context(
            request,
            tiers=[(tier, describe.tier_text(tier, program)) for tier in data.tiers],
            rules=[describe.rule_text(rule, program) for rule in data.rules],
            redemption=describe.redemption_texts(program, data.policy),
            life=describe.points_life_texts(program),
        ),
    )


@require_POST
@cabinet_view
def program_switch(request):
    code = request.POST.get("program", "")
    if any(a.program.code == code for a in selectors.customer_accounts(customer=request.customer)):
        request.session[SESSION_PROGRAM] = code
    return redirect("cabinet:dashboard")
