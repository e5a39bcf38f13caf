"""Events that send: points earned, expiring points reminder, tier up/down, welcome, campaigns;
the unsubscribe door, the admin preview, the SMS HTTP gateway and the shipped templates."""

import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.urls import reverse

from campaigns.enrolment import member_enrol as customer_enrol
from core.models import JobRun
from loyalty.ledger import signals
from loyalty.ledger.models import Lot, MemberProfile
from loyalty.ledger.services import tiers_reevaluate
from notifications import defaults
from notifications.admin import preview
from notifications.backends import PermanentSendError, TransientSendError
from notifications.backends.sms import HttpGatewaySmsProvider
from notifications.events import events_all
from notifications.jobs import expiry_reminders_job
from notifications.models import Message, MessageStatus
from notifications.reminders import expiry_reminders_send
from notifications.services import message_enqueue, messages_dispatch
from notifications.unsubscribe import unsubscribe_token, unsubscribe_url
from tests.factories import (
    AccountFactory,
    CheckFactory,
    ProgramFactory,
    TemplateFactory,
    TierFactory,
)
from tests.ledger.helpers import D, grant

pytestmark = pytest.mark.django_db


def cabinet_template(event, body, subject="s"):
    return TemplateFactory(
        event=event, channel="cabinet", language="ru", subject=subject, body=body
    )


# --- points earned ------------------------------------------------------------------------------


def test_a_committed_check_that_earned_points_writes_one_message(program, customer, now):
    cabinet_template("points_earned", "+{{ points }} за чек {{ check.receipt_number }}")
    account = AccountFactory(program=program, customer=customer)
    check = CheckFactory(account=account, receipt_number="R-7", earned_points=D("45"))

    for _ in range(2):  # a replayed signal (a retried commit) writes nothing new
        signals.check_committed.send(
            sender=None, account=account, check=check, result=None, now=now
        )

    message = Message.objects.get()
    assert (message.event, message.body) == ("points_earned", "+45 за чек R-7")
    assert message.idempotency_key == f"points_earned:check:{check.pk}:cabinet"


def test_a_check_that_earned_nothing_sends_nothing(program, customer, now):
    cabinet_template("points_earned", "+{{ points }}")
    account = AccountFactory(program=program, customer=customer)
    check = CheckFactory(account=account, earned_points=D("0"))
    signals.check_committed.send(sender=None, account=account, check=check, result=None, now=now)
    assert not Message.objects.exists()


def test_a_broken_template_never_fails_the_purchase(program, customer, now):
    cabinet_template("points_earned", "{% if %}")
    account = AccountFactory(program=program, customer=customer)
    check = CheckFactory(account=account, earned_points=D("5"))
    signals.check_committed.send(sender=None, account=account, check=check, result=None, now=now)
    assert Message.objects.get().status == MessageStatus.FAILED


# --- tier changes ---------------------------------------------------------------------------------


def test_the_nightly_downgrade_and_an_upgrade_each_send_their_message(customer, now):
    program = ProgramFactory(tier_metric="spend", tier_period_days=30, tier_grace_days=0)
    TierFactory(program=program, code="base", name="Base", rank=0, threshold=D(0))
    TierFactory(program=program, code="gold", name="Gold", rank=1, threshold=D(5000))
    cabinet_template("tier_downgraded", "{{ old_tier.name }} → {{ tier.name }}")
    cabinet_template("tier_upgraded", "↑ {{ tier.name }}")
    down = AccountFactory(
        program=program, customer=customer, tier=program.tiers.get(code="gold"), tier_since=now
    )
    up = AccountFactory(program=program, tier=program.tiers.get(code="base"), tier_since=now)
    CheckFactory(account=up, payable=D(6000), occurred_at=now - timedelta(days=1))

    tiers_reevaluate(now=now + timedelta(days=1))
    tiers_reevaluate(now=now + timedelta(days=1))  # idempotent: nothing new

    bodies = dict(Message.objects.values_list("customer_id", "body"))
    assert bodies == {down.customer_id: "Gold → Base", up.customer_id: "↑ Gold"}


# --- welcome --------------------------------------------------------------------------------------


def test_enrolment_welcomes_a_new_member_once(program, now):
    cabinet_template("welcome", "Добро пожаловать, {{ customer.first_name }}!")
    customer, _, _ = customer_enrol(
        program=program, outlet=None, phone="+79161234567", first_name="Олег", now=now
    )
    customer_enrol(program=program, outlet=None, phone="+79161234567", now=now)
    message = Message.objects.get()
    assert (message.customer_id, message.body) == (customer.pk, "Добро пожаловать, Олег!")


# --- the campaign hook --------------------------------------------------------------------------


def test_campaigns_send_marketing_through_the_hook_with_consent_and_cap(
    customer, program, campaign_templates, now
):
    for n in range(3):
        message_enqueue(
            customer=customer,
            program=program,
            event="campaign",
            context={"title": f"Акция {n}", "text": "x2"},
            idempotency_key=f"campaign:{n}:{customer.pk}",
            now=now,
            channels=["email"],
        )
    statuses = list(Message.objects.order_by("pk").values_list("marketing", "status"))
    # the conftest's cap is 2 marketing messages per channel and week
    assert statuses == [(True, "pending"), (True, "pending"), (True, "skipped")]


# --- expiring points reminder -------------------------------------------------------------------


def test_one_reminder_per_customer_lists_every_amount_and_date(program, customer, now, settings):
    settings.NOTIFICATIONS_EXPIRY_REMINDER_DAYS = [7, 1]
    cabinet_template(
        "points_expiring",
        "{% for i in items %}{{ i.points }}@{{ i.date|date:'Y-m-d H:i' }};{% endfor %}"
        " total={{ total }} first={{ first_date|date:'d.m' }}",
    )
    account = AccountFactory(program=program, customer=customer)
    other = AccountFactory(program=program)  # points expiring on a day nobody is reminded of
    expiring = {  # local Moscow (UTC+3) days: today is 15.06 (15:00)
        "a": (30, datetime(2026, 6, 22, 9, 0, tzinfo=UTC)),  # in 7 days
        "b": (20, datetime(2026, 6, 22, 18, 30, tzinfo=UTC)),  # 21:30 local: still the 22nd
        "c": (10, datetime(2026, 6, 15, 22, 0, tzinfo=UTC)),  # 01:00 local on the 16th: 1 day
        "d": (5, datetime(2026, 6, 18, 9, 0, tzinfo=UTC)),  # in 3 days: not reminded
    }
    for key, (pts, expires_at) in expiring.items():
        op = grant(account, pts, now - timedelta(days=1), key=key)
        Lot.objects.filter(operation=op).update(expires_at=expires_at)
    op = grant(other, 50, now - timedelta(days=1), key="o")
    Lot.objects.filter(operation=op).update(expires_at=datetime(2026, 6, 18, 9, 0, tzinfo=UTC))
    # a redeemed lot is not reminded of: redeem all of "c"'s 10 points first (FIFO)
    from loyalty.ledger.services import points_redeem

    points_redeem(account=account, points=D(10), source="t", idempotency_key="r", now=now)

    result = expiry_reminders_send(now=now)
    again = expiry_reminders_send(now=now)

    message = Message.objects.get()
    assert (result.customers, result.messages) == (1, 1)
    assert again.messages == 1 and Message.objects.count() == 1  # same key: the first row
    assert message.customer_id == customer.pk
    assert message.body == "30@2026-06-22 12:00;20@2026-06-22 21:30; total=50 first=22.06"
    assert message.idempotency_key == f"points_expiring:{account.pk}:2026-06-15:cabinet"


def test_the_reminder_job_runs_once_a_day(program, customer, now):
    cabinet_template("points_expiring", "{{ total }}")
    account = AccountFactory(program=program, customer=customer)
    op = grant(account, 7, now, key="x")
    Lot.objects.filter(operation=op).update(expires_at=now + timedelta(days=1))
    first = expiry_reminders_job(now=now)
    second = expiry_reminders_job(now=now + timedelta(hours=2))
    assert first.details == {"customers": 1, "messages": 1}
    assert second.skipped
    assert JobRun.objects.get(job="notifications.expiry_reminders").rows_touched == 1


# --- unsubscribe ---------------------------------------------------------------------------------


def test_the_one_click_post_unsubscribes_and_drops_pending_marketing(
    client, customer, program, campaign_templates, earned_templates, now
):
    message_enqueue(
        customer=customer, event="campaign", context={"title": "t", "text": "x"},
        idempotency_key="c1", now=now, channels=["email"], program=program,
    )  # fmt: skip
    message_enqueue(
        customer=customer, event="points_earned", context={"points": 1},
        idempotency_key="e1", now=now, channels=["email"], program=program,
    )  # fmt: skip
    # Consent was given to a programme: the link withdraws it from the one that sent it.
    other = AccountFactory(customer=customer).profile
    url = unsubscribe_url(customer, "email", program)
    path = url.removeprefix("https://kopilka.test")

    assert client.get(path).status_code == 200  # a link scanner's GET changes nothing
    profile = MemberProfile.objects.get(account__customer=customer, program=program)
    assert profile.consent_email

    response = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    profile.refresh_from_db()
    assert not profile.consent_email and profile.consent_email_at is not None
    other.refresh_from_db()
    assert other.consent_email  # the other programme's consent is its own
    statuses = dict(Message.objects.values_list("event", "status"))
    assert statuses == {"campaign": "skipped", "points_earned": "pending"}
    assert client.post(path).status_code == 200  # a second click is harmless


def test_a_forged_or_altered_token_is_refused(client, customer):
    token = unsubscribe_token(customer, "email")
    forged = token[:-2] + ("aa" if not token.endswith("aa") else "bb")
    path = reverse("notifications:unsubscribe", args=[forged])
    assert client.post(path).status_code == 400
    assert MemberProfile.objects.get(account__customer=customer).consent_email


# --- the admin preview ---------------------------------------------------------------------------


def test_the_admin_previews_a_draft_with_the_events_sample(admin_client):
    url = reverse("admin:notifications_template_preview")
    ok = admin_client.post(
        url,
        {"event": "points_earned", "subject": "+{{ points }}", "body": "{{ customer.first_name }}",
         "language": "ru"},
    ).json()  # fmt: skip
    broken = admin_client.post(
        url, {"event": "points_earned", "subject": "", "body": "{% if %}", "language": "ru"}
    ).json()
    assert ok["error"] == "" and ok["body"] == "Анна" and ok["subject"].startswith("+")
    assert broken["error"]


def test_the_template_editor_documents_the_variables(admin_client):
    page = admin_client.get(reverse("admin:notifications_template_add")).content.decode()
    assert "customer.first_name" in page and "unsubscribe_url" in page


# --- the shipped templates -----------------------------------------------------------------------


def test_every_shipped_template_renders_with_its_events_sample():
    codes = {e.code for e in events_all()}
    for template in defaults.DEFAULTS:
        assert template.event in codes
        rendered = preview(
            event=template.event,
            subject=template.subject,
            body=template.body,
            language=template.language,
            time_zone="Europe/Moscow",
        )
        assert rendered["error"] == "", (template.event, template.channel, rendered["error"])
        assert rendered["body"].strip()
    shipped = {(t.event, t.channel, t.language) for t in defaults.DEFAULTS}
    channels = {
        "points_earned": ("email", "sms", "cabinet"),
        "points_expiring": ("email", "sms", "cabinet"),
        "tier_upgraded": ("email", "sms", "cabinet"),
        "tier_downgraded": ("email", "cabinet"),  # bad news does not go by SMS
        "welcome": ("email", "cabinet"),
        "signup_code": ("sms",),  # proves the customer holds the phone: SMS only
    }
    for event, names in channels.items():
        for channel in names:
            assert {(event, channel, "ru"), (event, channel, "en")} <= shipped, (event, channel)


# --- the SMS HTTP gateway ------------------------------------------------------------------------


class _Gateway(BaseHTTPRequestHandler):
    replies: list[tuple[int, dict]] = []
    received: list[dict] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Gateway.received.append(
            {
                "json": json.loads(body),
                "auth": self.headers["Authorization"],
                "key": self.headers["Idempotency-Key"],
            }
        )
        status, reply = _Gateway.replies.pop(0)
        payload = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway():
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    _Gateway.replies, _Gateway.received = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/send"
    server.shutdown()
    server.server_close()


def test_the_http_gateway_posts_json_with_token_and_idempotency_key(gateway, settings):
    settings.SMS_SENDER = "Kopilka"
    provider = HttpGatewaySmsProvider(url=gateway, token="secret")
    _Gateway.replies = [(200, {"id": "gw-1"}), (503, {}), (400, {"error": "bad number"})]

    assert provider.send(to="+79161234567", text="Привет", idempotency_key="k1") == "gw-1"
    with pytest.raises(TransientSendError):
        provider.send(to="+79161234567", text="x", idempotency_key="k2")
    with pytest.raises(PermanentSendError, match="bad number"):
        provider.send(to="+7", text="x", idempotency_key="k3")

    first = _Gateway.received[0]
    assert first["json"] == {
        "to": "+79161234567",
        "text": "Привет",
        "sender": "Kopilka",
        "id": "k1",
    }
    assert (first["auth"], first["key"]) == ("Bearer secret", "k1")


def test_an_sms_goes_out_through_the_gateway_and_a_503_is_retried(
    gateway, settings, customer, earned_templates
):
    settings.SMS_BACKEND = "notifications.backends.sms.HttpGatewaySmsProvider"
    settings.SMS_GATEWAY_URL = gateway
    settings.NOTIFICATIONS_QUIET_HOURS = ""
    noon = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
    message_enqueue(
        customer=customer, event="points_earned", context={"points": 5},
        idempotency_key="sms1", now=noon, channels=["sms"],
    )  # fmt: skip
    _Gateway.replies = [(503, {}), (200, {"id": "gw-9"})]

    assert messages_dispatch(now=noon).retried == 1
    retry_at = Message.objects.get().scheduled_for
    assert messages_dispatch(now=retry_at).sent == 1

    sms = Message.objects.get()
    assert (sms.status, sms.attempts, sms.provider_message_id) == ("sent", 2, "gw-9")
    assert [r["key"] for r in _Gateway.received] == ["sms1:sms", "sms1:sms"]
    assert sms.recipient == customer.phone


def test_amounts_are_decimals_not_floats(program, customer, now):
    cabinet_template("points_earned", "{{ points }}")
    account = AccountFactory(program=program, customer=customer)
    check = CheckFactory(account=account, earned_points=Decimal("12.00"))
    signals.check_committed.send(sender=None, account=account, check=check, result=None, now=now)
    assert Message.objects.get().body == "12"
