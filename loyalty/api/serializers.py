"""Plain input and output serializers of the POS API (docs/api.md is the contract)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.money import quantize_money, quantize_points

# What a DecimalField(14, 2) column holds: every amount, and every total of amounts.
MONEY_MAX = Decimal("999999999999.99")
QUANTITY_MAX = Decimal("99999999999.999")
# Plain decimal strings only: ASCII digits, an optional fraction, no exponent, sign, spaces,
# underscores or other scripts' digits (Python's Decimal() takes all of those).
UNSIGNED_DECIMAL = r"^[0-9]+(\.[0-9]+)?$"
_UNSIGNED_DECIMAL = re.compile(UNSIGNED_DECIMAL, re.ASCII)


class StrictSerializer(serializers.Serializer):
    """Rejects fields it does not know: a typo must not be silently ignored at the till."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: [_("Unknown field.")] for name in unknown})
        return super().to_internal_value(data)


# --- fields ------------------------------------------------------------------------------------


class StringOnly:
    """A JSON string only: a number where the contract says string is a wrong type."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError(_("Must be a string."), code="not_a_string")
        return super().to_internal_value(data)


class StrictCharField(StringOnly, serializers.CharField):
    pass


class StrictEmailField(StringOnly, serializers.EmailField):
    pass


class StrictSlugField(StringOnly, serializers.SlugField):
    pass


class StrictUUIDField(serializers.UUIDField):
    """A UUID string only (DRF's own also takes an integer)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: not "0", not 0.0, not true."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class PlainDecimalField(serializers.DecimalField):
    """A non-negative decimal as a plain string ("2", "250.00") or a JSON number.

    The contract (docs/api.md) lets requests send amounts as strings or numbers; anything else
    Python's Decimal() would read ("1E+5", "1_000", " 2", Arabic-Indic digits) is refused.
    """

    default_error_messages = {
        "format": _("Give a plain decimal number such as 2 or 250.00."),
    }

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, str):
            if not _UNSIGNED_DECIMAL.match(data) or len(data) > 64:
                self.fail("format")
        elif isinstance(data, float):
            data = repr(data)  # the shortest text that round-trips: 2.5, not 2.5000000001
        elif isinstance(data, Decimal):  # a JSON number (the API's parser reads them exactly)
            if not data.is_finite():
                self.fail("invalid")
        elif not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "format": "decimal", "example": "150"})
class PointsField(serializers.Field):
    """Points as a decimal string with the programme's precision ("150", or "12.50")."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value) -> str:
        precision = self.context.get("precision", 0)
        return str(quantize_points(value, precision=precision))


@extend_schema_field({"type": "string", "format": "decimal", "example": "500.00"})
class MoneyField(serializers.Field):
    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value) -> str:
        return str(quantize_money(value))


REDEEM_PATTERN = r"^(max|[0-9]{1,12}(\.[0-9]{1,2})?)$"
_REDEEM = re.compile(REDEEM_PATTERN, re.ASCII)


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "pattern": REDEEM_PATTERN},
            {
                "type": "number",
                "minimum": 0,
                "maximum": float(MONEY_MAX),
                "multipleOf": 0.01,
            },
        ],
        "description": 'Points to redeem: a number, or "max" for as many as allowed.',
        "example": "100",
    }
)
class RedeemField(serializers.Field):
    default_error_messages = {
        "invalid": _('A number of points or "max".'),
        "negative": _("Must not be negative."),
    }

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int | float | Decimal):
            self.fail("invalid")
        if isinstance(data, str):
            if not _REDEEM.match(data):
                self.fail("invalid")
            if data == "max":
                return "max"
        try:
            value = Decimal(repr(data) if isinstance(data, float) else str(data))
        except InvalidOperation:
            self.fail("invalid")
        if not value.is_finite() or value.as_tuple().exponent < -2 or abs(value) > MONEY_MAX:
            self.fail("invalid")
        if value < 0:
            self.fail("negative")
        return value

    def to_representation(self, value):
        return str(value)


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only: "yes" or 1 for a flag is a wrong type, not a guess."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with its UTC offset: a naive time would be read in the server's zone."""

    default_error_messages = {
        "naive": _("Give the time with its UTC offset."),
        "overflow": _("Not a representable time."),
    }

    def to_internal_value(self, value):
        try:
            parsed = parse_datetime(value.strip()) if isinstance(value, str) else None
        except ValueError:
            parsed = None  # well formed but impossible: DRF's own message below
        if parsed is not None and parsed.tzinfo is None:
            self.fail("naive")
        try:
            return super().to_internal_value(value)
        except OverflowError:  # 0001-01-01T00:00+14:00 is before datetime.min in UTC
            self.fail("overflow")


class OccurredAtField(AwareDateTimeField):
    """When a check or event happened, within the programme's plausible window.

    The window (``Program.occurred_at_past_days`` back, ``occurred_at_future_minutes`` ahead of
    the server's clock) comes from the serializer's context: ``program`` and ``now``.
    """

    default_error_messages = {
        "too_old": _("At most %(days)d days in the past."),
        "in_future": _("At most %(minutes)d minutes in the future."),
    }

    def to_internal_value(self, value):
        at: datetime = super().to_internal_value(value)
        program = self.context.get("program")
        if program is None:
            return at
        now = self.context.get("now") or timezone.now()
        days, minutes = program.occurred_at_past_days, program.occurred_at_future_minutes
        try:
            too_old = at < now - timedelta(days=days)
            in_future = at > now + timedelta(minutes=minutes)
        except OverflowError:
            too_old, in_future = at.year < now.year, at.year > now.year
        if too_old:
            raise serializers.ValidationError(self.error_messages["too_old"] % {"days": days})
        if in_future:
            raise serializers.ValidationError(
                self.error_messages["in_future"] % {"minutes": minutes}
            )
        return at


def money_input(**kwargs) -> serializers.DecimalField:
    return PlainDecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal("0"), max_value=MONEY_MAX, **kwargs
    )


def quantity_input(**kwargs) -> serializers.DecimalField:
    return PlainDecimalField(
        max_digits=14,
        decimal_places=3,
        min_value=Decimal("0.001"),
        max_value=QUANTITY_MAX,
        **kwargs,
    )


# --- shared pieces ---------------------------------------------------------------------------


class CustomerRefSerializer(StrictSerializer):
    phone = StrictCharField(
        required=False, max_length=32, help_text=_("Any common format; normalised to E.164.")
    )
    card = StrictCharField(required=False, max_length=32)
    code = StrictCharField(
        required=False,
        max_length=6,
        min_length=6,
        help_text=_("One-time code from the cabinet: 5 minutes, single use."),
    )
    id = StrictUUIDField(required=False)

    def validate(self, attrs):
        if len(attrs) != 1:
            raise serializers.ValidationError(_("Give exactly one of phone, card, code, id."))
        return attrs


class LineInputSerializer(StrictSerializer):
    sku = StrictCharField(max_length=64, required=False, allow_blank=True, default="")
    category = StrictCharField(max_length=100, required=False, allow_blank=True, default="")
    name = StrictCharField(max_length=255, required=False, allow_blank=True, default="")
    quantity = quantity_input()
    price = money_input()
    amount = money_input(
        required=False,
        allow_null=True,
        help_text=_("After the cashier's own discounts; defaults to quantity × price."),
    )
    is_promo = StrictBooleanField(required=False, default=False)

    def validate(self, attrs):
        if attrs.get("amount") is None:
            amount = quantize_money(attrs["quantity"] * attrs["price"])
            if amount > MONEY_MAX:
                raise serializers.ValidationError({"amount": [_("Too large.")]})
            attrs["amount"] = amount
        return attrs


class CheckCalculateInputSerializer(StrictSerializer):
    customer = CustomerRefSerializer(
        required=False, allow_null=True, help_text=_("Absent or null: an anonymous check.")
    )
    lines = LineInputSerializer(many=True, allow_empty=False, max_length=500)
    redeem_points = RedeemField(required=False, allow_null=True)
    # The commit's own fields, so a POS builds one body for both calls (docs/api.md).
    receipt_number = StrictCharField(
        max_length=64,
        required=False,
        help_text=_("Unique per outlet; optional here, checked only by commit and reserve."),
    )
    occurred_at = OccurredAtField(
        required=False,
        allow_null=True,
        help_text=_("Decides days, hours and validity windows; default now."),
    )
    coupons = serializers.ListField(
        child=StrictCharField(max_length=30),
        required=False,
        max_length=10,
        help_text=_(
            "Reward coupon codes and campaign promo codes, applied first (step 0), in this "
            "order. Calculate reports a rejected one; commit refuses it (coupon_invalid)."
        ),
    )

    def validate_lines(self, lines):
        # Each amount fits its column; their sum is the check's subtotal and must fit too.
        if sum((line["amount"] for line in lines), Decimal(0)) > MONEY_MAX:
            raise serializers.ValidationError(
                _("The lines add up to more than %(max)s.") % {"max": MONEY_MAX}
            )
        return lines


class CheckCommitInputSerializer(CheckCalculateInputSerializer):
    receipt_number = StrictCharField(max_length=64, help_text=_("Unique per outlet."))


class RefundLineInputSerializer(StrictSerializer):
    index = StrictIntegerField(min_value=0, max_value=100000)
    quantity = quantity_input()


class CheckRefundInputSerializer(StrictSerializer):
    lines = RefundLineInputSerializer(many=True, required=False, allow_empty=False)
    full = StrictBooleanField(required=False, default=False)

    def validate(self, attrs):
        if attrs.get("full") and attrs.get("lines"):
            raise serializers.ValidationError(_("Give either lines or full, not both."))
        if not attrs.get("full") and not attrs.get("lines"):
            raise serializers.ValidationError(_("Give lines, or full: true."))
        return attrs


class CheckCancelInputSerializer(StrictSerializer):
    pass


class CheckConfirmInputSerializer(StrictSerializer):
    pass


class ConsentsSerializer(StrictSerializer):
    sms = StrictBooleanField(required=False)
    email = StrictBooleanField(required=False)


class CustomerEnrolInputSerializer(StrictSerializer):
    phone = StrictCharField(max_length=32)
    email = StrictEmailField(required=False, allow_blank=True, default="")
    first_name = StrictCharField(max_length=100, required=False, allow_blank=True, default="")
    last_name = StrictCharField(max_length=100, required=False, allow_blank=True, default="")
    birth_date = serializers.DateField(required=False, allow_null=True)
    card = StrictCharField(max_length=32, required=False, allow_blank=True, allow_null=True)
    referral_code = StrictCharField(
        max_length=16, required=False, allow_blank=True, allow_null=True
    )
    consents = ConsentsSerializer(required=False, allow_null=True)


class EventInputSerializer(StrictSerializer):
    customer = CustomerRefSerializer()
    event = StrictSlugField(max_length=50, help_text=_("e.g. review, subscription."))
    external_id = StrictCharField(
        max_length=100, help_text=_("The event's id in your system; the award is once per id.")
    )
    occurred_at = OccurredAtField(required=False, allow_null=True)


class CustomerLookupQuerySerializer(StrictSerializer):
    phone = serializers.CharField(required=False, max_length=32)
    card = serializers.CharField(required=False, max_length=32)
    code = serializers.CharField(required=False, max_length=6, min_length=6)
    # docs/api.md: wherever a request names a customer, the id names it too.
    id = serializers.UUIDField(required=False)

    def validate(self, attrs):
        if len(attrs) != 1:
            raise serializers.ValidationError(_("Give exactly one of phone, card, code, id."))
        return attrs


class CustomerLookupInputSerializer(StrictSerializer):
    customer = CustomerRefSerializer()


class OperationsQuerySerializer(StrictSerializer):
    cursor = serializers.CharField(required=False, max_length=200)


# --- outputs -----------------------------------------------------------------------------------


class TierOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class BalanceOutputSerializer(serializers.Serializer):
    available = PointsField()
    pending = PointsField()


class ExpiringOutputSerializer(serializers.Serializer):
    points = PointsField()
    expires_at = serializers.DateTimeField()


class CustomerOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    first_name = serializers.CharField()
    phone_masked = serializers.CharField(help_text=_("+7999***4567"))
    tier = TierOutputSerializer(allow_null=True)
    balance = BalanceOutputSerializer()
    expiring = ExpiringOutputSerializer(many=True, help_text=_("The next 3 lots to expire."))


class CheckBalanceOutputSerializer(serializers.Serializer):
    available = PointsField()
    available_after = PointsField()
    pending_after = PointsField()


class LineOutputSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    redeemed_points = PointsField()
    discount = MoneyField()
    earned_points = PointsField()


class BreakdownOutputSerializer(serializers.Serializer):
    rule = serializers.CharField(help_text=_('A rule code, or "tier:<code>" for base accrual.'))
    points = PointsField()
    reason = serializers.CharField()


class CouponOutputSerializer(serializers.Serializer):
    code = serializers.CharField(help_text=_("As matched: upper case."))
    status = serializers.ChoiceField(choices=["applied", "rejected"])
    reason = serializers.CharField(help_text=_("What it took off, or why it was rejected."))
    discount = MoneyField(help_text=_("Money off by this coupon; 0.00 for a promo code."))


class CheckCalculateOutputSerializer(serializers.Serializer):
    subtotal = MoneyField(help_text=_("The lines as sent, before coupons."))
    max_redeemable_points = PointsField()
    redeemed_points = PointsField()
    discount = MoneyField()
    payable = MoneyField()
    earned_points = PointsField()
    balance = CheckBalanceOutputSerializer()
    tier = TierOutputSerializer(allow_null=True)
    lines = LineOutputSerializer(many=True)
    breakdown = BreakdownOutputSerializer(many=True)
    coupons = CouponOutputSerializer(many=True)


class CheckCommitOutputSerializer(CheckCalculateOutputSerializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["completed"])
    receipt_number = serializers.CharField()


class CheckReserveOutputSerializer(CheckCalculateOutputSerializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["reserved"])
    receipt_number = serializers.CharField()
    reserved_until = serializers.DateTimeField(
        help_text=_("Confirm before this; after it the points are released.")
    )


class CheckRefundOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    clawed_back_points = PointsField()
    restored_points = PointsField()
    balance = BalanceOutputSerializer()


class CheckCancelOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text=_("The check."))
    status = serializers.CharField()
    clawed_back_points = PointsField()
    restored_points = PointsField()
    balance = BalanceOutputSerializer(allow_null=True)


class EventOutputSerializer(serializers.Serializer):
    awarded_points = PointsField()
    balance = BalanceOutputSerializer()
    reason = serializers.CharField(required=False, help_text=_("Why nothing was awarded."))


class RewardOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(
        choices=["discount_amount", "discount_percent", "free_product", "gift"]
    )
    points_cost = PointsField()
    valid_until = serializers.DateTimeField(required=False, help_text=_("Absent: no end date."))
    available = serializers.IntegerField(
        required=False, help_text=_("Coupons left in stock; absent: no stock limit.")
    )
    tiers = serializers.ListField(
        child=serializers.CharField(), help_text=_("Tier codes; empty: every tier.")
    )


class RewardClaimInputSerializer(StrictSerializer):
    customer = CustomerRefSerializer()


class CouponIssuedOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    reward = serializers.CharField(help_text=_("The reward's code."))
    expires_at = serializers.DateTimeField()


class RewardClaimOutputSerializer(serializers.Serializer):
    coupon = CouponIssuedOutputSerializer()
    balance = BalanceOutputSerializer()


class OperationOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.CharField()
    points = PointsField()
    created_at = serializers.DateTimeField()
    check_id = serializers.UUIDField(required=False, allow_null=True)
    description = serializers.CharField()


class OperationPageOutputSerializer(serializers.Serializer):
    results = OperationOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text=_("The cursor of the next page."))


class ErrorOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text=_("Validation errors only: field path → messages."),
    )
