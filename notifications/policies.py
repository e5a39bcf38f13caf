"""Who may be sent what, and when: consent, addresses, quiet hours, the marketing cap."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from customers.models import Customer
from loyalty.ledger.models import MemberProfile
from notifications.models import Channel, Message, MessageStatus


@dataclass(frozen=True)
class Addressee:
    """A person as one programme knows them: the global identity (phone, blocked) and that
    programme's own profile (names, email, consents). Without a programme (or before the
    member has a profile) nothing programme-collected is known: no email, no consent."""

    customer: Customer
    profile: MemberProfile | None

    @property
    def pk(self) -> int:
        return self.customer.pk

    @property
    def is_blocked(self) -> bool:
        return self.customer.is_blocked

    @property
    def phone(self) -> str:
        return self.customer.phone or ""

    @property
    def email(self) -> str:
        return self.profile.email if self.profile is not None else ""

    @property
    def consent_email(self) -> bool:
        return self.profile is not None and self.profile.consent_email

    @property
    def consent_sms(self) -> bool:
        return self.profile is not None and self.profile.consent_sms

    @property
    def first_name(self) -> str:
        return self.profile.first_name if self.profile is not None else ""

    @property
    def last_name(self) -> str:
        return self.profile.last_name if self.profile is not None else ""

    @property
    def full_name(self) -> str:
        return self.profile.full_name if self.profile is not None else ""


def addressee(customer: Customer, program, *, profile: MemberProfile | None = None) -> Addressee:
    """``customer`` as ``program`` knows them (one query unless ``profile`` is given)."""
    if profile is None and program is not None:
        profile = MemberProfile.objects.filter(
            program_id=program.pk, account__customer_id=customer.pk
        ).first()
    return Addressee(customer=customer, profile=profile)


def recipient_of(customer, channel: str) -> str:
    if channel == Channel.EMAIL:
        return customer.email or ""
    if channel == Channel.SMS:
        return customer.phone or ""
    return ""


def skip_reason(customer, channel: str, *, marketing: bool) -> str:
    """Why ``customer`` may not get this message on ``channel`` now ("" if they may).

    Marketing needs the channel's consent; transactional messages need only an address
    (unless NOTIFICATIONS_TRANSACTIONAL_NEEDS_CONSENT). The cabinet needs neither.
    """
    if customer.is_blocked:
        return str(_("customer is blocked"))
    if channel == Channel.CABINET:
        return ""
    if not recipient_of(customer, channel):
        return str(_("no address for this channel"))
    consent = customer.consent_email if channel == Channel.EMAIL else customer.consent_sms
    needs_consent = marketing or settings.NOTIFICATIONS_TRANSACTIONAL_NEEDS_CONSENT
    if needs_consent and not consent:
        return str(_("no consent for this channel"))
    return ""


def _parse_quiet_hours() -> tuple[time, time] | None:
    spec = (settings.NOTIFICATIONS_QUIET_HOURS or "").strip()
    if not spec:
        return None
    start, end = (time.fromisoformat(part.strip()) for part in spec.split("-"))
    return (start, end) if start != end else None


def quiet_hours_end(moment: datetime, time_zone: str) -> datetime | None:
    """If ``moment`` falls in the quiet hours of ``time_zone``, the instant they end.

    ``time_zone`` is the programme's: a customer has no time zone of their own, and a
    programme is regional, so its members' nights are its nights (``settings.TIME_ZONE`` for
    a message sent outside any programme). A customer far from the programme's region may get
    an SMS in their own night; that is accepted rather than asking every customer for a zone.
    """
    window = _parse_quiet_hours()
    if window is None:
        return None
    start, end = window
    zone = ZoneInfo(time_zone)
    local = moment.astimezone(zone)
    now_t = local.time()
    if start < end:
        inside = start <= now_t < end
        end_day = local.date()
    else:  # the window wraps midnight: 21:00-09:00
        inside = now_t >= start or now_t < end
        end_day = local.date() + timedelta(days=1) if now_t >= start else local.date()
    if not inside:
        return None
    return datetime.combine(end_day, end, tzinfo=zone)


def marketing_cap_reached(customer_id: int, channel: str, *, now: datetime) -> bool:
    """The customer already has the allowed number of marketing messages on this channel in
    the cap window (pending, being sent or sent; skipped and failed ones do not count)."""
    limit = settings.NOTIFICATIONS_MARKETING_CAP_COUNT
    if limit <= 0:
        return False
    since = now - timedelta(days=settings.NOTIFICATIONS_MARKETING_CAP_DAYS)
    count = Message.objects.filter(
        customer_id=customer_id,
        channel=channel,
        marketing=True,
        created_at__gt=since,
        status__in=[MessageStatus.PENDING, MessageStatus.SENDING, MessageStatus.SENT],
    ).count()
    return count >= limit
