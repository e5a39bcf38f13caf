"""Content-Security-Policy with one exception: the admin's theme needs ``'unsafe-eval'``.

django-unfold drives its sidebar, tabs and filters with Alpine.js, whose standard build
evaluates its ``x-data`` expressions with ``new Function``. The admin keeps every other
directive of ``CONTENT_SECURITY_POLICY`` (scripts only from our origin or with the nonce, no
frames, no plugins); the cabinet and the rest of the site get no ``'unsafe-eval'``.
"""

from __future__ import annotations

import re

from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest, HttpResponseBase

# The admin, with or without the language prefix of i18n_patterns ("/en/admin/").
ADMIN_PATH = re.compile(r"^/(?:[a-z]{2}(?:-[a-z]+)?/)?admin/")
ADMIN_SCRIPT_EXTRA = {"script-src": ["'unsafe-eval'"]}


class SiteCSPMiddleware(CSPMiddleware):
    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if ADMIN_PATH.match(request.path) and parts.replace is None:
            parts.update = {**(parts.update or {}), **ADMIN_SCRIPT_EXTRA}
        return parts
