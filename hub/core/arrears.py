"""The shared shape of payment-arrears signals from fixed-cost partners.

Since 2021 the Wet gemeentelijke schuldhulpverlening (Wgs) obliges four kinds of
fixed-cost partners to signal payment arrears to the municipality: housing
landlords, drinking-water companies, energy suppliers and health insurers. The
Besluit gemeentelijke schuldhulpverlening (art. 3) names what such a signal may
carry: who the resident is (name, address and, where known, phone number and
e-mail address), the creditor, the amount and since when. Everything these
partners have in common lives here, so that a partner plugin only *describes*
its kind (an :class:`ArrearsKind`) and wires the hooks to it:

- the data model: :class:`ArrearsData` plus the partner's own reference field
  (a tenancy, customer or policy number) and, for a notice with a date that
  makes it urgent (an end of supply), that date;
- the CSV batch line (one format per kind; a filled deadline column makes the
  line that notice), reported by line and column by :mod:`hub.core.batch`;
- the inbox summary in Dutch, the *herhaalde melding* key and measure;
- the status back in VNG's closed list (taken up / not taken up / closed) and
  its HTTP request to the partner's endpoint;
- Dutch labels for every field a kind exposes.

Contact details are validated at the door with ``phonenumbers`` and
``email-validator``: a refusal names the field and the reason, never the value.
:data:`Phone`, :data:`Email` and :func:`is_mobile` are the hub's one contact
validation: the outreach case and the NotifyNL text use them too (issue 16).
Which fields pass without consent is the policy file's to say
(``consent/default_policy.toml``), not this module's.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
)

from hub.core.address import Address
from hub.core.dutch import count
from hub.core.envelope import subject_from_row
from hub.core.money import AmountEur, euro
from hub.core.types import (
    CsvFormat,
    ItemStatusEvent,
    MessageType,
    OutboundEnvelope,
    OutboundMessage,
    OutboundRequest,
    PartnerInfo,
)

CATEGORY = "financieel"
# Numbers without a country code are read as Dutch: the partners and residents are.
PHONE_REGION = "NL"


def _phone(value: str) -> str:
    # The reason names the rule, never the value: a phone number is personal data.
    # Imported here, not at the top: every `hub` command loads this module, few check
    # a phone number or an e-mail address (the two libraries cost 0.1 s of start-up).
    import phonenumbers

    try:
        number = phonenumbers.parse(value, PHONE_REGION)
    except phonenumbers.NumberParseException:
        raise ValueError("is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("is not a valid phone number (e.g. 06 12345678 or +31 78 123 4567)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _email(value: str) -> str:
    # No DNS lookup: the door must not depend on the network, nor leak who we check.
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValueError("is not a valid e-mail address (e.g. naam@voorbeeld.nl)") from None


def is_mobile(e164: str) -> bool:
    """True when a (normalised, see :data:`Phone`) number can receive a text message:
    the outreach SMS goes only to such a number (issue 16)."""
    import phonenumbers

    kind = phonenumbers.number_type(phonenumbers.parse(e164, PHONE_REGION))
    return kind in (phonenumbers.PhoneNumberType.MOBILE,
                    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


#: A phone number, checked with ``phonenumbers`` (Dutch unless it has a country code),
#: stored in E.164 (``+31612345678``).
Phone = Annotated[str, Field(min_length=1, max_length=40), AfterValidator(_phone)]
#: An e-mail address, checked with ``email-validator`` (syntax only) and normalised.
Email = Annotated[str, Field(min_length=3, max_length=254), AfterValidator(_email)]
#: A partner's own number for the contract the arrears are on.
Reference = Annotated[str, Field(min_length=1, max_length=100)]


class CreditorContact(BaseModel):
    """How the sending organisation can be reached about this person."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=200)
    phone: Phone | None = None
    email: Email | None = None


class ArrearsData(BaseModel):
    """What every arrears signal carries; a kind adds its own reference (and a deadline).

    ``phone`` and ``email`` are the resident's, where the partner knows them (Besluit
    gsh, art. 3); ``contact`` is the creditor's contact person for this signal.
    """

    model_config = ConfigDict(extra="forbid")
    amount_eur: AmountEur
    months: int = Field(ge=1, le=240)
    since: date
    address: Address
    phone: Phone | None = None
    email: Email | None = None
    contact: CreditorContact | None = None


class ArrearsFeedback(BaseModel):
    """``feedback.arrears.*`` (hub → creditor): what became of one of its signals.

    A closed list, as VNG's model for early signalling allows a creditor to know:
    ``taken_up`` (the wijkteam started help), ``not_taken_up`` (no help through the
    wijkteam, never why) and ``closed``. Never a reason, a note or anything about
    consent.
    """

    model_config = ConfigDict(extra="forbid")
    source_ref: str = Field(min_length=1, max_length=200)
    status: Literal["taken_up", "not_taken_up", "closed"]


#: Dutch words for the fields every arrears signal shares (what a regisseur or resident reads).
FIELD_LABELS: Mapping[str, str] = {
    "name": "naam",
    "address": "adres",
    "creditor": "schuldeiser",
    "amount_eur": "bedrag",
    "months": "aantal maanden",
    "since": "sinds wanneer",
    "phone": "telefoonnummer",
    "email": "e-mailadres",
    "contact": "contactpersoon bij de schuldeiser",
    # The status back to the creditor (feedback.arrears.*).
    "source_ref": "kenmerk van de melding",
    "status": "stand van zaken",
}

# What a creditor may hear, per change (VNG): "held" and "delivered" say something
# about consent or nothing new, so they are not told.
_TOLD = {"taken_up": "taken_up", "refused": "not_taken_up", "closed": "closed"}
_SUBJECT_COLUMNS = ("source_ref", "name", "birthdate", "postcode", "huisnummer", "bsn")
_DATA_COLUMNS = ("amount_eur", "months", "since")
#: The outreach priority of a signal with a deadline (an end of supply): it goes first.
DEADLINE_PRIORITY = 10


@dataclass(frozen=True)
class ArrearsSignal:
    """One message type of an arrears partner, e.g. ``signal.arrears.energy``.

    ``title`` starts the inbox line ("Achterstand energierekening"); ``topic`` is the
    Dutch noun phrase in texts for the resident. A ``deadline`` names a required date
    field that makes the signal urgent (an end of supply); the inbox line then ends
    with ``deadline_text`` and that date.
    """

    type: str
    title: str
    topic: str
    deadline: str | None = None
    deadline_text: str = ""
    #: How urgent an outreach case with this signal is (issue 16); None: 0 for a plain
    #: arrears signal, :data:`DEADLINE_PRIORITY` for one with a deadline, so an end of
    #: supply tops the worklist.
    outreach_priority: int | None = None

    @property
    def priority(self) -> int:
        """The outreach priority this signal's message type declares."""
        if self.outreach_priority is not None:
            return self.outreach_priority
        return DEADLINE_PRIORITY if self.deadline else 0


@dataclass(frozen=True)
class ArrearsKind:
    """A kind of fixed-cost partner that signals arrears, described as plain data.

    ``kind`` is the partner kind (``hub partner add --kind``); ``reference`` the name
    of the partner's own contract number field; ``signals`` its message types, the
    first one the plain arrears signal; ``feedback`` the type of the status back
    (None: the partner is not told). ``labels`` gives the Dutch words for the fields
    only this kind has. ``contact_columns`` adds ``phone`` and ``email`` to the CSV
    batch (off only for exports that were published without them).
    """

    kind: str
    reference: str
    signals: tuple[ArrearsSignal, ...]
    feedback: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    contact_columns: bool = True

    def __post_init__(self) -> None:
        if not self.signals:
            raise ValueError(f"arrears kind {self.kind!r} declares no signals")
        if self.signals[0].deadline is not None:
            raise ValueError(f"arrears kind {self.kind!r}: the first signal has no deadline")

    @cached_property
    def all_labels(self) -> Mapping[str, str]:
        """Dutch labels for every field this kind's signals expose."""
        return {**FIELD_LABELS, **self.labels}

    @cached_property
    def models(self) -> Mapping[str, type[ArrearsData]]:
        """The data model of each signal type: the shared shape plus this kind's fields."""
        models: dict[str, type[ArrearsData]] = {}
        for signal in self.signals:
            fields: dict[str, Any] = {self.reference: (Reference, ...)}
            if signal.deadline:
                fields[signal.deadline] = (date, ...)
            name = "".join(part.title() for part in signal.type.replace("_", ".").split("."))
            models[signal.type] = create_model(name, __base__=ArrearsData,
                                               __doc__=f"``{signal.type}``: {signal.topic}.",
                                               **fields)
        return models

    @cached_property
    def fields(self) -> tuple[str, ...]:
        """Every field a signal of this kind can show, the statute's ``creditor`` included."""
        names = ["name", "creditor", *ArrearsData.model_fields, self.reference]
        names += [s.deadline for s in self.signals if s.deadline]
        return tuple(dict.fromkeys(names))

    @cached_property
    def csv_header(self) -> tuple[str, ...]:
        """The columns of this kind's CSV batch, in order."""
        deadlines = tuple(s.deadline for s in self.signals if s.deadline)
        contact = ("phone", "email") if self.contact_columns else ()
        return (*_SUBJECT_COLUMNS, *_DATA_COLUMNS, self.reference, *deadlines, *contact)

    def summary(self, signal: ArrearsSignal, data: Mapping[str, Any]) -> str:
        """The inbox line in Dutch: "Achterstand energierekening van € 1.250,00 (3 maanden)".

        Only what the item shows is used: under the statute ``months`` is masked, so the
        line leaves it out.
        """
        months = data.get("months")
        text = f"{signal.title} van {euro(data['amount_eur'])}" + (
            f" ({count(int(months), 'maand', 'maanden')})" if months else "")
        if signal.deadline and data.get(signal.deadline):
            text += f"; {signal.deadline_text} {_dutch_date(data[signal.deadline])}"
        return text

    def message_types(self) -> list[MessageType]:
        """The kind's signals (and its status-back type) for ``wijkhub_message_types``."""
        reference = self.reference
        types = [
            MessageType(
                name=signal.type,
                partner_kinds=(self.kind,),
                category=CATEGORY,
                data_model=self.models[signal.type], labels=self.all_labels,
                topic=signal.topic,
                summary=lambda data, signal=signal: self.summary(signal, data),
                repeat_key=lambda data: data.get(reference),
                repeat_measure=lambda data: Decimal(data["amount_eur"]),
                outreach_priority=signal.priority,
            )
            for signal in self.signals
        ]
        if self.feedback:
            types.append(MessageType(
                name=self.feedback, partner_kinds=(self.kind,), category=CATEGORY,
                data_model=ArrearsFeedback, labels=self.all_labels,
                topic=f"terugkoppeling over een {self.signals[0].topic}",
                inbound=False, outbound=True))
        return types

    def row_to_message(self, row: Mapping[str, str]) -> dict[str, Any]:
        """One CSV line as the JSON of ``POST /api/v1/messages``.

        A filled deadline column makes the line that urgent notice; empty optional
        cells are left out, so a line and a single message meet one validation.
        """
        signal = next((s for s in self.signals[1:] if row.get(s.deadline or "")),
                      self.signals[0])
        data: dict[str, Any] = {
            "amount_eur": row["amount_eur"], "months": row["months"], "since": row["since"],
            self.reference: row[self.reference],
            "address": {"postcode": row["postcode"], "huisnummer": row["huisnummer"]},
        }
        if signal.deadline:
            data[signal.deadline] = row[signal.deadline]
        for optional in ("phone", "email"):
            if row.get(optional):
                data[optional] = row[optional]
        return {"type": signal.type, "source_ref": row["source_ref"],
                "subject": subject_from_row(row), "data": data}

    def csv_formats(self) -> list[CsvFormat]:
        """The kind's one CSV batch format, for ``wijkhub_csv_formats``."""
        return [CsvFormat(message_type=self.signals[0].type, partner_kinds=(self.kind,),
                          header=self.csv_header, to_message=self.row_to_message)]

    def status_changed(self, event: ItemStatusEvent) -> list[OutboundMessage]:
        """What to tell the partner when one of its signals changed (see module doc)."""
        told = _TOLD.get(event.status)
        if (self.feedback is None or told is None or event.source_partner.kind != self.kind
                or event.message_type not in self.models):
            return []
        if not event.source_partner.endpoint:
            return []  # registered without an endpoint: it asks GET /api/v1/messages/{id}
        return [OutboundMessage(partner_id=event.source_partner.id, message_type=self.feedback,
                                data={"source_ref": event.source_ref, "status": told},
                                ref=f"{event.message_id}:{told}")]

    def outbound_request(self, envelope: OutboundEnvelope,
                         partner: PartnerInfo) -> OutboundRequest | None:
        """``POST {endpoint}/arrears/{source_ref}/feedback`` with the status; None for others."""
        if self.feedback is None or envelope.type != self.feedback or partner.kind != self.kind:
            return None
        ref = envelope.data["source_ref"]
        return OutboundRequest(
            path=f"/arrears/{quote(ref, safe='')}/feedback",
            json={"source_ref": ref, "status": envelope.data["status"],
                  "hub_message_id": envelope.related_message_id,
                  "sent_at": envelope.created_at.isoformat()})


_MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
           "september", "oktober", "november", "december")


def _dutch_date(value: str | date) -> str:
    day = value if isinstance(value, date) else date.fromisoformat(str(value))
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


# --- a partner kind described in a file -------------------------------------------------------

_TYPE_NAME = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"
_FIELD_NAME = r"^[a-z][a-z0-9_]{0,39}$"


class _SignalFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(pattern=_TYPE_NAME, max_length=100)
    title: str = Field(min_length=1, max_length=100)
    topic: str = Field(min_length=1, max_length=200)
    deadline: str | None = Field(default=None, pattern=_FIELD_NAME)
    deadline_text: str = Field(default="", max_length=100)
    outreach_priority: int | None = Field(default=None, ge=0, le=100)


class _KindFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")
    reference: str = Field(pattern=_FIELD_NAME)
    feedback: str | None = Field(default=None, pattern=_TYPE_NAME, max_length=100)
    contact_columns: bool = True
    labels: dict[str, str] = Field(default_factory=dict)
    signals: list[_SignalFile] = Field(min_length=1)


class KindFileError(ValueError):
    """A partner kind's file is not a valid description; the message names file and key."""


def load_kind_file(path: Path) -> ArrearsKind:
    """Read an arrears partner kind from a TOML file (see ``docs/plugins.md``).

    Raises :class:`KindFileError` naming the file and the first wrong key, or a field
    without a Dutch label: every field the kind exposes must have one.
    """
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        spec = _KindFile.model_validate(raw)
        kind = ArrearsKind(
            kind=spec.kind, reference=spec.reference, feedback=spec.feedback,
            contact_columns=spec.contact_columns, labels=dict(spec.labels),
            signals=tuple(ArrearsSignal(**s.model_dump()) for s in spec.signals))
    except tomllib.TOMLDecodeError as exc:
        raise KindFileError(f"{path.name}: not valid TOML ({exc})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise KindFileError(f"{path.name}: {where}: {first['msg']}") from None
    except ValueError as exc:
        raise KindFileError(f"{path.name}: {exc}") from None
    unlabelled = sorted(set(kind.fields) - set(kind.all_labels))
    if unlabelled:
        raise KindFileError(f"{path.name}: labels: no Dutch label for {', '.join(unlabelled)}")
    return kind


def load_kind_files(directory: Path) -> list[ArrearsKind]:
    """Every ``*.toml`` partner kind in ``directory``, in name order (none if it is absent)."""
    if not directory.is_dir():
        return []
    return [load_kind_file(path) for path in sorted(directory.glob("*.toml"))]
