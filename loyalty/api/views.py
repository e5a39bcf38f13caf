"""The POS API: one view per operation, each a thin door to one service or selector call."""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.views import APIView

from campaigns.enrolment import member_enrol
from core import errors
from core.money import quantize_points
from customers.codes import one_time_code_consume
from customers.models import CodePurpose, Customer
from loyalty.api import docs
from loyalty.api import serializers as s
from loyalty.api.auth import APIKeyRateThrottle, HasOutletAPIKey, OutletAPIKeyAuthentication
from loyalty.api.idempotency import idempotent_response, render
from loyalty.ledger.models import Account, Check, CheckStatus, Operation
from loyalty.ledger.selectors import Balance, account_balance, expiring_lots
from loyalty.ledger.services import (
    check_calculate,
    check_cancel,
    check_commit,
    check_confirm,
    check_refund,
    check_reserve,
    customer_identify,
    event_award,
)
from loyalty.ledger.services.rewards import reward_claim
from loyalty.rules.engine import LineInput
from loyalty.rules.rewards import reward_stock_left, reward_tier_codes, rewards_active

logger = logging.getLogger(__name__)

ZERO = Decimal("0")
OPERATIONS_PAGE_SIZE = 20


class PosApi(APIView):
    """Base of every POS endpoint: acts as the API key's outlet, inside its programme."""

    authentication_classes = [OutletAPIKeyAuthentication]
    permission_classes = [HasOutletAPIKey]
    throttle_classes = [APIKeyRateThrottle]

    @property
    def outlet(self):
        return self.request.auth.outlet

    @property
    def program(self):
        return self.request.auth.outlet.program

    def source(self) -> str:
        return f"pos:{self.outlet.pk}"

    def context(self) -> dict:
        return {"precision": self.program.precision}

    def valid(self, serializer_class, data) -> dict:
        # The programme and the clock bound what a request may say (occurred_at's window).
        context = {"program": self.program, "now": timezone.now()}
        serializer = serializer_class(data=data, context=context)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def output(self, serializer_class, data, *, many: bool = False):
        return serializer_class(data, many=many, context=self.context()).data

    def members(self):
        """The customers this terminal may see: members of its programme."""
        return Customer.objects.filter(accounts__program=self.program)

    def identify(self, ref: dict | None, *, now: datetime, field: str = "customer"):
        if not ref:
            return None
        if set(ref) == {"code"}:
            # Only a code of this programme's member is consumed: another programme's
            # terminal must not be able to burn it (it answers 404 and leaves it live).
            return one_time_code_consume(
                code=ref["code"], purpose=CodePurpose.TILL, now=now, among=self.members()
            )
        try:
            return customer_identify(program=self.program, now=now, **ref)
        except errors.ValidationFailed as exc:
            exc.fields = {f"{field}.{k}": v for k, v in (exc.fields or {}).items()}
            raise

    def over_limit(
        self,
        exc,
        *,
        customer,
        lines,
        now: datetime,
        occurred_at: datetime | None = None,
        coupons=(),
    ) -> errors.RedeemLimitExceeded:
        """docs/api.md: more than ``max_redeemable_points`` is ``redeem_limit_exceeded`` naming the
        maximum, also when the balance (not the programme's share) is what limits it.

        The engine says ``insufficient_points`` when the request exceeds the balance; the
        maximum is the same calculation with "max", which the ledger attaches to the error
        (``max_redeemable``, computed under the commit's account lock); else it is computed.
        """
        best = getattr(exc, "max_redeemable", None)
        if best is None:
            best = check_calculate(
                program=self.program,
                outlet=self.outlet,
                customer=customer,
                lines=lines,
                redeem="max",
                now=now,
                occurred_at=occurred_at,
                coupons=coupons,
            ).result.max_redeemable
        limit = quantize_points(best, precision=self.program.precision)
        return errors.RedeemLimitExceeded(
            _("At most %(points)s points can be redeemed on this check.") % {"points": limit}
        )

    def find_check(self, check_id: str) -> Check:
        try:
            public_id = uuid.UUID(str(check_id))
        except ValueError:
            raise errors.CheckNotFound() from None
        check = Check.objects.filter(program=self.program, public_id=public_id).first()
        if check is None:
            raise errors.CheckNotFound()
        return check


def _tier(tier) -> dict | None:
    return {"code": tier.code, "name": tier.name} if tier is not None else None


def _lines(data: list[dict]) -> list[LineInput]:
    return [
        LineInput(
            sku=line["sku"],
            category=line["category"],
            name=line["name"],
            quantity=line["quantity"],
            price=line["price"],
            amount=line["amount"],
            is_promo=line["is_promo"],
        )
        for line in data
    ]


def _quote_body(result, *, tier, before: Balance, after: Balance) -> dict:
    return {
        "subtotal": result.subtotal,
        "max_redeemable_points": result.max_redeemable,
        "redeemed_points": result.redeemed_points,
        "discount": result.discount,
        "payable": result.payable,
        "earned_points": result.earned_points,
        "balance": {
            "available": before.available,
            "available_after": after.available,
            "pending_after": after.pending,
        },
        "tier": _tier(tier),
        "lines": [
            {
                "index": line.index,
                "redeemed_points": line.redeemed_points,
                "discount": line.discount,
                "earned_points": line.earned_points,
            }
            for line in result.lines
        ],
        "breakdown": [
            {"rule": row.rule, "points": row.points, "reason": row.reason}
            for row in result.breakdown
        ],
        "coupons": [
            {
                "code": c.code,
                "status": c.status,
                "reason": _coupon_reason(c),
                "discount": c.discount,
            }
            for c in result.coupons
        ],
    }


def _coupon_reason(coupon) -> str:
    """The coupon's reason in the request's language; a replay's was stored already rendered."""
    stored = getattr(coupon, "stored_reason", None)
    if stored is not None:
        return stored
    return _(coupon.reason_template) % dict(coupon.reason_params)


def _customer_body(customer: Customer, account: Account, *, now: datetime) -> dict:
    return {
        # This programme's own id and data of the member (its profile), never another's.
        "id": account.profile.public_id,
        "first_name": account.profile.first_name,
        "phone_masked": customer.phone_masked,
        "tier": _tier(account.tier),
        "balance": account_balance(account, now=now).__dict__,
        "expiring": [
            {"points": lot.remaining, "expires_at": lot.expires_at}
            for lot in expiring_lots(account, now=now)
        ],
    }


class CustomerLookupApi(PosApi):
    @extend_schema(**docs.customer_lookup)
    def get(self, request):
        query = self.valid(s.CustomerLookupQuerySerializer, request.query_params.dict())
        return self.lookup(query, field="query")

    @extend_schema(**docs.customer_lookup_post)
    def post(self, request):
        data = self.valid(s.CustomerLookupInputSerializer, request.data)
        return self.lookup(data["customer"], field="customer")

    def lookup(self, ref: dict, *, field: str):
        now = timezone.now()
        customer = self.identify(ref, now=now, field=field)
        if customer.is_blocked:
            raise errors.CustomerBlocked()
        account = Account.objects.select_related("tier", "profile").get(
            program=self.program, customer=customer
        )
        body = _customer_body(customer, account, now=now)
        return render(status.HTTP_200_OK, self.output(s.CustomerOutputSerializer, body))


class CustomerEnrolApi(PosApi):
    @extend_schema(**docs.customer_enrol)
    def post(self, request):
        data = self.valid(s.CustomerEnrolInputSerializer, request.data)
        # Cards are per programme (the member profile): another programme's cards are never
        # looked at, so nothing about them can be learnt here (docs/security.md).
        card = data.get("card")

        def act(key):
            now = timezone.now()
            customer, account, created = member_enrol(
                program=self.program,
                outlet=self.outlet,
                phone=data["phone"],
                email=data.get("email") or "",
                first_name=data.get("first_name") or "",
                last_name=data.get("last_name") or "",
                birth_date=data.get("birth_date"),
                card=card,
                referral_code=data.get("referral_code"),
                consents=data.get("consents"),
                now=now,
            )
            account = Account.objects.select_related("tier", "profile").get(pk=account.pk)
            body = _customer_body(customer, account, now=now)
            code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
            return code, self.output(s.CustomerOutputSerializer, body)

        return idempotent_response(request, outlet=self.outlet, required=False, act=act)


class CheckCalculateApi(PosApi):
    @extend_schema(**docs.check_calculate)
    def post(self, request):
        data = self.valid(s.CheckCalculateInputSerializer, request.data)
        now = timezone.now()
        customer = self.identify(data.get("customer"), now=now)
        lines = _lines(data["lines"])
        try:
            quote = check_calculate(
                program=self.program,
                outlet=self.outlet,
                customer=customer,
                lines=lines,
                redeem=data.get("redeem_points"),
                now=now,
                occurred_at=data.get("occurred_at"),
                coupons=data.get("coupons") or (),
            )
        except errors.InsufficientPoints as exc:
            raise self.over_limit(
                exc,
                customer=customer,
                lines=lines,
                now=now,
                occurred_at=data.get("occurred_at"),
                coupons=data.get("coupons") or (),
            ) from None
        # An anonymous check has no tier (as its commit says), not the programme's first one.
        tier = quote.tier if customer is not None else None
        body = _quote_body(
            quote.result, tier=tier, before=quote.balance_before, after=quote.balance_after
        )
        return render(status.HTTP_200_OK, self.output(s.CheckCalculateOutputSerializer, body))


def _replayed_check_body(check: Check, *, tier, after: Balance) -> dict:
    """A check committed earlier under the same ledger key, described from what was stored:
    the quote's body, with the stored check and its lines in place of the engine's result."""
    stored = SimpleNamespace(
        subtotal=check.subtotal,
        max_redeemable=check.redeemed_points,
        redeemed_points=check.redeemed_points,
        discount=check.discount,
        payable=check.payable,
        earned_points=check.earned_points,
        lines=list(check.lines.order_by("index")),
        breakdown=[
            SimpleNamespace(rule=row["rule"], points=Decimal(row["points"]), reason=row["reason"])
            for row in check.breakdown
        ],
        coupons=[
            SimpleNamespace(
                code=c["code"],
                status=c["status"],
                stored_reason=c["reason"],
                discount=Decimal(c["discount"]),
            )
            for c in check.coupons
        ],
    )
    return _quote_body(stored, tier=tier, before=after, after=after)


def _earned_now(program, check_or_at, earned: Decimal, *, now: datetime) -> Decimal:
    """What of ``earned`` points is available at once (no hold period, or it passed)."""
    hold = program.hold_days
    return earned if hold == 0 or check_or_at + timedelta(days=hold) <= now else ZERO


class CheckCommitApi(PosApi):
    reserve = False

    @extend_schema(**docs.check_commit)
    def post(self, request):
        return self.commit(request)

    def commit(self, request):
        data = self.valid(s.CheckCommitInputSerializer, request.data)
        write = check_reserve if self.reserve else check_commit

        def act(key):
            now = timezone.now()
            customer = self.identify(data.get("customer"), now=now)
            lines = _lines(data["lines"])
            try:
                done = write(
                    program=self.program,
                    outlet=self.outlet,
                    customer=customer,
                    lines=lines,
                    redeem=data.get("redeem_points"),
                    receipt_number=data["receipt_number"],
                    source=self.source(),
                    idempotency_key=key,
                    now=now,
                    occurred_at=data.get("occurred_at"),
                    coupons=data.get("coupons") or (),
                )
            except errors.InsufficientPoints as exc:
                # The maximum rides on the error, computed under the account lock (the
                # transaction is rolling back: nothing more may be read in it).
                raise self.over_limit(
                    exc,
                    customer=customer,
                    lines=lines,
                    now=now,
                    occurred_at=data.get("occurred_at"),
                    coupons=data.get("coupons") or (),
                ) from None
            after = done.balance_after
            if done.result is None:
                body = _replayed_check_body(done.check, tier=done.tier, after=after)
            else:
                result = done.result
                at = data.get("occurred_at") or now
                # A reservation earns nothing yet; its held points left ``available`` already.
                earned_now = (
                    ZERO
                    if self.reserve
                    else _earned_now(self.program, at, result.earned_points, now=now)
                )
                before = Balance(
                    available=after.available + result.redeemed_points - earned_now,
                    pending=after.pending,
                )
                if done.check.account_id is None:
                    before = after
                body = _quote_body(result, tier=done.tier, before=before, after=after)
            body.update(id=done.check.public_id, receipt_number=done.check.receipt_number)
            if self.reserve:
                body.update(
                    status=CheckStatus.RESERVED.value, reserved_until=done.check.reserved_until
                )
                return status.HTTP_201_CREATED, self.output(s.CheckReserveOutputSerializer, body)
            body.update(status=CheckStatus.COMPLETED.value)
            return status.HTTP_201_CREATED, self.output(s.CheckCommitOutputSerializer, body)

        return idempotent_response(request, outlet=self.outlet, required=True, act=act)


class CheckReserveApi(CheckCommitApi):
    reserve = True

    @extend_schema(**docs.check_reserve)
    def post(self, request):
        return self.commit(request)


class CheckConfirmApi(PosApi):
    @extend_schema(**docs.check_confirm)
    def post(self, request, check_id):
        self.valid(s.CheckConfirmInputSerializer, request.data or {})

        def act(key):
            now = timezone.now()
            done = check_confirm(
                check=self.find_check(check_id),
                source=self.source(),
                idempotency_key=key,
                now=now,
            )
            check, after = done.check, done.balance_after
            before = after
            if not done.replayed and check.account_id is not None:
                # The held points left ``available`` at reservation; now it gains what is
                # earned at once.
                earned_now = _earned_now(
                    self.program, check.occurred_at, check.earned_points, now=now
                )
                before = Balance(available=after.available - earned_now, pending=after.pending)
            tier = done.tier
            if tier is None and check.account_id is not None:
                tier = Account.objects.select_related("tier").get(pk=check.account_id).tier
            body = _replayed_check_body(check, tier=tier, after=after)
            body["balance"]["available"] = before.available
            body.update(
                id=check.public_id,
                status=CheckStatus.COMPLETED.value,
                receipt_number=check.receipt_number,
            )
            return status.HTTP_200_OK, self.output(s.CheckCommitOutputSerializer, body)

        return idempotent_response(request, outlet=self.outlet, required=True, act=act)


class CheckRefundApi(PosApi):
    @extend_schema(**docs.check_refund)
    def post(self, request, check_id):
        data = self.valid(s.CheckRefundInputSerializer, request.data)

        def act(key):
            now = timezone.now()
            check = self.find_check(check_id)
            refund = check_refund(
                check=check,
                lines=[(line["index"], line["quantity"]) for line in data.get("lines") or []],
                full=data.get("full", False),
                source=self.source(),
                idempotency_key=key,
                now=now,
            )
            account = Account.objects.get(pk=check.account_id)
            body = {
                "id": refund.public_id,
                "clawed_back_points": refund.clawed_back_points,
                "restored_points": refund.restored_points,
                "balance": account_balance(account, now=now).__dict__,
            }
            return status.HTTP_201_CREATED, self.output(s.CheckRefundOutputSerializer, body)

        return idempotent_response(request, outlet=self.outlet, required=True, act=act)


class CheckCancelApi(PosApi):
    @extend_schema(**docs.check_cancel)
    def post(self, request, check_id):
        self.valid(s.CheckCancelInputSerializer, request.data or {})

        def act(key):
            now = timezone.now()
            check = self.find_check(check_id)
            # Without a header every cancel is a new attempt, so a second one is refused (409).
            op = check_cancel(
                check=check,
                source=self.source(),
                idempotency_key=key or f"cancel:{uuid.uuid4()}",
                now=now,
            )
            meta = op.meta if op is not None else {}
            balance = None
            if check.account_id is not None:
                balance = account_balance(Account.objects.get(pk=check.account_id), now=now)
            body = {
                "id": check.public_id,
                "status": CheckStatus.CANCELLED.value,
                "clawed_back_points": Decimal(meta.get("clawed_back", "0")),
                "restored_points": Decimal(meta.get("restored", "0")),
                "balance": balance.__dict__ if balance else None,
            }
            return status.HTTP_200_OK, self.output(s.CheckCancelOutputSerializer, body)

        return idempotent_response(request, outlet=self.outlet, required=False, act=act)


class EventAwardApi(PosApi):
    @extend_schema(**docs.event_award)
    def post(self, request):
        data = self.valid(s.EventInputSerializer, request.data)

        def act(key):
            now = timezone.now()
            award = event_award(
                program=self.program,
                outlet=self.outlet,
                customer=self.identify(data["customer"], now=now),
                event=data["event"],
                external_id=data["external_id"],
                now=now,
                occurred_at=data.get("occurred_at"),
            )
            body = {"awarded_points": award.awarded_points, "balance": award.balance.__dict__}
            if award.operation is None:
                body["reason"] = award.reason
                return status.HTTP_200_OK, self.output(s.EventOutputSerializer, body)
            return status.HTTP_201_CREATED, self.output(s.EventOutputSerializer, body)

        return idempotent_response(request, outlet=self.outlet, required=False, act=act)


def _reward_body(reward) -> dict:
    body = {
        "code": reward.code,
        "name": reward.name,
        "kind": reward.kind,
        "points_cost": reward.points_cost,
        "tiers": reward_tier_codes(reward),
    }
    if reward.valid_until is not None:
        body["valid_until"] = reward.valid_until
    left = reward_stock_left(reward)
    if left is not None:
        body["available"] = left
    return body


class RewardListApi(PosApi):
    @extend_schema(**docs.rewards_list)
    def get(self, request):
        rewards = rewards_active(self.program, now=timezone.now())
        body = [_reward_body(reward) for reward in rewards]
        return render(status.HTTP_200_OK, self.output(s.RewardOutputSerializer, body, many=True))


class RewardClaimApi(PosApi):
    @extend_schema(**docs.reward_claim)
    def post(self, request, code):
        data = self.valid(s.RewardClaimInputSerializer, request.data)

        def act(key):
            now = timezone.now()
            claim = reward_claim(
                program=self.program,
                customer=self.identify(data["customer"], now=now),
                reward_code=code,
                source=self.source(),
                idempotency_key=f"reward:{key}",
                now=now,
            )
            body = {
                "coupon": {
                    "code": claim.coupon.code,
                    "reward": claim.coupon.reward.code,
                    "expires_at": claim.coupon.expires_at,
                },
                "balance": claim.balance.__dict__,
            }
            return status.HTTP_201_CREATED, self.output(s.RewardClaimOutputSerializer, body)

        return idempotent_response(request, outlet=self.outlet, required=True, act=act)


def _encode_cursor(op: Operation) -> str:
    raw = f"{op.created_at.isoformat()}|{op.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, pk = raw.split("|", 1)
        created_at = datetime.fromisoformat(at)
        if created_at.tzinfo is None:
            raise ValueError
        return created_at, int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise exceptions.ValidationError({"cursor": [_("Invalid cursor.")]}) from None


class CustomerOperationsListApi(PosApi):
    @extend_schema(**docs.customer_operations)
    def get(self, request, customer_id):
        query = self.valid(s.OperationsQuerySerializer, request.query_params.dict())
        try:
            public_id = uuid.UUID(str(customer_id))
        except ValueError:
            raise errors.CustomerNotFound() from None
        account = Account.objects.filter(program=self.program, profile__public_id=public_id).first()
        if account is None:
            raise errors.CustomerNotFound()
        ops = (
            Operation.objects.filter(account=account)
            .select_related("check_obj")
            .order_by("-created_at", "-id")
        )
        if query.get("cursor"):
            created_at, pk = _decode_cursor(query["cursor"])
            ops = ops.filter(created_at__lt=created_at) | ops.filter(
                created_at=created_at, id__lt=pk
            )
        page = list(ops[: OPERATIONS_PAGE_SIZE + 1])
        more = len(page) > OPERATIONS_PAGE_SIZE
        page = page[:OPERATIONS_PAGE_SIZE]
        next_url = None
        if more:
            next_url = request.build_absolute_uri(
                f"{request.path}?cursor={_encode_cursor(page[-1])}"
            )
        body = {
            "results": [
                {
                    "id": op.public_id,
                    "kind": op.kind,
                    "points": op.points,
                    "created_at": op.created_at,
                    "check_id": op.check_obj.public_id if op.check_obj_id else None,
                    "description": op.description,
                }
                for op in page
            ],
            "next": next_url,
        }
        return render(status.HTTP_200_OK, self.output(s.OperationPageOutputSerializer, body))


class NotFoundApi(APIView):
    """Any other path under /api/v1/: the error envelope instead of an HTML page."""

    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(exclude=True)
    def dispatch(self, request, *args, **kwargs):
        return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        raise exceptions.NotFound(_("No such endpoint."))
