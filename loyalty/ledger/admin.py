from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from core import errors
from core.admin import ReadOnlyAdmin, ReadOnlyAdminMixin
from loyalty.ledger import services
from loyalty.ledger.models import (
    Account,
    Check,
    CheckLine,
    Entry,
    Lot,
    MemberProfile,
    Operation,
    Refund,
)
from loyalty.ledger.selectors import account_balance


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True
    admin_allows = frozenset({"delete"})


class LotInline(ReadOnlyInline):
    model = Lot
    fields = ("kind", "amount", "remaining", "available_at", "expires_at", "rule_code", "operation")
    readonly_fields = fields
    ordering = ("-id",)


class EntryInline(ReadOnlyInline):
    model = Entry
    fk_name = "account"
    fields = ("created_at", "operation", "lot", "kind", "amount")
    readonly_fields = fields
    ordering = ("-id",)
    max_num = 0


class MemberProfileInline(ReadOnlyAdminMixin, admin.StackedInline):
    """What the account's programme knows of the member (edited on the profile's page)."""

    model = MemberProfile
    can_delete = False
    readonly_fields = (
        "public_id",
        "first_name",
        "last_name",
        "email",
        "birth_date",
        "card_number",
        "consent_sms",
        "consent_sms_at",
        "consent_email",
        "consent_email_at",
    )
    exclude = ("program",)


@admin.register(MemberProfile)
class MemberProfileAdmin(SimpleHistoryAdmin):
    """Per-programme member data: names, email, birth date, card, consents (docs/security.md)."""

    list_display = ("__str__", "program", "card_number", "email", "consent_sms", "consent_email")
    list_filter = ("program", "consent_sms", "consent_email")
    search_fields = ("public_id", "email", "card_number", "last_name", "first_name")
    list_select_related = ("program",)
    readonly_fields = ("public_id", "account", "program", "consent_sms_at", "consent_email_at")
    fields = (
        "public_id",
        "account",
        "program",
        "first_name",
        "last_name",
        "email",
        "birth_date",
        "card_number",
        "consent_sms",
        "consent_sms_at",
        "consent_email",
        "consent_email_at",
    )

    def has_add_permission(self, request):
        return False  # a profile comes with its account

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        now = timezone.now()
        for channel in ("sms", "email"):
            if f"consent_{channel}" in form.changed_data:
                setattr(obj, f"consent_{channel}_at", now)
        super().save_model(request, obj, form, change)


class AdjustForm(forms.Form):
    points = forms.DecimalField(
        label=_("Points"), max_digits=14, decimal_places=2, help_text=_("Negative to deduct")
    )
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}))


@admin.register(Account)
class AccountAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "customer",
        "program",
        "tier",
        "balance_available",
        "balance_pending",
        "lifetime_spend",
        "lifetime_visits",
        "last_purchase_at",
    )
    list_filter = ("program", "tier")
    search_fields = (
        "customer__phone",
        "profile__card_number",
        "profile__email",
        "profile__last_name",
        "profile__public_id",
    )
    list_select_related = ("customer", "program", "tier")
    readonly_fields = (
        "program",
        "customer",
        "tier",
        "tier_since",
        "balance_available",
        "balance_pending",
        "lifetime_spend",
        "lifetime_visits",
        "lifetime_earned",
        "last_purchase_at",
        "enrolled_at",
        "enrolled_outlet",
    )
    exclude = ("available", "pending", "pending_release_at")
    inlines = [MemberProfileInline, LotInline, EntryInline]
    actions = ["adjust_points"]
    admin_allows = frozenset({"change"})

    @admin.display(description=_("available"))
    def balance_available(self, obj):
        return account_balance(obj, now=timezone.now()).available

    @admin.display(description=_("pending"))
    def balance_pending(self, obj):
        return account_balance(obj, now=timezone.now()).pending

    @admin.action(description=_("Adjust points (with a reason)"), permissions=["adjust"])
    def adjust_points(self, request, queryset):
        if "apply" in request.POST:
            form = AdjustForm(request.POST)
            if form.is_valid():
                done = 0
                try:
                    with transaction.atomic():
                        for account in queryset.order_by("pk"):
                            services.points_adjust(
                                account=account,
                                points=form.cleaned_data["points"],
                                reason=form.cleaned_data["reason"],
                                created_by=request.user,
                                now=timezone.now(),
                            )
                            done += 1
                except errors.DomainError as exc:
                    detail = exc.detail
                    if exc.fields:
                        detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.fields.items())
                    self.message_user(request, detail, messages.ERROR)
                    return None
                self.message_user(
                    request, _("Adjusted %(n)d account(s).") % {"n": done}, messages.SUCCESS
                )
                return None
        else:
            form = AdjustForm()
        return render(
            request,
            "admin/ledger/adjust.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Adjust points"),
                "form": form,
                "accounts": queryset,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    def has_adjust_permission(self, request):
        return request.user.has_perm("ledger.change_account")


class OperationEntryInline(ReadOnlyInline):
    model = Entry
    fk_name = "operation"
    fields = ("lot", "kind", "amount")
    readonly_fields = fields


@admin.register(Operation)
class OperationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "account", "kind", "points", "description", "created_by")
    list_filter = ("kind", "program")
    search_fields = ("account__customer__phone", "idempotency_key", "description")
    list_select_related = ("account__customer", "created_by")
    inlines = [OperationEntryInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


class CheckLineInline(ReadOnlyInline):
    model = CheckLine
    fields = (
        "index",
        "sku",
        "name",
        "category",
        "quantity",
        "amount",
        "redeemed_points",
        "discount",
        "earned_points",
        "rule_points",
        "refunded_quantity",
    )
    readonly_fields = fields
    show_change_link = False


@admin.register(Check)
class CheckAdmin(ReadOnlyAdmin):
    list_display = (
        "receipt_number",
        "occurred_at",
        "outlet",
        "account",
        "status",
        "subtotal",
        "redeemed_points",
        "earned_points",
    )
    list_filter = ("status", "program", "outlet")
    search_fields = ("receipt_number", "account__customer__phone")
    list_select_related = ("outlet", "account__customer")
    inlines = [CheckLineInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "check_obj", "amount", "clawed_back_points", "restored_points")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "account", "operation", "lot", "kind", "amount")
    list_filter = ("kind",)
    list_select_related = ("account__customer", "operation", "lot")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]
