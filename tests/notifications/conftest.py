import pytest

from notifications.models import Template
from tests.factories import AccountFactory, CustomerFactory, ProgramFactory, TemplateFactory
from tests.notifications.fakes import RecordingSmsProvider


@pytest.fixture(autouse=True)
def _own_templates(db):
    """Each test states the templates it needs (the shipped ones are tested on their own)."""
    Template.objects.all().delete()


@pytest.fixture(autouse=True)
def _sms(settings):
    settings.SMS_BACKEND = "tests.notifications.fakes.RecordingSmsProvider"
    settings.NOTIFICATIONS_QUIET_HOURS = "21:00-09:00"
    settings.NOTIFICATIONS_MARKETING_CAP_COUNT = 2
    settings.NOTIFICATIONS_MARKETING_CAP_DAYS = 7
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    settings.NOTIFICATIONS_LEASE_SECONDS = 300
    settings.SITE_URL = "https://kopilka.test"
    RecordingSmsProvider.sent = []
    RecordingSmsProvider.fail_next = []
    yield
    RecordingSmsProvider.sent = []
    RecordingSmsProvider.fail_next = []


@pytest.fixture
def program():
    return ProgramFactory(code="coffee", name="Кофе Клуб", timezone="Europe/Moscow")


@pytest.fixture
def customer(program):
    """A member of ``program``, which collected her name, email and consents (its profile)."""
    customer = CustomerFactory(
        first_name="Анна",
        last_name="Петрова",
        email="anna@example.com",
        consent_email=True,
        consent_sms=True,
    )
    AccountFactory(program=program, customer=customer)
    return customer


@pytest.fixture
def earned_templates():
    return {
        channel: TemplateFactory(
            event="points_earned",
            channel=channel,
            language="ru",
            subject="+{{ points }} баллов" if channel != "sms" else "",
            body="{{ customer.first_name }}, +{{ points }} в {{ program.name }}",
        )
        for channel in ("email", "sms", "cabinet")
    }


@pytest.fixture
def campaign_templates():
    return {
        channel: TemplateFactory(
            event="campaign",
            channel=channel,
            language="ru",
            subject="{{ title }}" if channel != "sms" else "",
            body="{{ text }}",
        )
        for channel in ("email", "sms", "cabinet")
    }
