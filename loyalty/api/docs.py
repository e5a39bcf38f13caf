"""OpenAPI descriptions of the POS endpoints: requests, responses, every error, with examples."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

from loyalty.api import schema as _schema_extensions  # noqa: F401  (registers them)
from loyalty.api import serializers as s

TAG = "POS"

IDEMPOTENCY_REQUIRED = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="Any string up to 100 characters. A retry with the same key and body returns "
    "the first response; the same key with a different body is 409.",
)
IDEMPOTENCY_OPTIONAL = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Optional: makes a retry safe (same key and body → the first response).",
)


def error(description: str, *examples: tuple[str, str, dict | None]) -> OpenApiResponse:
    return OpenApiResponse(
        response=s.ErrorOutputSerializer,
        description=description,
        examples=[
            OpenApiExample(
                code,
                value={"code": code, "detail": detail, **({"fields": fields} if fields else {})},
                response_only=True,
            )
            for code, detail, fields in examples
        ],
    )


VALIDATION = (
    "validation_error",
    "lines[0].quantity: Ensure this value is greater than or equal to 0.001.",
    {"lines[0].quantity": ["Ensure this value is greater than or equal to 0.001."]},
)
NOT_AUTHENTICATED = error(
    "Missing, wrong or revoked API key.",
    ("not_authenticated", "Invalid or revoked API key.", None),
)
FORBIDDEN = error(
    "The key is valid, but its outlet or programme is not active.",
    ("permission_denied", "The outlet of this API key is not active.", None),
)
THROTTLED = error(
    "Too many requests for this key; see the Retry-After header.",
    ("throttled", "Request was throttled. Expected available in 12 seconds.", None),
)
CUSTOMER_NOT_FOUND = ("customer_not_found", "Customer not found.", None)
CHECK_NOT_FOUND = ("check_not_found", "Check not found.", None)
BLOCKED = ("customer_blocked", "The customer is blocked.", None)
REUSED = (
    "idempotency_key_reused",
    "This idempotency key was used with a different request.",
    None,
)


def common(*, bad_request: tuple = (VALIDATION,)) -> dict:
    return {
        400: error("Malformed JSON, wrong types, unknown fields, bad values.", *bad_request),
        401: NOT_AUTHENTICATED,
        403: FORBIDDEN,
        429: THROTTLED,
    }


TIER = {"code": "base", "name": "Base"}
CUSTOMER = {
    "id": "5f1c2a9e-7f0b-4c1e-9a57-3b1f0e2d4c11",
    "first_name": "Анна",
    "phone_masked": "+7999***4567",
    "tier": TIER,
    "balance": {"available": "1000", "pending": "0"},
    "expiring": [{"points": "300", "expires_at": "2026-09-01T00:00:00+03:00"}],
}
LINES = [
    {
        "sku": "LATTE",
        "category": "coffee",
        "name": "Latte",
        "quantity": "2",
        "price": "250.00",
        "amount": "500.00",
        "is_promo": False,
    }
]
QUOTE = {
    "subtotal": "500.00",
    "max_redeemable_points": "150",
    "redeemed_points": "100",
    "discount": "100.00",
    "payable": "400.00",
    "earned_points": "40",
    "balance": {"available": "1000", "available_after": "940", "pending_after": "0"},
    "tier": TIER,
    "lines": [{"index": 0, "redeemed_points": "100", "discount": "100.00", "earned_points": "40"}],
    "breakdown": [
        {"rule": "tier:base", "points": "20", "reason": "5% of 400.00"},
        {"rule": "latte", "points": "20", "reason": "10 per item × 2"},
    ],
    "coupons": [],
}
CHECK_ID = "0b7e7f0e-3a39-4d55-8f0a-2f5b8c7d9e10"
NOT_COMPLETED = ("check_not_completed", "The check is reserved, not completed.", None)
EXPIRED = (
    "reservation_expired",
    "The reservation has expired; its points were released.",
    None,
)
CANCELLED = ("check_already_cancelled", "The check is already cancelled.", None)

customer_lookup = {
    "operation_id": "customers_lookup",
    "tags": [TAG],
    "summary": "Find a customer by phone, card, one-time code or id",
    "description": "Exactly one of the parameters. A one-time code is used up by the lookup; "
    "use the returned id afterwards.",
    "parameters": [
        OpenApiParameter("phone", str, description="Any common format, e.g. 8 999 123-45-67."),
        OpenApiParameter("card", str),
        OpenApiParameter("code", str, description="Six digits from the cabinet."),
        OpenApiParameter(
            "id", OpenApiTypes.UUID, description="The customer's id in this programme."
        ),
    ],
    "responses": {
        200: OpenApiResponse(
            s.CustomerOutputSerializer,
            examples=[OpenApiExample("customer", value=CUSTOMER, response_only=True)],
        ),
        **common(
            bad_request=(
                (
                    "validation_error",
                    "query.phone: Enter a valid phone number.",
                    {"query.phone": ["Enter a valid phone number."]},
                ),
            )
        ),
        404: error("No member of this programme matches.", CUSTOMER_NOT_FOUND),
        422: error("The customer is blocked.", BLOCKED),
    },
}

customer_lookup_post = {
    **customer_lookup,
    "operation_id": "customers_lookup_by_body",
    "summary": "Find a customer, the identifier in the body",
    "description": "The same as the GET, with the identifier object in the body, so that "
    "phones and codes stay out of URLs and access logs; prefer it. A one-time code is used up "
    "by the lookup.",
    "parameters": [],
    "request": s.CustomerLookupInputSerializer,
    "examples": [
        OpenApiExample("by code", value={"customer": {"code": "482913"}}, request_only=True)
    ],
    "responses": {
        **customer_lookup["responses"],
        **common(
            bad_request=(
                (
                    "validation_error",
                    "customer.phone: Enter a valid phone number.",
                    {"customer.phone": ["Enter a valid phone number."]},
                ),
            )
        ),
    },
}

customer_enrol = {
    "operation_id": "customers_enrol",
    "tags": [TAG],
    "summary": "Enrol a customer",
    "description": "201 with the new member; 200 with the existing one if the phone is already "
    "enrolled (never a duplicate). Triggers the welcome bonus and message if configured.",
    "parameters": [IDEMPOTENCY_OPTIONAL],
    "request": s.CustomerEnrolInputSerializer,
    "examples": [
        OpenApiExample(
            "enrol",
            value={
                "phone": "+7 999 123-45-67",
                "first_name": "Анна",
                "card": "2000123",
                "consents": {"sms": True, "email": False},
            },
            request_only=True,
        )
    ],
    "responses": {
        201: OpenApiResponse(
            s.CustomerOutputSerializer,
            description="Enrolled now.",
            examples=[OpenApiExample("new", value=CUSTOMER, response_only=True)],
        ),
        200: OpenApiResponse(s.CustomerOutputSerializer, description="Already enrolled."),
        **common(
            bad_request=(
                (
                    "validation_error",
                    "phone: Enter a valid phone number.",
                    {"phone": ["Enter a valid phone number."]},
                ),
            )
        ),
        409: error("The Idempotency-Key was used with another body.", REUSED),
    },
}

_calc_errors = {
    **common(),
    401: NOT_AUTHENTICATED,
    404: error("The customer named is not a member of this programme.", CUSTOMER_NOT_FOUND),
    422: error(
        "The redemption or the customer is not allowed.",
        ("redeem_limit_exceeded", "At most 150 points can be redeemed on this check.", None),
        ("insufficient_points", "Requested 100 points, the balance is 40.", None),
        ("redeem_not_allowed", "No line of this check may be paid with points.", None),
        BLOCKED,
    ),
}
COUPON_INVALID = (
    "coupon_invalid",
    "coupons[0] (K7Q2-9XPA): This coupon has already been used.",
    None,
)
_commit_errors = {
    **_calc_errors,
    422: error(
        "The redemption, a coupon or the customer is not allowed.",
        ("redeem_limit_exceeded", "At most 150 points can be redeemed on this check.", None),
        ("insufficient_points", "Requested 100 points, the balance is 40.", None),
        ("redeem_not_allowed", "No line of this check may be paid with points.", None),
        COUPON_INVALID,
        BLOCKED,
    ),
}

check_calculate = {
    "operation_id": "checks_calculate",
    "tags": [TAG],
    "summary": "Preview a check (writes nothing)",
    "description": "Accepts the commit body as it is: `receipt_number` is optional and not "
    "checked here, `occurred_at` (within the programme's window, as for commit) decides days, "
    "hours and validity windows.",
    "request": s.CheckCalculateInputSerializer,
    "examples": [
        OpenApiExample(
            "latte",
            value={"customer": {"phone": "+79991234567"}, "lines": LINES, "redeem_points": "100"},
            request_only=True,
        )
    ],
    "responses": {
        200: OpenApiResponse(
            s.CheckCalculateOutputSerializer,
            examples=[OpenApiExample("quote", value=QUOTE, response_only=True)],
        ),
        **_calc_errors,
    },
}

check_commit = {
    "operation_id": "checks_commit",
    "tags": [TAG],
    "summary": "Commit a check",
    "description": "Re-validates everything under a lock on the account. The same key and body "
    "again return the first response (201) and move nothing.",
    "parameters": [IDEMPOTENCY_REQUIRED],
    "request": s.CheckCommitInputSerializer,
    "examples": [
        OpenApiExample(
            "latte",
            value={
                "customer": {"phone": "+79991234567"},
                "lines": LINES,
                "redeem_points": "100",
                "receipt_number": "A-1001",
            },
            request_only=True,
        )
    ],
    "responses": {
        201: OpenApiResponse(
            s.CheckCommitOutputSerializer,
            examples=[
                OpenApiExample(
                    "committed",
                    value={
                        **QUOTE,
                        "id": CHECK_ID,
                        "status": "completed",
                        "receipt_number": "A-1001",
                    },
                    response_only=True,
                )
            ],
        ),
        **_commit_errors,
        409: error("The Idempotency-Key was used with another body.", REUSED),
    },
}

check_refund = {
    "operation_id": "checks_refund",
    "tags": [TAG],
    "summary": "Refund goods of a check",
    "description": "Claws back the points earned on the returned part and gives back the points "
    "that paid for it. Partial refunds may follow one another up to the whole check.",
    "parameters": [IDEMPOTENCY_REQUIRED],
    "request": s.CheckRefundInputSerializer,
    "examples": [
        OpenApiExample(
            "one latte", value={"lines": [{"index": 0, "quantity": "1"}]}, request_only=True
        ),
        OpenApiExample("everything", value={"full": True}, request_only=True),
    ],
    "responses": {
        201: OpenApiResponse(
            s.CheckRefundOutputSerializer,
            examples=[
                OpenApiExample(
                    "refund",
                    value={
                        "id": "9a0e1c44-51a4-4f0c-8d9b-8d1f6b1e2a33",
                        "clawed_back_points": "20",
                        "restored_points": "50",
                        "balance": {"available": "970", "pending": "0"},
                    },
                    response_only=True,
                )
            ],
        ),
        **common(),
        404: error("No such check in this programme.", CHECK_NOT_FOUND),
        409: error(
            "The check is cancelled or only reserved, or the key was reused.",
            ("check_already_cancelled", "The check is already cancelled.", None),
            NOT_COMPLETED,
            REUSED,
        ),
        422: error(
            "More than is left of the check.",
            ("refund_exceeds_check", "Line 0: 3 requested, 1 left to refund.", None),
        ),
    },
}

check_cancel = {
    "operation_id": "checks_cancel",
    "tags": [TAG],
    "summary": "Cancel (void) a check",
    "description": "Reverses everything the check moved; on a reserved check it releases the "
    "points held. A second cancel is 409.",
    "parameters": [IDEMPOTENCY_OPTIONAL],
    "request": s.CheckCancelInputSerializer,
    "responses": {
        200: OpenApiResponse(
            s.CheckCancelOutputSerializer,
            examples=[
                OpenApiExample(
                    "cancelled",
                    value={
                        "id": CHECK_ID,
                        "status": "cancelled",
                        "clawed_back_points": "40",
                        "restored_points": "100",
                        "balance": {"available": "1000", "pending": "0"},
                    },
                    response_only=True,
                )
            ],
        ),
        **common(),
        404: error("No such check in this programme.", CHECK_NOT_FOUND),
        409: error(
            "Already cancelled, or the key was reused.",
            ("check_already_cancelled", "The check is already cancelled.", None),
            REUSED,
        ),
    },
}

event_award = {
    "operation_id": "events_award",
    "tags": [TAG],
    "summary": "Report an event (review, subscription, survey…)",
    "description": "Awards the programme's event rules once per (event, external_id). 201 when "
    'points were awarded; 200 with awarded_points "0" and a reason when a limit stops it.',
    "parameters": [IDEMPOTENCY_OPTIONAL],
    "request": s.EventInputSerializer,
    "examples": [
        OpenApiExample(
            "review",
            value={
                "customer": {"phone": "+79991234567"},
                "event": "review",
                "external_id": "rev-7781",
            },
            request_only=True,
        )
    ],
    "responses": {
        201: OpenApiResponse(
            s.EventOutputSerializer,
            examples=[
                OpenApiExample(
                    "awarded",
                    value={
                        "awarded_points": "50",
                        "balance": {"available": "1050", "pending": "0"},
                    },
                    response_only=True,
                )
            ],
        ),
        200: OpenApiResponse(
            s.EventOutputSerializer,
            examples=[
                OpenApiExample(
                    "limit",
                    value={
                        "awarded_points": "0",
                        "balance": {"available": "1050", "pending": "0"},
                        "reason": "The customer has reached the limit for the event “review”.",
                    },
                    response_only=True,
                )
            ],
        ),
        **common(),
        404: error("The customer is not a member of this programme.", CUSTOMER_NOT_FOUND),
        409: error(
            "The Idempotency-Key was used with another body, or the (event, external_id) was "
            "already reported for another customer.",
            REUSED,
        ),
        422: error("The customer is blocked.", BLOCKED),
    },
}

customer_operations = {
    "operation_id": "customers_operations",
    "tags": [TAG],
    "summary": "The customer's ledger, newest first",
    "parameters": [
        OpenApiParameter("cursor", str, description="From the previous page's `next`."),
    ],
    "responses": {
        200: OpenApiResponse(
            s.OperationPageOutputSerializer,
            examples=[
                OpenApiExample(
                    "page",
                    value={
                        "results": [
                            {
                                "id": "3c4d5e6f-0a1b-4c2d-8e3f-405162738495",
                                "kind": "check",
                                "points": "-60",
                                "created_at": "2026-06-15T12:00:00+03:00",
                                "check_id": CHECK_ID,
                                "description": "Check A-1001",
                            }
                        ],
                        "next": None,
                    },
                    response_only=True,
                )
            ],
        ),
        **common(
            bad_request=(
                ("validation_error", "cursor: Invalid cursor.", {"cursor": ["Invalid cursor."]}),
            )
        ),
        404: error("The customer is not a member of this programme.", CUSTOMER_NOT_FOUND),
    },
}


check_reserve = {
    "operation_id": "checks_reserve",
    "tags": [TAG],
    "summary": "Reserve a check (two-phase payment, phase one)",
    "description": "Takes the commit body and validates it exactly like a commit (same errors). "
    "The points to redeem are held: they leave `available` at once; nothing is earned yet and "
    "no counter or tier moves. Confirm before `reserved_until` (the programme's "
    "`reservation_minutes`, default 15) or the hold is released by time alone. The same key "
    "and body again return the first response (201).",
    "parameters": [IDEMPOTENCY_REQUIRED],
    "request": s.CheckCommitInputSerializer,
    "examples": [
        OpenApiExample(
            "latte",
            value={
                "customer": {"phone": "+79991234567"},
                "lines": LINES,
                "redeem_points": "100",
                "receipt_number": "A-1001",
            },
            request_only=True,
        )
    ],
    "responses": {
        201: OpenApiResponse(
            s.CheckReserveOutputSerializer,
            examples=[
                OpenApiExample(
                    "reserved",
                    value={
                        **QUOTE,
                        "balance": {
                            "available": "1000",
                            "available_after": "900",
                            "pending_after": "0",
                        },
                        "id": CHECK_ID,
                        "status": "reserved",
                        "receipt_number": "A-1001",
                        "reserved_until": "2026-06-15T12:15:00+03:00",
                    },
                    response_only=True,
                )
            ],
        ),
        **_commit_errors,
        409: error("The Idempotency-Key was used with another body.", REUSED),
    },
}

check_confirm = {
    "operation_id": "checks_confirm",
    "tags": [TAG],
    "summary": "Confirm a reserved check (two-phase payment, phase two)",
    "description": "Burns the held points and earns the points computed at reservation, "
    "exactly as a commit would have. Empty body. Confirming a check already completed "
    "returns it unchanged. After `reserved_until` → 409 `reservation_expired`; a cancelled "
    "check → 409 `check_already_cancelled`.",
    "parameters": [IDEMPOTENCY_REQUIRED],
    "request": s.CheckConfirmInputSerializer,
    "responses": {
        200: OpenApiResponse(
            s.CheckCommitOutputSerializer,
            examples=[
                OpenApiExample(
                    "confirmed",
                    value={
                        **QUOTE,
                        "max_redeemable_points": "100",
                        "balance": {
                            "available": "900",
                            "available_after": "940",
                            "pending_after": "0",
                        },
                        "id": CHECK_ID,
                        "status": "completed",
                        "receipt_number": "A-1001",
                    },
                    response_only=True,
                )
            ],
        ),
        **common(),
        404: error("No such check in this programme.", CHECK_NOT_FOUND),
        409: error(
            "The reservation expired, the check is cancelled, or the key was reused.",
            EXPIRED,
            CANCELLED,
            REUSED,
        ),
    },
}


REWARD = {
    "code": "coffee-free",
    "name": "Любой кофе бесплатно",
    "kind": "free_product",
    "points_cost": "300",
    "valid_until": "2026-12-31T00:00:00+03:00",
    "available": 120,
    "tiers": [],
}

rewards_list = {
    "operation_id": "rewards_list",
    "tags": [TAG],
    "summary": "The rewards catalogue active now",
    "description": "The programme's rewards within their dates and in stock, cheapest first. "
    "`available` (coupons left) is absent without a stock limit, `valid_until` without an end "
    "date; `tiers` empty means every tier.",
    "responses": {
        200: OpenApiResponse(
            s.RewardOutputSerializer(many=True),
            examples=[OpenApiExample("catalogue", value=[REWARD], response_only=True)],
        ),
        401: NOT_AUTHENTICATED,
        403: FORBIDDEN,
        429: THROTTLED,
    },
}

reward_claim = {
    "operation_id": "rewards_claim",
    "tags": [TAG],
    "summary": "Claim a reward for points: issues a coupon",
    "description": "Debits the reward's points cost as its own ledger operation and issues a "
    "single-use coupon bound to the customer. The same key and body again return the first "
    "response (201) and move nothing.",
    "parameters": [
        OpenApiParameter("code", str, OpenApiParameter.PATH, description="The reward's code."),
        IDEMPOTENCY_REQUIRED,
    ],
    "request": s.RewardClaimInputSerializer,
    "examples": [
        OpenApiExample("by phone", value={"customer": {"phone": "+79991234567"}}, request_only=True)
    ],
    "responses": {
        201: OpenApiResponse(
            s.RewardClaimOutputSerializer,
            examples=[
                OpenApiExample(
                    "claimed",
                    value={
                        "coupon": {
                            "code": "K7Q2-9XPA",
                            "reward": "coffee-free",
                            "expires_at": "2026-07-15T12:00:00+03:00",
                        },
                        "balance": {"available": "700", "pending": "0"},
                    },
                    response_only=True,
                )
            ],
        ),
        **common(
            bad_request=(
                (
                    "validation_error",
                    "customer.phone: Enter a valid phone number.",
                    {"customer.phone": ["Enter a valid phone number."]},
                ),
            )
        ),
        404: error("The customer is not a member of this programme.", CUSTOMER_NOT_FOUND),
        409: error("The Idempotency-Key was used with another body.", REUSED),
        422: error(
            "Not enough points, the reward cannot be claimed, or the customer is blocked.",
            ("insufficient_points", "The reward costs 300 points, the balance is 120.", None),
            ("reward_unavailable", "This reward is out of stock.", None),
            BLOCKED,
        ),
    },
}
