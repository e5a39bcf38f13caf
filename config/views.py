"""The pages around the apps: the landing page, the API integration guide, the readable schema."""

from __future__ import annotations

import json

from django.conf import settings
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.views import SpectacularAPIView

from customers.models import Customer

# The first customer `setup_demo` enrols; the demo's cabinet is entered by signing up with it.
DEMO_PHONE = "+79160000000"


def _url(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def landing(request):
    """Three doors: the admin (marketers), the cabinet (customers), the API (integrators)."""
    demo = None
    if settings.DEBUG:
        customer = Customer.objects.filter(phone=DEMO_PHONE).only("phone").first()
        if customer is not None:
            demo = {
                "phone": customer.phone,
                "signup_url": _url("cabinet:signup"),
                "messages_url": _url("admin:notifications_message_changelist"),
            }
    return render(
        request,
        "site/landing.html",
        {
            "admin_url": _url("admin:index"),
            "cabinet_url": _url("cabinet:dashboard"),
            "api_docs_url": _url("api-docs"),
            "api_guide_url": _url("api-guide"),
            "api_redoc_url": _url("api-redoc"),
            "demo": demo,
        },
    )


# --- the integration walkthrough -----------------------------------------------------------------
# Request bodies as data: the page shows them, and tests send them to the API as they are.

ENROL_BODY = {
    "phone": "+7 916 123-45-67",
    "first_name": "Анна",
    "email": "anna@example.com",
    "consents": {"sms": True, "email": False},
}
CALCULATE_BODY = {
    "customer": {"phone": "+79161234567"},
    "lines": [
        {"sku": "LATTE", "category": "coffee", "quantity": "2", "price": "250.00"},
        {"sku": "CROISSANT", "category": "bakery", "quantity": "1", "price": "180.00"},
    ],
    "redeem_points": "max",
}
COMMIT_BODY = {**CALCULATE_BODY, "receipt_number": "R-000123"}
REFUND_BODY = {"lines": [{"index": 1, "quantity": "1"}]}


def guide_steps() -> list[dict]:
    """The walkthrough's requests: method, path (under /api/v1/), headers, JSON body."""
    return [
        {
            "key": "enrol",
            "method": "POST",
            "path": "customers",
            "idempotency_key": "enrol-79161234567",
            "body": ENROL_BODY,
        },
        {
            "key": "calculate",
            "method": "POST",
            "path": "checks/calculate",
            "idempotency_key": None,
            "body": CALCULATE_BODY,
        },
        {
            "key": "commit",
            "method": "POST",
            "path": "checks",
            "idempotency_key": "msk-1-R-000123",
            "body": COMMIT_BODY,
        },
        {
            "key": "refund",
            "method": "POST",
            "path": "checks/CHECK_ID/refunds",
            "idempotency_key": "msk-1-R-000123-refund-1",
            "body": REFUND_BODY,
        },
    ]


def _curl(base: str, step: dict) -> str:
    lines = [f"curl -X {step['method']} {base}{step['path']} \\"]
    lines.append('  -H "Authorization: Api-Key $KOPILKA_KEY" \\')
    lines.append('  -H "Content-Type: application/json" \\')
    if step["idempotency_key"]:
        lines.append(f'  -H "Idempotency-Key: {step["idempotency_key"]}" \\')
    body = json.dumps(step["body"], ensure_ascii=False, indent=2)
    lines.append("  -d '" + body.replace("\n", "\n  ") + "'")
    return "\n".join(lines)


def api_guide(request):
    base = f"{settings.SITE_URL}/api/v1/"
    steps = {step["key"]: {**step, "curl": _curl(base, step)} for step in guide_steps()}
    return render(
        request,
        "site/api_guide.html",
        {
            "steps": steps,
            "api_base": base,
            "api_docs_url": _url("api-docs"),
            "api_redoc_url": _url("api-redoc"),
            "api_schema_url": _url("api-schema"),
            "admin_keys_url": _url("admin:pos_api_outletapikey_changelist"),
        },
    )


# --- the schema, readable in a browser ----------------------------------------------------------


class OpenApiYamlTextRenderer(OpenApiYamlRenderer):
    """The YAML schema as text/plain, which a browser shows instead of downloading."""

    media_type = "text/plain"


class SchemaView(SpectacularAPIView):
    """``/api/schema/``: YAML or JSON for tools as before; a browser gets something to read.

    A browser (it asks for text/html) gets the YAML as plain text, and ``?format=json`` the
    JSON as application/json, which it displays; tools that ask for an OpenAPI media type
    get exactly that.
    """

    renderer_classes = [
        OpenApiYamlRenderer,
        OpenApiYamlRenderer2,
        OpenApiJsonRenderer2,  # application/json first: what ?format=json answers
        OpenApiJsonRenderer,
        OpenApiYamlTextRenderer,
    ]

    def perform_content_negotiation(self, request, force=False):
        if "text/html" in request.META.get("HTTP_ACCEPT", ""):
            wanted = request.query_params.get("format")
            readable = {None: OpenApiYamlTextRenderer, "json": OpenApiJsonRenderer2}
            if wanted in readable:
                renderer = readable[wanted]()
                return renderer, renderer.media_type
        return super().perform_content_negotiation(request, force)
