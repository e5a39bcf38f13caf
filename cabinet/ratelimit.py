"""Cache-based attempt limits for the cabinet's sign-in, sign-up and password-reset doors.

Fixed windows counted in the default cache (Redis in production, shared by every web node).
Keys hold a digest of the identifier, never the phone or email itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache


@dataclass(frozen=True)
class Limit:
    scope: str
    attempts: int
    window_seconds: int


# (per IP, per identifier) for each door; identifiers are phones, emails or login names.
LIMITS = {
    "login": (Limit("login-ip", 30, 900), Limit("login-id", 8, 900)),
    "signup": (Limit("signup-ip", 10, 3600), Limit("signup-id", 3, 900)),
    "confirm": (Limit("confirm-ip", 20, 900), Limit("confirm-id", 5, 900)),
    "reset": (Limit("reset-ip", 10, 3600), Limit("reset-id", 3, 3600)),
}


def _key(limit: Limit, value: str) -> str:
    digest = hashlib.sha256(f"{settings.SECRET_KEY}:{value}".encode()).hexdigest()[:32]
    return f"cabinet:rl:{limit.scope}:{digest}"


def client_ip(request) -> str:
    # REMOTE_ADDR is what the proxy in front of gunicorn sets (trusting X-Forwarded-For here
    # would let a client choose its own bucket).
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def attempt_blocked(*, door: str, ip: str, identifier: str = "") -> bool:
    """Whether another attempt at ``door`` would exceed a limit (counts nothing)."""
    ip_limit, id_limit = LIMITS[door]
    pairs = [(ip_limit, ip)] + ([(id_limit, identifier.lower())] if identifier else [])
    return any((cache.get(_key(limit, value)) or 0) >= limit.attempts for limit, value in pairs)


def attempt_record(*, door: str, ip: str, identifier: str = "") -> None:
    """Count one attempt (a failed sign-in, a code sent, a wrong code)."""
    ip_limit, id_limit = LIMITS[door]
    pairs = [(ip_limit, ip)] + ([(id_limit, identifier.lower())] if identifier else [])
    for limit, value in pairs:
        key = _key(limit, value)
        if cache.add(key, 1, timeout=limit.window_seconds):
            continue
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=limit.window_seconds)


def _count(limit: Limit, value: str) -> int:
    key = _key(limit, value)
    if cache.add(key, 1, timeout=limit.window_seconds):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=limit.window_seconds)
        return 1


def attempt_take(*, door: str, ip: str, identifier: str) -> bool:
    """Count one attempt first, then say whether it is within the limits.

    Counting before acting (an atomic increment in Redis) keeps parallel requests from all
    passing a check that none of them has recorded yet. ``identifier`` must already be in its
    canonical form (a phone in E.164), or each spelling would get a bucket of its own.
    """
    ip_limit, id_limit = LIMITS[door]
    within = _count(ip_limit, ip) <= ip_limit.attempts
    return _count(id_limit, identifier.lower()) <= id_limit.attempts and within


def program_sms_take(*, program_id: int) -> bool:
    """Count one sign-up SMS of a programme; False past ``CABINET_SIGNUP_SMS_PER_PROGRAM`` an
    hour (a bound on what an attack from many addresses can cost the programme)."""
    limit = Limit("signup-program", settings.CABINET_SIGNUP_SMS_PER_PROGRAM, 3600)
    return _count(limit, str(program_id)) <= limit.attempts


def attempts_clear(*, door: str, identifier: str) -> None:
    """Forget the identifier's failures after a success (the IP count stays)."""
    _ip_limit, id_limit = LIMITS[door]
    cache.delete(_key(id_limit, identifier.lower()))
