from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import TabularInline

from core import errors
from core.admin import ProgrammeScopedAdminMixin, ReadOnlyAdmin, ReadOnlyAdminMixin
from core.formatting import points_text
from loyalty.ledger import services
from loyalty.ledger.labels import description_text
from loyalty.ledger.models import (
    Account,
    Check,
    CheckLine,
    Coupon,
    Entry,
    Lot,
    MemberProfile,
    Operation,
    Refund,
)
from loyalty.ledger.selectors import account_balance


class ReadOnlyInline(ReadOnlyAdminMixin, TabularInline):
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
    fields = ("occurred_at", "operation", "lot", "kind", "amount")
    readonly_fields = fields
    ordering = ("-id",)
    max_num = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("operation", "lot")

    @admin.display(description=_("occurred at"))
    def occurred_at(self, obj):
        # The business time of the operation (a check's own time), not when the row was written.
        return obj.operation.occurred_at


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
class MemberProfileAdmin(ProgrammeScopedAdminMixin, SimpleHistoryAdmin):
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
class AccountAdmin(ProgrammeScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
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
        "ledger_links",
        "program",
        "customer",
        "tier",
        "tier_since",
        "balance_available",
        "balance_pending",
        "balance_held",
        "lifetime_spend",
        "lifetime_visits",
        "lifetime_earned",
        "last_purchase_at",
        "enrolled_at",
        "enrolled_outlet",
    )
    exclude = ("available", "pending", "held", "pending_release_at")
    # No lots or entries inline: an active account has thousands (the page was 20 000 px
    # tall). The customer card pages the operations; the links filter the lists by account.
    # The programme's own member profile (names, email, card, consents) is shown here.
    inlines = [MemberProfileInline]
    actions = ["adjust_points"]
    admin_allows = frozenset({"change"})

    @admin.display(description=_("ledger"))
    def ledger_links(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        links = [
            (
                reverse("admin:customers_customer_change", args=[obj.customer_id]),
                _("customer card"),
            ),
            (
                f"{reverse('admin:ledger_operation_changelist')}?account__id__exact={obj.pk}",
                _("operations"),
            ),
            (
                f"{reverse('admin:ledger_entry_changelist')}?account__id__exact={obj.pk}",
                _("entries"),
            ),
        ]
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    @admin.display(description=_("available"))
    def balance_available(self, obj):
        return account_balance(obj, now=timezone.now()).available

    @admin.display(description=_("pending"))
    def balance_pending(self, obj):
        return account_balance(obj, now=timezone.now()).pending

    @admin.display(description=_("held"))
    def balance_held(self, obj):
        """Held by reserved checks (two-phase payment) until confirmed or released."""
        return account_balance(obj, now=timezone.now()).held

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


def _precision(obj) -> int:
    program = getattr(obj, "program", None)
    return program.precision if program is not None else 0


class OperationEntryInline(ReadOnlyInline):
    model = Entry
    fk_name = "operation"
    fields = ("lot", "kind", "amount")
    readonly_fields = fields


class LedgerAdmin(ProgrammeScopedAdminMixin, ReadOnlyAdmin):
    """Read-only ledger rows, limited to the user's programmes; dates are business time."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(Operation)
class OperationAdmin(LedgerAdmin):
    @admin.display(description=_("description"), ordering="description")
    def description_shown(self, obj):
        return description_text(obj.description)

    list_display = (
        "occurred_at",
        "account",
        "kind",
        "points_shown",
        "description_shown",
        "created_by",
    )
    list_filter = ("kind", "program")
    search_fields = ("account__customer__phone", "idempotency_key", "description")
    list_select_related = ("account__customer", "account__program", "created_by", "program")
    date_hierarchy = "occurred_at"
    ordering = ("-occurred_at", "-id")
    inlines = [OperationEntryInline]

    @admin.display(description=_("net points"), ordering="points")
    def points_shown(self, obj):
        return points_text(obj.points, _precision(obj))


class CheckLineInline(ReadOnlyInline):
    model = CheckLine
    fields = (
        "number",
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

    @admin.display(description="#")
    def number(self, obj):
        return obj.index + 1


@admin.register(Check)
class CheckAdmin(LedgerAdmin):
    list_display = (
        "receipt_number",
        "occurred_at",
        "outlet",
        "account",
        "status",
        "subtotal",
        "redeemed",
        "earned",
    )
    list_filter = ("status", "program", "outlet")
    search_fields = ("receipt_number", "account__customer__phone")
    list_select_related = ("outlet", "account__customer", "account__program", "program")
    date_hierarchy = "occurred_at"
    ordering = ("-occurred_at", "-id")
    inlines = [CheckLineInline]

    @admin.display(description=_("redeemed points"), ordering="redeemed_points")
    def redeemed(self, obj):
        return points_text(obj.redeemed_points, _precision(obj))

    @admin.display(description=_("earned points"), ordering="earned_points")
    def earned(self, obj):
        return points_text(obj.earned_points, _precision(obj))


@admin.register(Refund)
class RefundAdmin(LedgerAdmin):
    program_lookup = "check_obj__program"
    list_display = ("occurred_at", "check_obj", "amount", "clawed_back", "restored")
    list_select_related = ("check_obj__program", "operation")
    ordering = ("-operation__occurred_at", "-id")

    @admin.display(description=_("occurred at"), ordering="operation__occurred_at")
    def occurred_at(self, obj):
        return obj.operation.occurred_at

    @admin.display(description=_("clawed back"), ordering="clawed_back_points")
    def clawed_back(self, obj):
        return points_text(obj.clawed_back_points, obj.check_obj.program.precision)

    @admin.display(description=_("restored"), ordering="restored_points")
    def restored(self, obj):
        return points_text(obj.restored_points, obj.check_obj.program.precision)


@admin.register(Entry)
class EntryAdmin(LedgerAdmin):
    program_lookup = "account__program"
    list_display = ("occurred_at", "account", "operation", "lot", "kind", "amount_shown")
    list_filter = ("kind",)
    list_select_related = ("account__customer", "account__program", "operation", "lot")
    ordering = ("-operation__occurred_at", "-id")

    @admin.display(description=_("occurred at"), ordering="operation__occurred_at")
    def occurred_at(self, obj):
        return obj.operation.occurred_at

    @admin.display(description=_("points"), ordering="amount")
    def amount_shown(self, obj):
        return points_text(obj.amount, obj.account.program.precision)


@admin.register(Coupon)
class CouponAdmin(ProgrammeScopedAdminMixin, ReadOnlyAdmin):
    """Coupons are issued by claims and used by checks; staff hand gifts out with the action."""

    list_display = (
        "code",
        "reward",
        "account",
        "points_cost",
        "created_at",
        "expires_at",
        "state",
        "used_at",
    )
    list_filter = ("program", "reward__kind", "reward")
    list_select_related = ("reward", "account__customer", "program")
    search_fields = ("code", "account__customer__phone", "reward__code")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    readonly_fields = (
        "code",
        "program",
        "reward",
        "account",
        "operation",
        "points_cost",
        "created_at",
        "expires_at",
        "used_at",
        "used_check",
        "used_by",
    )
    actions = ["hand_out_gift"]

    @admin.display(description=_("state"))
    def state(self, obj):
        return {"used": _("used"), "expired": _("expired"), "active": _("active")}[
            obj.status_at(timezone.now())
        ]

    @admin.action(
        description=_("Hand out the gift (mark the gift coupon used)"), permissions=["hand_out"]
    )
    def hand_out_gift(self, request, queryset):
        done = 0
        for coupon in queryset.order_by("pk"):
            try:
                services.gift_hand_out(coupon=coupon, user=request.user, now=timezone.now())
            except errors.DomainError as exc:
                self.message_user(request, f"{coupon.code}: {exc.detail}", messages.ERROR)
                continue
            done += 1
        if done:
            self.message_user(
                request,
                ngettext("Handed out %(n)d gift.", "Handed out %(n)d gifts.", done) % {"n": done},
                messages.SUCCESS,
            )

    def has_hand_out_permission(self, request):
        return request.user.has_perm("ledger.change_coupon")
