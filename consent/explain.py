"""Plain-Dutch texts (B1 level) that residents and regisseurs read.

Everything here is written out by hand, month names included, so the output
does not depend on the machine's locale. Nothing here receives personal
data: only partner display names, categories, field names and dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from consent.model import DEFAULT_RECIPIENT, require_aware

_MONTHS = (
    "januari", "februari", "maart", "april", "mei", "juni",
    "juli", "augustus", "september", "oktober", "november", "december",
)  # fmt: skip


def _dutch_zone() -> tzinfo:
    # A grant at 23:30 UTC on 2 March was given on 3 March for a resident in
    # Dordrecht, so dates are shown in Dutch time. A slim container may lack
    # the tz database; UTC is then at most one day off, which beats crashing
    # the decision step.
    try:
        return ZoneInfo("Europe/Amsterdam")
    except ZoneInfoNotFoundError:
        return UTC


_ZONE = _dutch_zone()

_CATEGORY_WORDS = {
    "financieel": "geldzaken",
    "wonen": "wonen",
    "medisch": "uw gezondheid",
    "zorg": "zorg en hulp",
    "veiligheid": "veiligheid",
    "werk-inkomen": "werk en inkomen",
}

_RECIPIENT_WORDS = {DEFAULT_RECIPIENT: "uw wijkteam"}

# Field names are English identifiers; residents read these words instead.
_FIELD_WORDS = {
    "name": "naam",
    "address": "adres",
    "creditor": "schuldeiser",
    "amount_eur": "bedrag",
    "since": "sinds wanneer",
    "months": "aantal maanden",
    "eviction_date": "datum van de ontruiming",
    "contact": "contactgegevens",
    "phone": "telefoonnummer",
    "email": "e-mailadres",
    "tenancy_ref": "nummer van het huurcontract",
}


def format_date(when: datetime) -> str:
    """Return the Dutch calendar date of ``when`` in Dutch time, e.g. "3 maart 2026"."""
    require_aware("when", when)
    local = when.astimezone(_ZONE)
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year}"


def describe_category(category: str) -> str:
    """Return the words a resident understands for a data category.

    E.g. "geldzaken" for financieel, "uw gezondheid" for medisch. An unknown
    category is returned as it is rather than raising, because a reason must
    always be producible.
    """
    return _CATEGORY_WORDS.get(category, category)


def describe_recipient(recipient: str) -> str:
    """Return who receives the data, as the resident would say it ("uw wijkteam")."""
    return _RECIPIENT_WORDS.get(recipient, recipient)


def describe_field(field: str) -> str:
    """Return the Dutch word for a field name; unknown names become readable words."""
    return _FIELD_WORDS.get(field, field.replace("_", " "))


def join_dutch(words: Sequence[str]) -> str:
    """Join words as Dutch lists are written: "a, b en c"."""
    if not words:
        return ""
    if len(words) == 1:
        return words[0]
    return f"{', '.join(words[:-1])} en {words[-1]}"


def reason_consent(*, granted_at: datetime, recipient: str, category: str, source_name: str) -> str:
    """Reason for a delivery on the resident's consent."""
    return (
        f"Gedeeld omdat u op {format_date(granted_at)} toestemming gaf aan "
        f"{describe_recipient(recipient)} voor meldingen over "
        f"{describe_category(category)} van {source_name}."
    )


def reason_statute(*, statute_title: str, fields: Sequence[str]) -> str:
    """Reason for a minimal delivery on a statute, naming the fields that pass."""
    names = join_dutch([describe_field(f) for f in fields])
    return f"Gedeeld op grond van de {statute_title}: alleen {names}."


def reason_no_basis() -> str:
    """Reason for holding a message that has no basis yet (consent will be asked)."""
    return "Niet gedeeld: er is (nog) geen toestemming. We vragen het u eerst."


def reason_unknown_type() -> str:
    """Reason for holding a type the policy names no law for: it needs consent."""
    return (
        "Niet gedeeld: voor dit soort melding is altijd uw toestemming nodig. "
        "We vragen het u eerst."
    )


def reason_category_mismatch() -> str:
    """Reason for holding a message whose category differs from its type's policy."""
    return (
        "Niet gedeeld: de melding past niet bij de afspraken voor dit soort melding. "
        "Dan delen we niets."
    )


def request_text(*, source_name: str, topics: Sequence[str], category: str, recipient: str) -> str:
    """The question a resident answers in a consent request.

    E.g. "Woonbron wil een melding over huurachterstand delen met uw
    wijkteam. Mag dat? ..." followed by what a yes covers, because the
    grant is for the whole category from that partner, not just this one
    message, and consent is only valid when the resident knows that.
    """
    if len(topics) == 1:
        what = f"een melding over {topics[0]}"
    else:
        what = f"meldingen over {join_dutch(list(topics))}"
    to = describe_recipient(recipient)
    return (
        f"{source_name} wil {what} delen met {to}. Mag dat? "
        f"Als u ja zegt, geldt dat 1 jaar voor alle meldingen over "
        f"{describe_category(category)} van {source_name}. "
        f"U kunt uw toestemming altijd weer intrekken."
    )
