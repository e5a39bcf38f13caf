"""``Authorization: Api-Key <key>``: the request acts as the key's outlet; throttled per key."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

from loyalty.api.models import OutletAPIKey

KEYWORD = "Api-Key"
# Recording every use would write a row per request; a minute's precision is plenty.
LAST_USED_PRECISION = timedelta(minutes=1)


class OutletAPIKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() != KEYWORD.lower():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Send 'Authorization: Api-Key <key>'."))
        raw = header[1]
        # The library's get_from_key() plus the outlet and programme, in one query.
        key = (
            OutletAPIKey.objects.get_usable_keys()
            .select_related("outlet__program")
            .filter(prefix=raw.partition(".")[0])
            .first()
        )
        if key is None or not key.is_valid(raw):
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key."))
        if key.has_expired:
            raise exceptions.AuthenticationFailed(_("The API key has expired."))
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_PRECISION:
            OutletAPIKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return (None, key)

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) when the key is missing or wrong.
        return KEYWORD


class HasOutletAPIKey(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        if not isinstance(request.auth, OutletAPIKey):
            raise exceptions.NotAuthenticated(_("Send 'Authorization: Api-Key <key>'."))
        outlet = request.auth.outlet
        # A valid key of a closed outlet or a stopped programme: known, but not allowed (403).
        if not outlet.is_active:
            raise exceptions.PermissionDenied(_("The outlet of this API key is not active."))
        if not outlet.program.is_active:
            raise exceptions.PermissionDenied(_("The programme of this API key is not active."))
        return True


class APIKeyRateThrottle(throttling.SimpleRateThrottle):
    scope = "api_key"

    def get_rate(self) -> str:
        return settings.API_THROTTLE_RATE

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.auth, OutletAPIKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.prefix}


class OutletAPIKeyScheme(OpenApiAuthenticationExtension):
    target_class = OutletAPIKeyAuthentication
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`: one key per outlet terminal, created in the admin "
            "or with `manage.py create_api_key`.",
        }
