"""The welcome bonus: once per customer and programme, inside the enrolment's transaction.

Called explicitly by ``campaigns.enrolment.member_enrol`` (not by a signal receiver).
"""

from __future__ import annotations

from datetime import datetime

from django.utils.translation import gettext as _

from campaigns.triggers.grants import Granted, trigger_config, trigger_grant
from loyalty.ledger.models import Account


def welcome_grant(*, account: Account, now: datetime) -> Granted | None:
    """The welcome bonus of a new member, once per customer and programme."""
    config = trigger_config(account.program)
    if not config.welcome_points:
        return None
    return trigger_grant(
        account=account,
        trigger="welcome",
        points=config.welcome_points,
        key=f"welcome:{account.customer_id}",
        now=now,
        lifetime_days=config.welcome_lifetime_days,
        description=_("Welcome bonus"),
    )


def member_welcome(*, account: Account | None, created: bool, now: datetime) -> Granted | None:
    """What an enrolment earns: the welcome bonus when the account is new, nothing otherwise."""
    if not created or account is None:
        return None
    return welcome_grant(account=account, now=now)
