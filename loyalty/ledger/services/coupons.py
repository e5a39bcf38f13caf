"""Coupons at the till: the codes a check gives, resolved for the engine, used and given back.

A check may give reward coupons (``Coupon``: single use, bound to the account that claimed
them) and promo codes (a campaign's, reusable, bound to no one). The ledger knows only reward
coupons; campaigns answer for promo codes through ``promo_code_providers`` (filled in
``campaigns.apps``), so this layer imports nothing above it.

Everything here runs in the caller's transaction under the account lock: a reward coupon
belongs to the locked account, so its use cannot race; a promo code's total limit is counted
with a conditional ``F()`` update by its provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from django.utils.translation import gettext_noop

from core import errors
from loyalty.ledger.models import Account, Check, Coupon
from loyalty.rules import engine
from loyalty.rules.models import Program
from loyalty.rules.rewards import code_normalise, coupon_spec

UNKNOWN = "unknown"


class PromoCodeProvider(Protocol):
    def resolve(
        self, *, program: Program, account: Account | None, codes: Sequence[str], now: datetime
    ) -> dict[str, str | None]:
        """For each code it knows: None if usable now, else why not (a gettext msgid)."""

    def use(
        self,
        *,
        program: Program,
        account: Account | None,
        check: Check,
        codes: Sequence[str],
        now: datetime,
    ) -> None:
        """Count a committed check's use of ``codes``; raises CouponInvalid if one ran out."""

    def release(self, *, check: Check) -> None:
        """A cancelled check's uses no longer count."""


promo_code_providers: list[PromoCodeProvider] = []


def coupons_resolve(
    *, program: Program, account: Account | None, codes: Sequence[str], at: datetime
) -> tuple[engine.CouponSpec, ...]:
    """The codes a check gives, as the engine's ``CouponSpec`` (in the order given).

    No query without codes; else one for reward coupons (with their rewards' product sets)
    and what the promo-code providers read. Validity is judged at ``at``, the check's time.
    """
    wanted = [code_normalise(c) for c in codes]
    if not wanted:
        return ()
    found = {
        c.code: c
        for c in Coupon.objects.filter(program=program, code__in=set(wanted))
        .select_related("reward")
        .prefetch_related("reward__include")
    }
    promo: dict[str, str | None] = {}
    rest = [c for c in wanted if c not in found]
    if rest:
        for provider in promo_code_providers:
            promo.update(provider.resolve(program=program, account=account, codes=rest, now=at))
    specs = []
    for code in wanted:
        coupon = found.get(code)
        if coupon is not None:
            specs.append(
                coupon_spec(coupon.reward, code=code, rejected=_problem(coupon, account, at))
            )
        elif code in promo:
            specs.append(engine.CouponSpec(code=code, kind=engine.PROMO, rejected=promo[code]))
        else:
            specs.append(
                engine.CouponSpec(code=code, kind=UNKNOWN, rejected=gettext_noop("Unknown code."))
            )
    return tuple(specs)


def _problem(coupon: Coupon, account: Account | None, at: datetime) -> str | None:
    if account is None or coupon.account_id != account.pk:
        return gettext_noop("This coupon belongs to another customer.")
    if coupon.used_at is not None:
        return gettext_noop("This coupon has already been used.")
    if at >= coupon.expires_at:
        return gettext_noop("This coupon has expired.")
    return None


def coupons_rejected_error(result: engine.CheckResult) -> errors.CouponInvalid | None:
    """A commit takes no rejected coupon: the error naming the first one, or None."""
    for position, coupon in enumerate(result.coupons):
        if coupon.status == engine.REJECTED:
            return errors.CouponInvalid(f"coupons[{position}] ({coupon.code}): {coupon.reason}")
    return None


def coupons_use(
    *,
    program: Program,
    account: Account | None,
    check: Check,
    result: engine.CheckResult,
    now: datetime,
) -> None:
    """Mark the applied reward coupons used by ``check`` and count its promo codes."""
    applied = [c for c in result.coupons if c.status == engine.APPLIED]
    rewards = [c.code for c in applied if c.kind != engine.PROMO]
    if rewards:
        done = Coupon.objects.filter(
            program=program, account=account, code__in=rewards, used_at__isnull=True
        ).update(used_at=now, used_check=check)
        if done != len(rewards):  # cannot happen under the account lock; never half-use
            raise errors.CouponInvalid("A coupon was used meanwhile.")
    promos = [c.code for c in applied if c.kind == engine.PROMO]
    if promos:
        for provider in promo_code_providers:
            provider.use(program=program, account=account, check=check, codes=promos, now=now)


def coupons_release(*, check: Check, now: datetime) -> int:
    """A cancelled check gives its reward coupons back while they are still valid, and its
    promo-code uses stop counting. Returns the number of coupons given back."""
    given_back = Coupon.objects.filter(used_check=check, expires_at__gt=now).update(
        used_at=None, used_check=None
    )
    if check.coupons:
        for provider in promo_code_providers:
            provider.release(check=check)
    return given_back


def check_coupons_json(result: engine.CheckResult) -> list[dict]:
    """What a committed check keeps of its coupons (replays and reports read it)."""
    return [
        {
            "code": c.code,
            "kind": c.kind,
            "reward": c.reward,
            "status": c.status,
            "reason": c.reason,
            "discount": str(c.discount),
        }
        for c in result.coupons
        if c.status == engine.APPLIED
    ]
