"""Plain input and output serializers of the POS API (docs/api.md is the contract)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.money import quantize_money, quantize_points


class StrictSerializer(serializers.Serializer):
    """Rejects fields it does not know: a typo must not be silently ignored at the till."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: [_("Unknown field.")] for name in unknown})
        return super().to_internal_value(data)


# --- fields ------------------------------------------------------------------------------------


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


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "pattern": r"^(max|\d+(\.\d{1,2})?)$"},
            {"type": "number", "minimum": 0},
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
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, str) and data.strip().lower() == "max":
            return "max"
        if not isinstance(data, str | int | float):
            self.fail("invalid")
        try:
            value = Decimal(str(data).strip())
        except InvalidOperation:
            self.fail("invalid")
        if not value.is_finite() or value.as_tuple().exponent < -2 or abs(value) >= 10**12:
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

    default_error_messages = {"naive": _("Give the time with its UTC offset.")}

    def to_internal_value(self, value):
        try:
            parsed = parse_datetime(value.strip()) if isinstance(value, str) else None
        except ValueError:
            parsed = None  # well formed but impossible: DRF's own message below
        if parsed is not None and parsed.tzinfo is None:
            self.fail("naive")
        return super().to_internal_value(value)


def money_input(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal("0"), **kwargs
    )


# --- shared pieces ---------------------------------------------------------------------------


class CustomerRefSerializer(StrictSerializer):
    phone = serializers.CharField(
        required=False, max_length=32, help_text=_("Any common format; normalised to E.164.")
    )
    card = serializers.CharField(required=False, max_length=32)
    code = serializers.CharField(
        required=False,
        max_length=6,
        min_length=6,
        help_text=_("One-time code from the cabinet: 5 minutes, single use."),
    )
    id = serializers.UUIDField(required=False)

    def validate(self, attrs):
        if len(attrs) != 1:
            raise serializers.ValidationError(_("Give exactly one of phone, card, code, id."))
        return attrs


class LineInputSerializer(StrictSerializer):
    sku = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    category = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    quantity = serializers.DecimalField(max_digits=14, decimal_places=3, min_value=Decimal("0.001"))
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
            if amount >= 10**12:
                raise serializers.ValidationError({"amount": [_("Too large.")]})
            attrs["amount"] = amount
        return attrs


class CheckCalculateInputSerializer(StrictSerializer):
    customer = CustomerRefSerializer(
        required=False, allow_null=True, help_text=_("Absent or null: an anonymous check.")
    )
    lines = LineInputSerializer(many=True, allow_empty=False, max_length=500)
    redeem_points = RedeemField(required=False, allow_null=True)


class CheckCommitInputSerializer(CheckCalculateInputSerializer):
    receipt_number = serializers.CharField(max_length=64, help_text=_("Unique per outlet."))
    occurred_at = AwareDateTimeField(required=False, allow_null=True)


class RefundLineInputSerializer(StrictSerializer):
    index = serializers.IntegerField(min_value=0, max_value=100000)
    quantity = serializers.DecimalField(max_digits=14, decimal_places=3, min_value=Decimal("0.001"))


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


class ConsentsSerializer(StrictSerializer):
    sms = StrictBooleanField(required=False)
    email = StrictBooleanField(required=False)


class CustomerEnrolInputSerializer(StrictSerializer):
    phone = serializers.CharField(max_length=32)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    first_name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    birth_date = serializers.DateField(required=False, allow_null=True)
    card = serializers.CharField(max_length=32, required=False, allow_blank=True, allow_null=True)
    referral_code = serializers.CharField(
        max_length=16, required=False, allow_blank=True, allow_null=True
    )
    consents = ConsentsSerializer(required=False, allow_null=True)


class EventInputSerializer(StrictSerializer):
    customer = CustomerRefSerializer()
    event = serializers.SlugField(max_length=50, help_text=_("e.g. review, subscription."))
    external_id = serializers.CharField(
        max_length=100, help_text=_("The event's id in your system; the award is once per id.")
    )
    occurred_at = AwareDateTimeField(required=False, allow_null=True)


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


class CheckCalculateOutputSerializer(serializers.Serializer):
    subtotal = MoneyField()
    max_redeemable_points = PointsField()
    redeemed_points = PointsField()
    discount = MoneyField()
    payable = MoneyField()
    earned_points = PointsField()
    balance = CheckBalanceOutputSerializer()
    tier = TierOutputSerializer(allow_null=True)
    lines = LineOutputSerializer(many=True)
    breakdown = BreakdownOutputSerializer(many=True)


class CheckCommitOutputSerializer(CheckCalculateOutputSerializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    receipt_number = serializers.CharField()


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
