"""Domain errors shared by the ledger, the rules and the doors (API, admin, cabinet).

Each carries the machine code and HTTP status that docs/api.md assigns to it; the API's exception
handler turns them into the error envelope, the admin into a message.
"""

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    code = "domain_error"
    status = 422
    default_detail = _("The operation is not allowed.")

    def __init__(self, detail=None, *, fields: dict | None = None):
        self.detail = str(detail if detail is not None else self.default_detail)
        self.fields = fields
        super().__init__(self.detail)


class ValidationFailed(DomainError):
    code = "validation_error"
    status = 400
    default_detail = _("Invalid input.")


class InsufficientPoints(DomainError):
    code = "insufficient_points"
    default_detail = _("Not enough points.")


class RedeemNotAllowed(DomainError):
    code = "redeem_not_allowed"
    default_detail = _("Points cannot be redeemed on this check.")


class RedeemLimitExceeded(DomainError):
    code = "redeem_limit_exceeded"
    default_detail = _("More points requested than this check allows.")


class CustomerBlocked(DomainError):
    code = "customer_blocked"
    default_detail = _("The customer is blocked.")


class CustomerNotFound(DomainError):
    code = "customer_not_found"
    status = 404
    default_detail = _("Customer not found.")


class CheckNotFound(DomainError):
    code = "check_not_found"
    status = 404
    default_detail = _("Check not found.")


class RefundExceedsCheck(DomainError):
    code = "refund_exceeds_check"
    default_detail = _("The refund exceeds what is left of the check.")


class CheckAlreadyCancelled(DomainError):
    code = "check_already_cancelled"
    status = 409
    default_detail = _("The check is already cancelled.")


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    status = 409
    default_detail = _("This idempotency key was used with a different request.")


class ReservationExpired(DomainError):
    code = "reservation_expired"
    status = 409
    default_detail = _("The reservation has expired; its points were released.")


class CheckNotCompleted(DomainError):
    code = "check_not_completed"
    status = 409
    default_detail = _("The check is reserved, not completed.")


class RewardUnavailable(DomainError):
    code = "reward_unavailable"
    default_detail = _("This reward cannot be claimed.")


class CouponInvalid(DomainError):
    code = "coupon_invalid"
    default_detail = _("A coupon cannot be used on this check.")
