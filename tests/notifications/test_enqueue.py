"""message_enqueue: one outbox row per channel, idempotent, with consent, caps and quiet hours."""

from datetime import UTC, datetime, timedelta

import pytest

from core import errors
from loyalty.ledger.models import MemberProfile
from notifications.models import Message, MessageStatus
from notifications.services import dispatch_soon, message_enqueue
from tests.factories import AccountFactory, CustomerFactory, ProgramFactory, TemplateFactory

pytestmark = pytest.mark.django_db


def home(customer):
    """The programme the customer belongs to: messages about it use what it collected."""
    account = customer.accounts.select_related("program").order_by("pk").first()
    return account.program if account is not None else None


def enqueue(customer, now, *, key="k1", event="points_earned", **kw):
    kw.setdefault("program", home(customer))
    kw.setdefault("context", {"points": 45})
    return message_enqueue(customer=customer, event=event, idempotency_key=key, now=now, **kw)


def member(**fields):
    """A customer who gave ``fields`` (email, consents, …) to the programme they joined."""
    return AccountFactory(customer=CustomerFactory(**fields)).customer


def by_channel(messages):
    return {m.channel: m for m in messages}


def test_one_rendered_row_per_channel_with_a_template(customer, program, earned_templates, now):
    messages = by_channel(enqueue(customer, now, program=program))
    assert set(messages) == {"email", "sms", "cabinet"}
    email = messages["email"]
    assert (email.status, email.scheduled_for, email.created_at) == ("pending", now, now)
    assert email.subject == "+45 баллов"
    assert email.body == "Анна, +45 в Кофе Клуб"
    assert email.idempotency_key == "k1:email"
    assert (email.language, email.time_zone, email.marketing) == ("ru", "Europe/Moscow", False)
    assert email.template == earned_templates["email"]
    assert messages["sms"].subject == ""


def test_a_retry_with_the_same_key_returns_the_first_rows(customer, program, earned_templates, now):
    first = enqueue(customer, now, program=program)
    again = enqueue(customer, now + timedelta(minutes=5), program=program, context={"points": 99})
    assert [m.pk for m in again] == [m.pk for m in first]
    assert Message.objects.count() == 3
    assert {m.body for m in again} == {"Анна, +45 в Кофе Клуб"}


def test_channels_limit_the_rows(customer, earned_templates, now):
    assert [m.channel for m in enqueue(customer, now, channels=["cabinet"])] == ["cabinet"]


def test_no_active_template_no_row(customer, now):
    TemplateFactory(event="points_earned", channel="email", is_active=False)
    assert enqueue(customer, now) == []
    assert not Message.objects.exists()


def test_unknown_event_is_a_validation_error(customer, now):
    with pytest.raises(errors.ValidationFailed) as exc:
        enqueue(customer, now, event="nope")
    assert "event" in exc.value.fields


def test_a_programmes_own_template_wins_and_an_inactive_one_switches_the_channel_off(
    customer, program, earned_templates, now
):
    TemplateFactory(
        event="points_earned", channel="email", program=program, body="своё {{ points }}"
    )
    TemplateFactory(event="points_earned", channel="sms", program=program, is_active=False)
    messages = by_channel(enqueue(customer, now, program=program))
    assert messages["email"].body == "своё 45"
    assert "sms" not in messages
    other = by_channel(enqueue(customer, now, key="k2", program=ProgramFactory()))
    # Another programme knows neither her name nor her email (her profile is this one's).
    assert other["email"].body.startswith(", +45")
    assert other["email"].status == "skipped"
    assert "sms" in other


def test_language_falls_back_to_an_available_one(customer, now, settings):
    settings.LANGUAGE_CODE = "ru"
    TemplateFactory(event="points_earned", channel="email", language="en", body="EN {{ points }}")
    (email,) = enqueue(customer, now)
    assert (email.body, email.language) == ("EN 45", "en")
    TemplateFactory(event="points_earned", channel="email", language="ru", body="RU {{ points }}")
    (email,) = enqueue(customer, now, key="k2")
    assert email.body == "RU 45"


def test_dates_render_in_the_programmes_time_zone(customer, now):
    program = ProgramFactory(timezone="Asia/Vladivostok")
    TemplateFactory(event="points_earned", channel="cabinet", body="{{ at|date:'d.m H:i' }}")
    (message,) = enqueue(customer, now, program=program, context={"at": now})
    assert message.body == "15.06 22:00"  # 12:00 UTC is 22:00 in Vladivostok


def test_a_template_that_does_not_render_is_a_failed_row(customer, now):
    TemplateFactory(event="points_earned", channel="email", body="{% if %}")
    (email,) = enqueue(customer, now)
    assert email.status == MessageStatus.FAILED
    assert email.status_reason == "template error"
    assert email.last_error


# --- consent and addresses ---------------------------------------------------------------------


def test_transactional_messages_need_an_address_not_consent(earned_templates, now):
    customer = member(email="a@b.c", consent_email=False, consent_sms=False)
    messages = by_channel(enqueue(customer, now))
    assert {c: m.status for c, m in messages.items()} == {
        "email": "pending",
        "sms": "pending",
        "cabinet": "pending",
    }


def test_transactional_consent_can_be_required_by_settings(earned_templates, now, settings):
    settings.NOTIFICATIONS_TRANSACTIONAL_NEEDS_CONSENT = True
    customer = member(email="a@b.c", consent_email=False, consent_sms=True)
    messages = by_channel(enqueue(customer, now))
    assert messages["email"].status == "skipped"
    assert messages["email"].status_reason == "no consent for this channel"
    assert messages["sms"].status == "pending"


def test_marketing_needs_the_channels_consent(campaign_templates, now):
    customer = member(email="a@b.c", consent_email=False, consent_sms=True)
    messages = by_channel(enqueue(customer, now, event="campaign", context={"text": "×2"}))
    assert messages["email"].status == "skipped"
    assert messages["sms"].status == "pending"
    assert messages["cabinet"].status == "pending"  # in-app: no consent needed
    assert all(m.marketing for m in messages.values())


def test_no_address_and_blocked_customers_are_skipped(earned_templates, now):
    no_email = member(email="", phone=None, consent_email=True)
    messages = by_channel(enqueue(no_email, now))
    assert messages["email"].status_reason == "no address for this channel"
    assert messages["sms"].status == "skipped"
    blocked = member(email="x@y.z", is_blocked=True)
    assert {m.status for m in enqueue(blocked, now, key="k2")} == {"skipped"}


# --- quiet hours ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("utc_moment", "expected_utc"),
    [
        (datetime(2026, 6, 15, 18, 0, tzinfo=UTC), None),  # 21:00 MSK is quiet, 20:59 not
        (datetime(2026, 6, 15, 17, 59, tzinfo=UTC), "keep"),
        (datetime(2026, 6, 15, 20, 30, tzinfo=UTC), datetime(2026, 6, 16, 6, 0, tzinfo=UTC)),
        (datetime(2026, 6, 16, 5, 59, tzinfo=UTC), datetime(2026, 6, 16, 6, 0, tzinfo=UTC)),
        (datetime(2026, 6, 16, 6, 0, tzinfo=UTC), "keep"),
    ],
)
def test_sms_wait_for_the_end_of_quiet_hours_in_the_programmes_zone(
    customer, program, earned_templates, utc_moment, expected_utc
):
    if expected_utc is None:
        expected_utc = datetime(2026, 6, 16, 6, 0, tzinfo=UTC)
    messages = by_channel(enqueue(customer, utc_moment, program=program))
    sms = messages["sms"]
    if expected_utc == "keep":
        assert sms.scheduled_for == utc_moment and sms.status_reason == ""
    else:
        assert sms.scheduled_for == expected_utc
        assert sms.status_reason == "delayed by quiet hours"
    assert messages["email"].scheduled_for == utc_moment  # email is silent


def test_quiet_hours_follow_the_programme_and_can_be_switched_off(
    customer, earned_templates, settings
):
    vladivostok = ProgramFactory(timezone="Asia/Vladivostok")
    noon_utc = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)  # 22:00 in Vladivostok
    sms = by_channel(enqueue(customer, noon_utc, program=vladivostok))["sms"]
    assert sms.scheduled_for == datetime(2026, 6, 15, 23, 0, tzinfo=UTC)  # 09:00 there
    settings.NOTIFICATIONS_QUIET_HOURS = ""
    sms = by_channel(enqueue(customer, noon_utc, key="k2", program=vladivostok))["sms"]
    assert sms.scheduled_for == noon_utc


# --- the marketing frequency cap -------------------------------------------------------------


def test_the_cap_limits_marketing_per_customer_and_channel(customer, campaign_templates, now):
    for day in range(2):
        enqueue(customer, now + timedelta(days=day), key=f"c{day}", event="campaign")
    third = by_channel(enqueue(customer, now + timedelta(days=2), key="c2", event="campaign"))
    assert third["email"].status == "skipped"
    assert third["email"].status_reason == "marketing frequency cap reached"
    # a week after the first one there is room again
    later = by_channel(
        enqueue(customer, now + timedelta(days=7, minutes=1), key="c3", event="campaign")
    )
    assert later["email"].status == "pending"


def test_skipped_messages_do_not_count_and_transactional_ones_are_not_capped(
    campaign_templates, earned_templates, now
):
    customer = member(email="a@b.c", consent_email=False, consent_sms=True)
    for i in range(3):
        enqueue(customer, now, key=f"c{i}", event="campaign", channels=["email"])
    MemberProfile.objects.filter(account__customer=customer).update(consent_email=True)
    (email,) = enqueue(customer, now, key="c9", event="campaign", channels=["email"])
    assert email.status == "pending"
    for i in range(5):
        (email,) = enqueue(customer, now, key=f"t{i}", channels=["email"])
        assert email.status == "pending"


# --- unsubscribe link ------------------------------------------------------------------------


def test_every_marketing_email_carries_the_unsubscribe_link(customer, campaign_templates, now):
    messages = by_channel(enqueue(customer, now, event="campaign", context={"text": "Акция"}))
    body = messages["email"].body
    assert body.startswith("Акция\n\n")
    assert "https://kopilka.test/notifications/unsubscribe/" in body
    assert "unsubscribe" not in messages["sms"].body
    assert "unsubscribe" not in messages["cabinet"].body


def test_a_template_that_places_the_link_itself_gets_no_second_one(customer, now):
    TemplateFactory(event="campaign", channel="email", body="Отписаться: {{ unsubscribe_url }}")
    (email,) = enqueue(customer, now, event="campaign")
    assert email.body.count("/notifications/unsubscribe/") == 1


# --- dispatch on commit --------------------------------------------------------------------------


def test_the_dispatcher_is_queued_on_commit_only_when_something_is_due(
    customer, earned_templates, now, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        enqueue(customer, now)
    assert callbacks == [dispatch_soon]
    blocked = member(is_blocked=True)
    with django_capture_on_commit_callbacks() as callbacks:
        enqueue(blocked, now, key="k2")
    assert callbacks == []
    with django_capture_on_commit_callbacks() as callbacks:
        enqueue(customer, now, key="k3", dispatch=False)
    assert callbacks == []
