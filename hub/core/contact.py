"""A resident's contact details, checked at the door (issue 16).

Creditors may pass a debtor's telephone number and e-mail address with an
early signal (Besluit gemeentelijke schuldhulpverlening, art. 3: ``phone`` and
``email`` in the arrears data); a regisseur may type them in to send the
outreach text. Either way they are validated by
well-kept libraries (``phonenumbers``, ``email-validator``) rather than our own
patterns, normalised (E.164, the normalised address), stored sealed and never
logged. The reasons are plain Dutch: a regisseur reads them.
"""

from __future__ import annotations

from typing import Annotated

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, Field

#: Numbers without a country code are read as Dutch ones.
DEFAULT_REGION = "NL"


def normal_phone(value: str) -> str:
    """The number in E.164 (``+31612345678``); ValueError with a Dutch reason if it is none."""
    try:
        number = phonenumbers.parse(value, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise ValueError("is geen telefoonnummer") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("is geen geldig telefoonnummer")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_mobile(e164: str) -> bool:
    """True when the (normalised) number can receive a text message."""
    kind = phonenumbers.number_type(phonenumbers.parse(e164, DEFAULT_REGION))
    return kind in (phonenumbers.PhoneNumberType.MOBILE,
                    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def normal_email(value: str) -> str:
    """The normalised address; ValueError with a Dutch reason if it is none.

    Syntax only: checking deliverability would mean a DNS query per request.
    """
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValueError("is geen geldig e-mailadres") from None


Phone = Annotated[str, Field(min_length=1, max_length=40), AfterValidator(normal_phone)]
Email = Annotated[str, Field(min_length=3, max_length=254), AfterValidator(normal_email)]

