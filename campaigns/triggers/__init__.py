"""Automatic bonuses: welcome, birthday, win-back and referral.

By sub-domain: ``grants`` (the config, the budgeted grant every bonus goes through, the
message, the scheduled triggers' chunked loop), ``welcome``, ``birthday``, ``winback`` and
``referral``. Keys (source ``campaigns``) make each bonus once per customer and period:

* ``welcome:<customer>`` — once per programme;
* ``birthday:<account>:<year>`` — once per birthday, whichever day of its window it is seen;
* ``winback:<account>:<last purchase date>`` — once per sleeping episode;
* ``referral:<referral>:<check>:referrer|friend`` — once per qualifying first check.

The welcome bonus is granted inside the enrolment, called by ``campaigns.enrolment``; referral
bookkeeping is described in ``campaigns.triggers.referral``.
"""

from campaigns.triggers.birthday import birthday_bonuses, birthday_window
from campaigns.triggers.grants import (
    CHUNK,
    SOURCE,
    Granted,
    TriggerRun,
    trigger_config,
    trigger_grant,
)
from campaigns.triggers.referral import (
    referral_grant,
    referral_note,
    referral_reverse,
    referral_withdraw,
    referrals_sweep,
)
from campaigns.triggers.welcome import member_welcome, welcome_grant
from campaigns.triggers.winback import WINBACK_CATCH_UP_DAYS, winback_bonuses

__all__ = [
    "CHUNK",
    "SOURCE",
    "WINBACK_CATCH_UP_DAYS",
    "Granted",
    "TriggerRun",
    "birthday_bonuses",
    "birthday_window",
    "member_welcome",
    "referral_grant",
    "referral_note",
    "referral_reverse",
    "referral_withdraw",
    "referrals_sweep",
    "trigger_config",
    "trigger_grant",
    "welcome_grant",
    "winback_bonuses",
]
