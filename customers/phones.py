"""Phone numbers as the platform stores them: E.164, parsed with the programme's region."""

import phonenumbers
from django.utils.translation import gettext as _

from core import errors


def phone_normalise(raw: str, *, region: str, field: str = "phone") -> str:
    """Any common spelling of a phone number → E.164 (``+79991234567``).

    A number without a country code is read in ``region`` (the programme's default).
    Raises ValidationFailed naming ``field`` when the input is not a valid phone number.
    """
    text = (raw or "").strip() if isinstance(raw, str) else ""
    if not text:
        raise errors.ValidationFailed(
            _("Enter a phone number."), fields={field: [_("Enter a phone number.")]}
        )
    try:
        number = phonenumbers.parse(text, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        message = _("Enter a valid phone number.")
        raise errors.ValidationFailed(message, fields={field: [message]})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_mask(phone: str) -> str:
    """+79991234567 → +7999***4567: enough for a cashier to confirm, too little to misuse.

    The form for anything a person other than the customer reads: logs, the till, the cabinet.
    """
    if not phone:
        return ""
    return f"{phone[:5]}***{phone[-4:]}" if len(phone) > 9 else "***"
