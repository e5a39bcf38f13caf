"""The one-click unsubscribe door (RFC 8058): GET asks, POST unsubscribes."""

from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from customers.models import Customer
from notifications.services import customer_unsubscribe
from notifications.unsubscribe import unsubscribe_token_read


# Mail clients POST "List-Unsubscribe=One-Click" without a session or CSRF token; the signed
# token is the credential, and a forged request could only unsubscribe.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    parsed = unsubscribe_token_read(token)
    customer = None
    if parsed is not None:
        customer = Customer.objects.filter(public_id=parsed[0]).first()
    if customer is None:
        return render(request, "notifications/unsubscribe.html", {"invalid": True}, status=400)
    channel = parsed[1]
    if request.method == "GET":
        # Link scanners follow GET links; only a POST (a button, or the mail client) acts.
        return render(request, "notifications/unsubscribe.html", {"channel": channel})
    customer_unsubscribe(
        customer=customer, channel=channel, now=timezone.now(), program_id=parsed[2]
    )
    return render(request, "notifications/unsubscribe.html", {"done": True, "channel": channel})
