"""Every cabinet page renders the signed-in customer's own data, in Russian and English."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from loyalty.ledger.models import Account, Check, MemberProfile
from loyalty.ledger.services import points_grant
from notifications.models import Message
from tests.cabinet.conftest import buy
from tests.factories import MessageFactory, OfferFactory

pytestmark = pytest.mark.django_db


def url(name: str, lang: str = "ru", **kwargs) -> str:
    with translation.override(lang):
        return reverse(f"cabinet:{name}", kwargs=kwargs or None)


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for name in (
        "dashboard",
        "history",
        "offers",
        "till_code",
        "referral",
        "profile",
        "inbox",
        "rules",
    ):
        response = client.get(url(name))
        assert response.status_code == 302
        assert response["Location"].startswith(url("login"))


def test_dashboard_shows_the_points_the_till_gave(signed_in, member):
    # 400.00 of latte at 5 % = 20, plus 10 per item × 2 = 20: 40 points.
    account = Account.objects.get(customer=member)
    assert account.available == Decimal("40")
    response = signed_in.get(url("dashboard", "en"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="available">40<' in html
    assert 'data-testid="tier">Base<' in html
    # Progress to Silver (10 000 spent): 400 of 10 000 is 4 %.
    assert 'aria-valuenow="4"' in html
    assert "Spend ₽9,600.00 more to reach Silver" in html
    # The 40 points expire in 20 days: listed as expiring soon.
    assert 'data-testid="expiring-total">40<' in html
    # Both rules' lots expire the same day: one line, with the date in the reader's locale.
    assert html.count('data-testid="expiring"') == 1
    assert "= ₽40.00 off your purchases" in html


def test_point_value_converts_points_to_money(signed_in, program):
    program.point_value = Decimal("0.50")
    program.save(update_fields=["point_value"])
    html = signed_in.get(url("dashboard", "en")).content.decode()
    assert "= ₽20.00 off your purchases" in html


def test_dashboard_in_russian_formats_numbers_by_locale(signed_in, program, outlet, member):
    buy(program, outlet, member, receipt="A-2", amount="12000.00", quantity="1")
    html = signed_in.get(url("dashboard", "ru")).content.decode()
    assert 'lang="ru"' in html
    # 40 + 600 (5 % of 12 000) + 10 = 650; upgraded to Silver after 12 400 spent.
    assert 'data-testid="available">650<' in html
    assert 'data-testid="tier">Silver<' in html
    assert "Это высший статус" in html or "highest status" in html


def test_pending_points_are_shown_apart_from_available(signed_in, program, outlet, member):
    program.hold_days = 14
    program.save(update_fields=["hold_days"])
    buy(program, outlet, member, receipt="A-3", amount="200.00", quantity="1")
    html = signed_in.get(url("dashboard", "en")).content.decode()
    assert 'data-testid="available">40<' in html
    assert 'data-testid="pending">20<' in html  # 5 % of 200 = 10, + 10 for the latte


def test_history_explains_each_rule_in_the_readers_language(signed_in):
    en = signed_in.get(url("history", "en")).content.decode()
    assert "5% of 400.00 = 20" in en
    assert "10 per item × 2 = 20" in en
    ru = signed_in.get(url("history", "ru")).content.decode()
    # Russian number format: a decimal comma (the msgid stays until translations land).
    assert "400,00 = 20" in ru


def test_history_filters_by_kind_and_date(signed_in, member):
    account = Account.objects.get(customer=member)
    points_grant(
        account=account,
        points=Decimal("50"),
        source="test",
        idempotency_key="g1",
        now=timezone.now(),
        description="Birthday",
    )
    grants = signed_in.get(url("history", "en"), {"kind": "grant"}).content.decode()
    assert "Bonus" in grants and 'data-testid="check"' not in grants
    checks = signed_in.get(url("history", "en"), {"kind": "check"}).content.decode()
    assert 'data-testid="check"' in checks
    tomorrow = (timezone.localdate() + timezone.timedelta(days=2)).isoformat()
    future = signed_in.get(url("history", "en"), {"date_from": tomorrow}).content.decode()
    assert "Nothing here yet." in future
    bad = signed_in.get(url("history", "en"), {"date_from": tomorrow, "date_to": "2020-01-01"})
    assert bad.status_code == 200
    assert "The end date is before the start date." in bad.content.decode()


def test_history_paginates(signed_in, program, outlet, member):
    for n in range(25):
        buy(program, outlet, member, receipt=f"P-{n}", amount="10.00", quantity="1")
    first = signed_in.get(url("history", "en")).content.decode()
    assert "Page 1 of 2" in first
    second = signed_in.get(url("history", "en"), {"page": 2}).content.decode()
    assert "Page 2 of 2" in second
    assert second.count('data-testid="check"') == 6


def test_offers_can_be_activated(signed_in, program, member):
    offer = OfferFactory(program=program, code="double-tea", title="Double points on tea")
    offer.customers.add(member)
    page = signed_in.get(url("offers", "en")).content.decode()
    assert "Double points on tea" in page and "Activate" in page
    response = signed_in.post(url("offer_activate", "en"), {"offer": "double-tea"})
    assert response.status_code == 302
    assert offer.activations.filter(customer=member).exists()
    page = signed_in.get(url("offers", "en")).content.decode()
    assert "Applies automatically at the till." in page


def test_an_offer_for_someone_else_cannot_be_activated(signed_in, program, member, stranger):
    offer = OfferFactory(program=program, code="boris-only", title="For Boris")
    offer.customers.add(stranger)
    assert "For Boris" not in signed_in.get(url("offers", "en")).content.decode()
    response = signed_in.post(url("offer_activate", "en"), {"offer": "boris-only"}, follow=True)
    assert "not available" in response.content.decode()
    assert not offer.activations.exists()


def test_till_code_is_issued_on_post_with_a_qr_and_accepted_once(signed_in, member):
    from core import errors
    from loyalty.ledger.services import customer_identify

    assert signed_in.get(url("till_code", "en")).status_code == 200
    response = signed_in.post(url("till_code", "en"))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    code = response.context["code"]
    html = response.content.decode()
    assert f'data-testid="till-code">{code}<' in html
    assert "<svg" in html and 'class="qr"' in html
    program = Account.objects.get(customer=member).program
    assert customer_identify(program=program, code=code, now=timezone.now()) == member
    with pytest.raises(errors.CustomerNotFound):
        customer_identify(program=program, code=code, now=timezone.now())


def test_a_new_till_code_replaces_the_previous_one(signed_in, member):
    from core import errors
    from loyalty.ledger.services import customer_identify

    first = signed_in.post(url("till_code", "en")).context["code"]
    second = signed_in.post(url("till_code", "en")).context["code"]
    program = Account.objects.get(customer=member).program
    with pytest.raises(errors.CustomerNotFound):
        customer_identify(program=program, code=first, now=timezone.now())
    assert customer_identify(program=program, code=second, now=timezone.now()) == member


def test_referral_page_counts_friends(signed_in, program, outlet, member):
    from tests.cabinet.conftest import enrol

    enrol(program, outlet, "+79990005566", referral_code=member.referral_code)
    html = signed_in.get(url("referral", "en")).content.decode()
    assert member.referral_code in html
    assert "1 friend has joined." in html
    invite = signed_in.get(url("invite", "en", code=member.referral_code))
    assert invite.status_code == 200 and member.referral_code in invite.content.decode()
    assert signed_in.get(url("invite", "en", code="NOPE1234")).status_code == 404


def test_profile_saves_name_and_email_and_the_user_email_follows(signed_in, member):
    response = signed_in.post(
        url("profile", "en"),
        {"first_name": "Anna", "last_name": "Petrova", "email": "anna.p@example.com"},
    )
    assert response.status_code == 302
    member.refresh_from_db()
    member.user.refresh_from_db()
    profile = MemberProfile.objects.get(account__customer=member)  # this programme's
    assert (profile.first_name, profile.email) == ("Anna", "anna.p@example.com")
    assert member.user.email == "anna.p@example.com"
    assert (member.first_name, member.email) == ("", "")  # nothing on the global record
    bad = signed_in.post(url("profile", "en"), {"email": "not-an-email"})
    assert bad.status_code == 200 and "email" in bad.context["form"].errors


def test_consents_toggle_with_timestamps(signed_in, member):
    # Consents are given to the programme the cabinet shows (its member profile).
    profile = MemberProfile.objects.get(account__customer=member)
    assert not profile.consent_sms
    signed_in.post(url("consent", "en"), {"channel": "sms", "value": "1"})
    profile.refresh_from_db()
    assert profile.consent_sms and profile.consent_sms_at is not None
    switched_on_at = profile.consent_sms_at
    signed_in.post(url("consent", "en"), {"channel": "sms", "value": "0"})
    profile.refresh_from_db()
    assert not profile.consent_sms and profile.consent_sms_at >= switched_on_at
    html = signed_in.get(url("profile", "en")).content.decode()
    assert 'data-testid="consent-sms"' in html and "Turn on" in html
    assert signed_in.post(url("consent", "en"), {"channel": "fax", "value": "1"}).status_code == 302


def test_inbox_lists_cabinet_messages_and_marks_them_read(signed_in, member, stranger):
    mine = MessageFactory(
        customer=member,
        channel="cabinet",
        status="sent",
        subject="+40 points",
        body="Thanks",
        sent_at=timezone.now(),
    )
    theirs = MessageFactory(
        customer=stranger,
        channel="cabinet",
        status="sent",
        subject="Boris secret",
        sent_at=timezone.now(),
    )
    html = signed_in.get(url("inbox", "en")).content.decode()
    assert "+40 points" in html and "Boris secret" not in html
    assert 'class="badge"' in signed_in.get(url("dashboard", "en")).content.decode()
    signed_in.post(url("inbox_read", "en"), {"message": [mine.pk, theirs.pk]})
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.read_at is not None
    assert theirs.read_at is None  # someone else's id is ignored
    unread = Message.objects.filter(
        customer=member, channel="cabinet", status="sent", read_at__isnull=True
    )
    assert not unread.exists()


def test_rules_page_describes_the_live_configuration(signed_in, program):
    html = signed_in.get(url("rules", "en")).content.decode()
    assert "Silver" in html and "from ₽10,000.00 spent" in html
    assert "10 extra points for each item of Coffee." in html
    assert "Points can pay up to 30 % of a purchase." in html.replace("\u00a0", " ")
    assert "Points expire 20 days after they were earned." in html


@pytest.mark.parametrize(
    ("page_lang", "target", "expected"),
    [("ru", "en", "/en/cabinet/history/"), ("en", "ru", "/cabinet/history/")],
)
def test_language_switch_goes_to_the_translated_page(signed_in, page_lang, target, expected):
    response = signed_in.post(
        url("language", page_lang), {"language": target, "next": url("history", page_lang)}
    )
    assert response.status_code == 302
    assert response["Location"] == expected
    assert response.cookies["django_language"].value == target
    page = signed_in.get(expected)
    assert f'lang="{target}"' in page.content.decode()


def test_a_user_without_a_customer_gets_a_clear_refusal(client, db):
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.create_user(username="staff", password="x")
    client.force_login(staff)
    assert client.get(url("dashboard", "en")).status_code == 403


def test_checks_are_never_addressed_by_id(signed_in, member):
    # Ownership comes from the session: no cabinet URL takes a check, account or customer id.
    from cabinet import urls

    for pattern in urls.urlpatterns:
        assert (
            "<" not in str(pattern.pattern)
            or "code" in str(pattern.pattern)
            or ("uidb64" in str(pattern.pattern))
        )
    assert Check.objects.filter(account__customer=member).exists()
