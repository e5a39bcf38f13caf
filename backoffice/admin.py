"""The customer card: the customer's change page with accounts, checks, ledger and actions.

``customers`` sits low in the layers and may not use the ledger's services or campaigns'
enrolment, so its admin is registered again here, in a door above them, with the card added
(``reports.admin`` hooks the campaign page the same way). Each action posts to
``<customer>/card/<action>/``; a GET of that URL shows the action's form alone.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from backoffice import actions
from backoffice.card import customer_card
from backoffice.forms import FORMS
from core import errors
from customers.admin import CustomerAdmin
from customers.models import Customer
from notifications.admin import CustomerWithErasureAdmin

TITLES = {
    "adjust": _("Adjust points"),
    "block": _("Block the customer"),
    "unblock": _("Unblock the customer"),
    "enrol": _("Enrol into a programme"),
    "till_code": _("Issue a till code"),
}


def _domain_errors(form, exc: errors.DomainError) -> None:
    """Put a service's refusal on the form, next to the field it names."""
    if not exc.fields:
        target = "points" if "points" in form.fields else None
        form.add_error(target, exc.detail)
        return
    for name, problems in exc.fields.items():
        for problem in problems:
            if name in form.fields:
                form.add_error(name, str(problem))
            else:
                form.add_error(None, f"{name}: {problem}")


class CustomerCardAdmin(CustomerWithErasureAdmin):
    change_form_template = "admin/backoffice/customer_change_form.html"
    # A block goes through the card's action (with a reason, audited), not the profile form.
    readonly_fields = (*CustomerAdmin.readonly_fields, "is_blocked", "blocked_reason")

    def get_urls(self):
        return [
            path(
                "<path:object_id>/card/<slug:action>/",
                self.admin_site.admin_view(self.card_action_view),
                name="customers_customer_card_action",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        customer = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if customer is not None and self.has_view_permission(request, customer):
            extra.update(self._card_context(request, customer))
        return super().change_view(request, object_id, form_url, extra)

    def _card_context(self, request, customer, **forms) -> dict:
        now = timezone.now()
        card = customer_card(
            customer,
            now=now,
            ledger_page=request.GET.get("ledger_page") or 1,
            account_id=request.GET.get("ledger_account"),
        )
        can = {name: actions.allowed(request.user, name) for name in FORMS}
        bound = {
            name: forms.get(name) or form_class(customer=customer)
            for name, form_class in FORMS.items()
            if can[name]
        }
        if "enrol" in bound and not bound["enrol"].fields["program"].queryset.exists():
            del bound["enrol"]  # a member of every programme already
        return {"card": card, "card_can": can, "card_forms": bound, "card_customer": customer}

    def card_action_view(self, request, object_id, action):
        customer = get_object_or_404(Customer, pk=object_id)
        if action not in FORMS or not self.has_view_permission(request, customer):
            raise PermissionDenied
        if not actions.allowed(request.user, action):
            raise PermissionDenied
        form_class = FORMS[action]
        status = 200
        if request.method == "POST":
            form = form_class(request.POST, customer=customer)
            if form.is_valid():
                try:
                    response = self._run(request, customer, action, form.cleaned_data)
                except errors.DomainError as exc:
                    _domain_errors(form, exc)
                else:
                    return response
            status = 400
        else:
            form = form_class(customer=customer)
        return self._action_page(request, customer, action, form, status=status)

    def _action_page(self, request, customer, action, form, *, status=200, **extra):
        context = {
            **self.admin_site.each_context(request),
            "title": TITLES[action],
            "subtitle": str(customer),
            "opts": self.model._meta,
            "original": customer,
            "action": action,
            "form": form,
            **extra,
        }
        response = TemplateResponse(
            request, "admin/backoffice/card_action.html", context, status=status
        )
        response["Cache-Control"] = "no-store"
        return response

    def _run(self, request, customer, action, data):
        user, now = request.user, timezone.now()
        back = reverse("admin:customers_customer_change", args=[customer.pk])
        if action == "adjust":
            actions.card_adjust(
                user=user,
                customer=customer,
                account=data["account"],
                points=data["points"],
                reason=data["reason"],
                now=now,
                token=str(data["token"]),
            )
            done = gettext("Adjusted %(points)s points.") % {"points": data["points"]}
        elif action == "block":
            actions.card_block(user=user, customer=customer, reason=data["reason"])
            done = gettext("The customer is blocked.")
        elif action == "unblock":
            actions.card_unblock(user=user, customer=customer, reason=data["reason"])
            done = gettext("The customer is unblocked.")
        elif action == "enrol":
            account = actions.card_enrol(
                user=user,
                customer=customer,
                program=data["program"],
                outlet=data["outlet"],
                now=now,
            )
            done = gettext("Enrolled into %(program)s.") % {"program": account.program.name}
        else:
            code = actions.card_till_code(user=user, customer=customer, now=now)
            # Shown once on this page, never in a message (the message store is a cookie).
            return self._action_page(request, customer, action, FORMS[action](), till_code=code)
        messages.success(request, done)
        return HttpResponseRedirect(back)


if admin.site.is_registered(Customer):
    admin.site.unregister(Customer)
admin.site.register(Customer, CustomerCardAdmin)
