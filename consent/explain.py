"""Plain-Dutch texts (B1 level) that residents and regisseurs read.

Everything here is written out by hand, month names included, so the output
does not depend on the machine's locale. Nothing here receives personal
data: only partner display names, categories, field names and dates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from consent.dutch import count
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

# Field names are English identifiers; residents read these words instead. These are
# the core's fields (the person, the address, the creditor, the amount); every other
# field's word comes from the plugin that declares it (``MessageType.labels``, added
# with :func:`add_field_words`). The core's words are the resident's wording and win.
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
    "customer_ref": "klantnummer",
    "policy_ref": "polisnummer",
    "end_of_supply_date": "datum waarop de levering stopt",
    "postcode": "postcode",
    "huisnummer": "huisnummer",
}

# Words the loaded plugins supply for their own fields (issue 13, item 15).
_PLUGIN_FIELD_WORDS: dict[str, str] = {}


def core_field_words() -> Mapping[str, str]:
    """The Dutch words for the core's own fields (a plugin need not label these)."""
    return dict(_FIELD_WORDS)


def add_field_words(words: Mapping[str, str]) -> None:
    """Learn the Dutch words a plugin gives for its fields.

    Called by the hub for every loaded message type. A core word is never
    replaced, and the first plugin to name a field keeps its word, so a text
    never changes because another plugin was loaded later.
    """
    for field, word in words.items():
        if field not in _FIELD_WORDS and word:
            _PLUGIN_FIELD_WORDS.setdefault(field, word)


def format_date(when: datetime) -> str:
    """Return the Dutch calendar date of ``when`` in Dutch time, e.g. "3 maart 2026"."""
    require_aware("when", when)
    try:
        local = when.astimezone(_ZONE)
    except OverflowError:
        # Only a moment at the calendar's very end (stored before the registry refused
        # those): its own date, not a page that cannot be shown.
        local = when
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
    """Return the Dutch word for a field name: the core's word, else the plugin's label.

    A field nobody labelled becomes readable words as a last resort (a test keeps
    every loaded plugin's fields labelled, so residents never read this).
    """
    return _FIELD_WORDS.get(field) or _PLUGIN_FIELD_WORDS.get(field) or field.replace("_", " ")


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


def reason_safety(*, title: str) -> str:
    """Reason for a delivery on a safety basis (meldrecht): the whole report, confidential."""
    return (
        f"Gedeeld op grond van het {title}: het gaat om iemands veiligheid. "
        f"Dit is vertrouwelijk."
    )


def reason_own_request() -> str:
    """Reason for an item the resident sent themselves ("Ik heb een vraag", issue 17)."""
    return ("U ziet dit omdat de bewoner deze vraag zelf aan het wijkteam heeft gesteld. "
            "Dat is het verzoek van de bewoner zelf.")


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


# --- texts for the regisseur (issue 15, item 11) --------------------------------
# The sentences above speak to the resident ("omdat u … toestemming gaf"). A
# regisseur reading them thinks *they* consented, so the screens for staff use
# these, which speak about the resident. The resident's sentences stay as they are.

_STAFF_CATEGORY_WORDS = {"medisch": "gezondheid"}

_STAFF_CAPACITY_WORDS = {
    "parent": "een ouder van de bewoner",
    "guardian": "de voogd van de bewoner",
    "curator": "de curator van de bewoner",
    "mentor": "de mentor van de bewoner",
    "bewindvoerder": "de bewindvoerder van de bewoner",
}


def staff_category(category: str) -> str:
    """A data category as a regisseur reads it ("gezondheid", not "uw gezondheid")."""
    return _STAFF_CATEGORY_WORDS.get(category, describe_category(category))


def staff_reason_consent(*, granted_at: datetime, category: str, source_name: str,
                         capacity: str | None = None) -> str:
    """Why the regisseur sees an item delivered on consent, speaking about the resident.

    E.g. "De bewoner gaf op 3 maart 2026 toestemming dat het wijkteam meldingen over
    wonen van Woonbron krijgt." ``capacity`` names a representative who gave it.
    """
    who = "de bewoner" if capacity is None else _STAFF_CAPACITY_WORDS.get(
        capacity, f"een vertegenwoordiger van de bewoner ({capacity})")
    return (
        f"{who[:1].upper()}{who[1:]} gaf op {format_date(granted_at)} toestemming dat het "
        f"wijkteam meldingen over {staff_category(category)} van {source_name} krijgt. "
        f"Trekt de bewoner die toestemming in, dan verdwijnt deze melding uit uw inbox."
    )


def staff_reason_statute(*, statute_title: str, fields: Sequence[str]) -> str:
    """Why the regisseur sees an item delivered on a statute: the law, and only which fields."""
    names = join_dutch([describe_field(f) for f in fields])
    return (
        f"De {statute_title} staat toe dat het wijkteam dit krijgt zonder toestemming van "
        f"de bewoner, maar alleen: {names}. Voor meer gegevens is toestemming nodig."
    )


def staff_reason_safety(*, title: str) -> str:
    """Why the regisseur sees a safety report: the right to report, and that it is confidential."""
    return (
        f"Het {title} staat toe dat dit zonder toestemming van de bewoner gedeeld wordt, "
        f"omdat het om iemands veiligheid gaat. Dit is vertrouwelijk."
    )


# --- texts for the resident's transparency view (issue 4, item 6) ------------

_CAPACITY_WORDS = {
    "parent": "uw ouder",
    "guardian": "uw voogd",
    "curator": "uw curator",
    "mentor": "uw mentor",
    "bewindvoerder": "uw bewindvoerder",
}

_KIND_WORDS = {
    "woningcorporatie": "woningcorporaties",
    "evides": "het waterbedrijf",
    "huisarts": "huisartsen",
    "sdd": "de Sociale Dienst",
    "veiligthuis": "Veilig Thuis",
}


def describe_capacity(capacity: str | None) -> str:
    """Who gave or changed something: "u", or the representative as the resident says it."""
    if capacity is None:
        return "u"
    return _CAPACITY_WORDS.get(capacity, f"uw vertegenwoordiger ({capacity})")


def describe_sources(*, kinds: Sequence[str], partner_names: Sequence[str]) -> str:
    """The source scope of a consent in words: "Woonbron", "woningcorporaties", or both."""
    words = sorted(partner_names) + [_KIND_WORDS.get(k, k) for k in sorted(kinds)]
    return join_dutch(words) if words else "niemand"


def consent_explanation(
    *,
    status: str,
    granted_at: datetime,
    recipient: str,
    categories: Sequence[str],
    sources: str,
    valid_until: datetime | None,
    revoked_at: datetime | None,
    capacity: str | None,
) -> str:
    """What one consent means, for the resident's list of consents.

    ``sources`` comes from :func:`describe_sources`; ``capacity`` is the
    representative's capacity if one gave it, else None.
    """
    who = describe_capacity(capacity)
    what = join_dutch([describe_category(c) for c in sorted(categories)])
    to = describe_recipient(recipient)
    day = format_date(granted_at)
    if status == "refused":
        return (
            f"{who.capitalize()} zei op {day} nee: {to} krijgt geen meldingen over "
            f"{what} van {sources}."
        )
    text = (
        f"{who.capitalize()} gaf op {day} toestemming: {to} mag meldingen over {what} "
        f"van {sources} krijgen."
    )
    if status == "revoked" and revoked_at is not None:
        return (
            f"{text} Deze toestemming is ingetrokken op {format_date(revoked_at)}. "
            f"Sindsdien wordt hierop niets meer gedeeld."
        )
    if status == "expired" and valid_until is not None:
        return f"{text} Deze toestemming is verlopen op {format_date(valid_until)}."
    if valid_until is not None:
        return f"{text} Dit geldt tot {format_date(valid_until)}. U kunt het altijd intrekken."
    return f"{text} Dit geldt tot u het intrekt. U kunt het altijd intrekken."


def disclosure_explanation(
    *,
    basis: str,
    at: datetime,
    recipient: str,
    fields: Sequence[str] | None,
    consent_given_at: datetime | None = None,
    consent_capacity: str | None = None,
    category: str | None = None,
    source_name: str = "",
    statute_title: str | None = None,
    retention_days: int | None = None,
    still_shown: bool = True,
    ended_at: datetime | None = None,
    purged_at: datetime | None = None,
    now_only: Sequence[str] | None = None,
) -> str:
    """Why something about the resident reached someone, and whether it still does.

    E.g. "Uw wijkteam ziet dit omdat u op 3 maart 2026 toestemming gaf aan uw
    wijkteam voor meldingen over geldzaken van Woonbron." ``still_shown``
    False adds that the recipient no longer sees it (the record that it was
    shown stays); ``ended_at`` is when the consent was revoked or expired;
    ``now_only`` names the fields still shown when a consent ended but a law
    still allows part of it; ``purged_at`` is when retention removed the data.
    """
    to = describe_recipient(recipient)
    receiver = to[:1].upper() + to[1:]
    day = format_date(at)
    if basis == "consent":
        given = format_date(consent_given_at) if consent_given_at else day
        why = (
            f"omdat {describe_capacity(consent_capacity)} op {given} toestemming gaf aan {to} "
            f"voor meldingen over {describe_category(category or '')} van {source_name}."
        )
        unchanged = still_shown and ended_at is None and purged_at is None
        seen = "ziet dit" if unchanged else f"kreeg dit op {day},"
        text = f"{receiver} {seen} {why}"
    elif basis == "statute":
        names = join_dutch([describe_field(f) for f in fields or ()])
        text = (
            f"{receiver} kreeg dit op {day} zonder uw toestemming, omdat de "
            f"{statute_title or 'wet'} dat toestaat. Het gaat alleen om: {names}."
        )
        if retention_days is not None and purged_at is None and still_shown:
            text += (f" Dit wordt na {count(retention_days, 'dag', 'dagen')} verwijderd, "
                     f"tenzij {to} u dan al helpt.")
    elif basis == "safety":
        text = (
            f"{receiver} kreeg dit op {day} op grond van het {statute_title or 'meldrecht'}, omdat "
            f"het om iemands veiligheid gaat. Dit is vertrouwelijk."
        )
    else:
        text = f"{receiver} kreeg dit op {day}."
    if purged_at is not None:
        return (
            f"{text} De gegevens zijn verwijderd op {format_date(purged_at)}, omdat de "
            f"bewaartermijn voorbij was."
        )
    if basis == "consent" and ended_at is not None:
        text += f" De toestemming is beëindigd op {format_date(ended_at)}:"
        if still_shown and now_only is not None:
            names = join_dutch([describe_field(f) for f in now_only])
            return f"{text} {to} ziet nu alleen nog wat de wet toestaat: {names}."
        return f"{text} {to} ziet dit nu niet meer."
    if not still_shown:
        text += f" {receiver} ziet dit nu niet meer."
    return text


def message_explanation(*, status: str, source_name: str, topic: str,
                        received_at: datetime, purged_at: datetime | None = None) -> str:
    """What became of a message about the resident that was not (or not yet) shared.

    For a delivered message use :func:`disclosure_explanation`.
    """
    head = f"{source_name} stuurde op {format_date(received_at)} een melding over {topic}."
    if purged_at is not None and status == "linked":
        return (
            f"{head} Dit was een herhaling van een eerdere melding. De gegevens zijn "
            f"verwijderd op {format_date(purged_at)}, omdat de bewaartermijn voorbij was."
        )
    if purged_at is not None:
        return (
            f"{head} Die is niet gedeeld. De gegevens zijn verwijderd op "
            f"{format_date(purged_at)}."
        )
    if status == "held":
        return f"{head} Die is nog niet gedeeld: we vragen eerst uw toestemming."
    if status == "closed":
        return f"{head} Die is niet gedeeld: er was geen toestemming."
    if status == "linked":
        return f"{head} Dit is een herhaling van een eerdere melding; er is niets nieuws gedeeld."
    return f"{head} We verwerken deze melding nog."


def status_word(status: str) -> str:
    """The status of a message about the resident in one or two Dutch words."""
    return {
        "delivered": "gedeeld",
        "shown": "gedeeld",
        "no_longer_shown": "niet meer zichtbaar",
        "held": "wacht op uw toestemming",
        "closed": "niet gedeeld",
        "linked": "herhaling",
        "purged": "verwijderd",
        "accepted": "in behandeling",
    }.get(status, status)
