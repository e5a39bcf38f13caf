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


def attempts_clear(*, door: str, identifier: str) -> None:
    """Forget the identifier's failures after a success (the IP count stays)."""
    _ip_limit, id_limit = LIMITS[door]
    cache.delete(_key(id_limit, identifier.lower()))
