"""BSN validation: python-stdnum does the elfproef; this only gives it a clear error."""

from __future__ import annotations

from stdnum.exceptions import ValidationError
from stdnum.nl import bsn as stdnum_bsn


def validate_bsn(value: str) -> str:
    """Return the compact BSN, or raise ValueError saying why it is not one."""
    try:
        return stdnum_bsn.validate(value)
    except ValidationError as exc:
        # stdnum's messages name the check ("invalid checksum"), never the number.
        raise ValueError(f"is not a valid BSN ({exc.message.lower()})") from None
