"""FHIR R4 ``Consent``: export a stored consent, and read one that a GP system sends.

Pure mapping: no database, no clock of its own, no logging, nothing of ``hub``.
The FHIR model is ``fhir.resources.R4B``: fhir.resources 8 defaults to R5, and
R4B's ``Consent`` is R4's (4.0.1) unchanged, so what we write and read is R4.

Export (:func:`to_fhir`) is table-driven: :data:`EXPORTERS` is one small
function per part of the resource, so a new field of the consent record is one
new row. Import (:func:`from_fhir`) is the reverse and refuses, with the FHIR
element path and the reason, everything the hub could not honour: a ``deny``,
a nested rule, a data category or recipient it does not know, a narrowing by
data or security label, a modifier extension. Nothing is half-read: either the
whole resource maps to a grant, or the caller gets every problem at once.

The mapping table for integrators is in ``docs/consent-fhir-and-paper.md``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from consent.model import CATEGORIES, DEFAULT_RECIPIENT
from consent.records import GrantRecord, GrantStatus

if TYPE_CHECKING:
    from fhir.resources.R4B.consent import Consent

FHIR_VERSION = "4.0.1"

# --- systems and codes ---------------------------------------------------------------------

CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
LOINC = "http://loinc.org"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
CONSENT_ACTION = "http://terminology.hl7.org/CodeSystem/consentaction"
BSN_SYSTEM = "http://fhir.nl/fhir/NamingSystem/bsn"
# The GDPR (AVG): consent as the lawful basis, art. 6(1)(a) and 9(2)(a).
GDPR_URI = "https://eur-lex.europa.eu/eli/reg/2016/679/oj"

WIJKHUB = "https://wijkhub.nl/fhir"
CATEGORY_SYSTEM = f"{WIJKHUB}/CodeSystem/data-category"
PARTNER_KIND_SYSTEM = f"{WIJKHUB}/CodeSystem/partner-kind"
PARTNER_SYSTEM = f"{WIJKHUB}/NamingSystem/partner"
RECIPIENT_SYSTEM = f"{WIJKHUB}/NamingSystem/recipient"
SUBJECT_SYSTEM = f"{WIJKHUB}/NamingSystem/subject-pseudonym"
CONSENT_ID_SYSTEM = f"{WIJKHUB}/NamingSystem/consent"
FORM_SYSTEM = f"{WIJKHUB}/NamingSystem/paper-form"
STAFF_SYSTEM = f"{WIJKHUB}/NamingSystem/staff-user"
PROVENANCE_URL = f"{WIJKHUB}/StructureDefinition/consent-provenance"
PURPOSE_TEXT_URL = f"{WIJKHUB}/StructureDefinition/consent-purpose-text"

# Dutch labels: categories are the policy file's Dutch words (consent.model.CATEGORIES).
CATEGORY_DISPLAY: Mapping[str, str] = {
    "financieel": "Geldzaken",
    "wonen": "Wonen",
    "medisch": "Medische gegevens",
    "zorg": "Zorg en ondersteuning",
    "veiligheid": "Veiligheid",
    "werk-inkomen": "Werk en inkomen",
}
RECIPIENT_DISPLAY: Mapping[str, str] = {DEFAULT_RECIPIENT: "Sociaal wijkteam"}
STATUS_TO_FHIR: Mapping[GrantStatus, str] = {
    GrantStatus.ACTIVE: "active",
    GrantStatus.REVOKED: "inactive",
    # Past its end date: no longer in force, as a revoked one (FHIR has no "expired").
    GrantStatus.EXPIRED: "inactive",
    GrantStatus.REFUSED: "rejected",
}
# Every consent today is for the wijkteam's coordination of support: v3-ActReason COC.
# C's coded purpose adds rows here; import accepts a consent naming one of them.
PURPOSES: Mapping[tuple[str, str], str] = {
    (ACT_REASON, "COC"): "coördinatie van zorg en ondersteuning door het wijkteam",
}
DEFAULT_PURPOSE = (ACT_REASON, "COC")
PURPOSE_DISPLAY: Mapping[tuple[str, str], str] = {(ACT_REASON, "COC"): "coordination of care"}
# provision.actor roles: who receives (IRCP, or PRCP) and whose data it is (CST, custodian).
RECIPIENT_ROLES = frozenset({"IRCP", "PRCP"})
SOURCE_ROLE = "CST"

# Provenance keys (the record's JSON) -> sub-extension of PROVENANCE_URL: its url, value
# type, and the identifier system when the value identifies someone. Other string keys are
# carried as valueString under their own name.
PROVENANCE_PARTS: Mapping[str, tuple[str, str, str | None]] = {
    "method": ("method", "valueCode", None),
    "form_ref": ("formRef", "valueString", None),
    "recorded_by": ("recordedBy", "valueIdentifier", STAFF_SYSTEM),
    "recorded_in": ("recordedIn", "valueString", None),
    "partner": ("partner", "valueIdentifier", PARTNER_SYSTEM),
    "source_id": ("sourceId", "valueString", None),
}

_AMSTERDAM = ZoneInfo("Europe/Amsterdam")
_MAX_TEXT = 500


# --- errors --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Issue:
    """One reason a resource was refused: where (a FHIR element path), why, and an issue code.

    ``code`` is from the FHIR issue-type value set (``invalid``, ``required``,
    ``not-supported``, ``code-invalid``, ``business-rule``).
    """

    expression: str
    diagnostics: str
    code: str = "invalid"


class FhirRefused(ValueError):
    """The resource cannot be read or honoured; ``issues`` says every reason."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__("; ".join(f"{i.expression}: {i.diagnostics}" for i in issues))


def operation_outcome(issues: list[Issue], *, severity: str = "error") -> dict[str, Any]:
    """An R4 ``OperationOutcome`` (as JSON) listing each issue with its element path."""
    out = []
    for i in issues:
        issue: dict[str, Any] = {"severity": severity, "code": i.code,
                                 "diagnostics": i.diagnostics}
        if i.expression:
            issue["expression"] = [i.expression]
        out.append(issue)
    return {"resourceType": "OperationOutcome", "issue": out}


# --- export --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportContext:
    """What the export needs besides the record: who the patient is, partners' names.

    ``patient`` is the identifier the export names the patient by (a system and
    a value); the hub never holds a BSN in clear, so its own export uses the
    subject pseudonym in :data:`SUBJECT_SYSTEM`.
    """

    patient: tuple[str, str]
    partner_names: Mapping[str, str] = field(default_factory=dict)


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _patient_reference(ctx: ExportContext) -> dict[str, Any]:
    system, value = ctx.patient
    return {"type": "Patient", "identifier": {"system": system, "value": value}}


def _export_identity(record: GrantRecord, ctx: ExportContext) -> dict[str, Any]:
    return {"id": record.id,
            "identifier": [{"system": CONSENT_ID_SYSTEM, "value": record.id}],
            "status": STATUS_TO_FHIR[record.status]}


def _export_kind(record: GrantRecord, ctx: ExportContext) -> dict[str, Any]:
    return {
        "scope": {"coding": [_coding(CONSENT_SCOPE, "patient-privacy", "Privacy Consent")]},
        "category": [{"coding": [_coding(LOINC, "59284-0", "Patient Consent")]}],
        "policyRule": {"coding": [_coding(ACT_CODE, "OPTIN", "opt-in")]},
        "policy": [{"uri": GDPR_URI}],
    }


def _export_patient(record: GrantRecord, ctx: ExportContext) -> dict[str, Any]:
    # The resident gave it (portal or on paper); a representative will be a performer too.
    return {"patient": _patient_reference(ctx), "performer": [_patient_reference(ctx)],
            "dateTime": _instant(record.granted_at)}


def _export_provenance(record: GrantRecord, ctx: ExportContext) -> dict[str, Any]:
    prov = dict(record.provenance)
    out: dict[str, Any] = {}
    form_ref = prov.get("form_ref")
    if isinstance(form_ref, str) and form_ref:
        out["sourceReference"] = {"identifier": {"system": FORM_SYSTEM, "value": form_ref},
                                  "display": "Papieren toestemmingsformulier"}
    parts = []
    for key in sorted(prov):
        value = prov[key]
        if not isinstance(value, str):
            continue
        url, value_type, system = PROVENANCE_PARTS.get(key, (key, "valueString", None))
        if system is not None:
            parts.append({"url": url, value_type: {"system": system, "value": value}})
        else:
            parts.append({"url": url, value_type: value})
    if parts:
        out["extension"] = [{"url": PROVENANCE_URL, "extension": parts}]
    return out


def _actor(role: str, system: str, value: str, display: str | None,
           type_: str | None = None) -> dict[str, Any]:
    reference: dict[str, Any] = {"identifier": {"system": system, "value": value}}
    if type_:
        reference["type"] = type_
    if display:
        reference["display"] = display
    return {"role": {"coding": [_coding(PARTICIPATION, role)]}, "reference": reference}


def _export_provision(record: GrantRecord, ctx: ExportContext) -> dict[str, Any]:
    end = record.valid_until
    if record.revoked_at is not None and (end is None or record.revoked_at < end):
        end = record.revoked_at
    period = {"start": _instant(record.valid_from)}
    if end is not None:
        period["end"] = _instant(end)
    actors = [_actor("IRCP", RECIPIENT_SYSTEM, record.recipient,
                     RECIPIENT_DISPLAY.get(record.recipient), "Organization")]
    actors += [_actor(SOURCE_ROLE, PARTNER_SYSTEM, p, ctx.partner_names.get(p), "Organization")
               for p in sorted(record.source_partners)]
    actors += [_actor(SOURCE_ROLE, PARTNER_KIND_SYSTEM, k, None)
               for k in sorted(record.source_kinds)]
    system, code = DEFAULT_PURPOSE
    return {"provision": {
        "extension": [{"url": PURPOSE_TEXT_URL, "valueString": record.purpose}],
        "type": "permit",
        "period": period,
        "actor": actors,
        "action": [{"coding": [_coding(CONSENT_ACTION, "disclose", "Disclose")]}],
        "class": [_coding(CATEGORY_SYSTEM, c, CATEGORY_DISPLAY.get(c))
                  for c in sorted(record.categories)],
        "purpose": [_coding(system, code, PURPOSE_DISPLAY.get(DEFAULT_PURPOSE))],
    }}


Exporter = Callable[[GrantRecord, ExportContext], dict[str, Any]]
# One row per part of the resource; a new record field is a new row (or a line in one).
EXPORTERS: tuple[Exporter, ...] = (
    _export_identity,
    _export_kind,
    _export_patient,
    _export_provenance,
    _export_provision,
)


def _consent_model() -> type[Consent]:
    # FHIR's models load on first use: the issues and errors of this module are used by
    # every hub process (plugins), the Consent resource only by the consent routes.
    from fhir.resources.R4B.consent import Consent

    return Consent


def to_fhir(record: GrantRecord, ctx: ExportContext) -> Consent:
    """Return the record as a validated R4 Consent (scope patient-privacy, a permit provision).

    Raises pydantic's ValidationError only if this module builds an invalid
    resource, which the tests rule out.
    """
    resource: dict[str, Any] = {"resourceType": "Consent"}
    for exporter in EXPORTERS:
        for key, value in exporter(record, ctx).items():
            if key == "extension":
                resource.setdefault("extension", []).extend(value)
            else:
                resource[key] = value
    return _consent_model().model_validate(resource)


def to_fhir_json(record: GrantRecord, ctx: ExportContext) -> str:
    """:func:`to_fhir` serialised as FHIR JSON."""
    return to_fhir(record, ctx).model_dump_json()


# --- import --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportedConsent:
    """What a FHIR Consent says, in the registry's terms; ready for ``registry.grant``.

    ``patient_identifiers`` are the (system, value) pairs of the patient
    reference: the caller resolves one to a resident (a BSN, validated there).
    ``valid_until`` is None for a consent without an end. ``source_id`` is the
    sender's own id of the resource, kept in the provenance.
    """

    patient_identifiers: tuple[tuple[str, str], ...]
    recipient: str
    source_kinds: frozenset[str]
    source_partners: frozenset[str]
    categories: frozenset[str]
    purpose: str
    valid_until: datetime | None
    source_id: str | None


def _path(loc: tuple[Any, ...]) -> str:
    out = "Consent"
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("resource_type",):
            out += ".resourceType"
        else:
            out += f".{str(part).removesuffix('_fhir')}"
    return out


def parse_consent(data: Any) -> Consent:
    """Validate JSON (already decoded) as an R4 Consent, or raise FhirRefused with paths.

    A pydantic ValidationError becomes one issue per error, each naming the
    element path (``Consent.provision.period.start``); input values are never
    repeated in the reasons.
    """
    if not isinstance(data, Mapping):
        raise FhirRefused([Issue("Consent", "must be a JSON object", "structure")])
    if data.get("resourceType") != "Consent":
        raise FhirRefused([Issue("Consent.resourceType", "must be 'Consent'", "invalid")])
    try:
        return _consent_model().model_validate(dict(data))
    except ValidationError as exc:
        issues = []
        for err in exc.errors(include_url=False, include_input=False, include_context=False):
            reason = " ".join(str(err["msg"]).removeprefix("Value error, ").split())
            code = "required" if err["type"] == "missing" else "invalid"
            issues.append(Issue(_path(tuple(err["loc"])), reason, code))
        raise FhirRefused(issues) from None
    except (TypeError, ValueError, RecursionError) as exc:
        # fhir.resources may raise plain errors for shapes pydantic never sees.
        raise FhirRefused([Issue("Consent", f"is not a valid Consent ({type(exc).__name__})",
                                 "structure")]) from None


def _codes(concept: Any) -> list[tuple[str | None, str | None]]:
    if concept is None:
        return []
    return [(c.system, c.code) for c in (concept.coding or [])]


def _end_of(value: Any, path: str, issues: list[Issue]) -> datetime | None:
    """The first instant after a FHIR date/dateTime, in UTC (a date means the whole day)."""
    return _instant_of(value, path, issues, end=True)


def _start_of(value: Any, path: str, issues: list[Issue]) -> datetime | None:
    """The first instant of a FHIR date/dateTime, in UTC."""
    return _instant_of(value, path, issues, end=False)


def _instant_of(value: Any, path: str, issues: list[Issue], *, end: bool) -> datetime | None:
    if value is None:
        return None
    try:
        if isinstance(value, datetime):
            if value.tzinfo is None or value.utcoffset() is None:
                issues.append(Issue(path, "a time must include a time zone"))
                return None
            return value.astimezone(UTC)
        if isinstance(value, date):
            day = value + timedelta(days=1) if end else value
        elif isinstance(value, str) and len(value) == 4 and value.isdigit():
            day = date(int(value) + end, 1, 1)
        elif isinstance(value, str) and len(value) == 7 and value[:4].isdigit():
            year, month = int(value[:4]), int(value[5:])
            day = date(year + month // 12, month % 12 + 1, 1) if end else date(year, month, 1)
        else:
            issues.append(Issue(path, "is not a FHIR date or dateTime"))
            return None
        # Dutch dates: "until 1 March" means until the end of that day in the Netherlands.
        return datetime.combine(day, time(), _AMSTERDAM).astimezone(UTC)
    except (ValueError, OverflowError):
        issues.append(Issue(path, "is outside the dates the hub can store"))
        return None


def _read_actors(provision: Any, issues: list[Issue]) -> tuple[set[str], set[str], set[str]]:
    recipients: set[str] = set()
    partners: set[str] = set()
    kinds: set[str] = set()
    for n, actor in enumerate(provision.actor or []):
        path = f"Consent.provision.actor[{n}]"
        roles = {code for system, code in _codes(actor.role) if system == PARTICIPATION}
        ident = actor.reference.identifier if actor.reference is not None else None
        if ident is None or not ident.system or not ident.value:
            issues.append(Issue(f"{path}.reference.identifier",
                                "identify the actor by an identifier (system and value)",
                                "required"))
            continue
        if roles & RECIPIENT_ROLES:
            if ident.system != RECIPIENT_SYSTEM or ident.value not in RECIPIENT_DISPLAY:
                issues.append(Issue(f"{path}.reference.identifier",
                                    f"unknown recipient; the hub delivers only to "
                                    f"{RECIPIENT_SYSTEM}|{DEFAULT_RECIPIENT}", "not-supported"))
            else:
                recipients.add(ident.value)
        elif SOURCE_ROLE in roles:
            if ident.system == PARTNER_SYSTEM:
                partners.add(ident.value)
            elif ident.system == PARTNER_KIND_SYSTEM:
                kinds.add(ident.value)
            else:
                issues.append(Issue(f"{path}.reference.identifier.system",
                                    f"a source is a partner ({PARTNER_SYSTEM}) or a partner "
                                    f"kind ({PARTNER_KIND_SYSTEM})", "not-supported"))
        else:
            issues.append(Issue(f"{path}.role",
                                f"role must be IRCP (recipient) or CST (source) of {PARTICIPATION}",
                                "not-supported"))
    return recipients, partners, kinds


def _extension_text(extensions: Any, url: str) -> str | None:
    for ext in extensions or []:
        if ext.url == url and isinstance(ext.valueString, str):
            return ext.valueString
    return None


def _patient_identifiers(consent: Consent) -> list[tuple[str, str]]:
    """The patient's identifiers: on the reference, or on a contained Patient it points to.

    GP systems often send ``patient.reference = "#p"`` with the Patient (and
    its BSN) contained in the Consent; a reference to a Patient elsewhere
    cannot be followed by the hub.
    """
    patient = consent.patient
    if patient is None:
        return []
    found = []
    if patient.identifier is not None:
        found.append(patient.identifier)
    reference = patient.reference or ""
    if reference.startswith("#"):
        for resource in consent.contained or []:
            if resource.get_resource_type() == "Patient" and resource.id == reference[1:]:
                found.extend(resource.identifier or [])
    return [(i.system, i.value) for i in found if i.system and i.value]


def from_fhir(consent: Consent, *, now: datetime) -> ImportedConsent:
    """Map a parsed Consent to a grant the hub can honour, or raise FhirRefused.

    Accepted: status ``active``, scope ``patient-privacy``, one ``permit``
    provision naming the recipient (role IRCP, the wijkteam), at least one
    data category (``provision.class`` in :data:`CATEGORY_SYSTEM`), a known
    purpose (v3-ActReason COC), optional sources (role CST: a partner or a
    partner kind), an optional period whose start is not later than ``now``
    and whose end is later. Everything else the hub could not honour is
    refused, with every issue at once.
    """
    issues: list[Issue] = []
    if consent.modifierExtension:
        issues.append(Issue("Consent.modifierExtension", "modifier extensions are not "
                            "understood by the hub", "not-supported"))
    if consent.status != "active":
        issues.append(Issue("Consent.status", "only an active consent can be recorded",
                            "business-rule"))
    if (CONSENT_SCOPE, "patient-privacy") not in _codes(consent.scope):
        issues.append(Issue("Consent.scope", f"must be {CONSENT_SCOPE}|patient-privacy",
                            "not-supported"))
    identifiers = _patient_identifiers(consent)
    if not identifiers:
        issues.append(Issue("Consent.patient.identifier",
                            f"identify the patient by BSN ({BSN_SYSTEM}), on the reference "
                            "or on a contained Patient", "required"))

    provision = consent.provision
    if provision is None:
        issues.append(Issue("Consent.provision", "a permit provision is required", "required"))
        raise FhirRefused(issues)
    if provision.modifierExtension:
        issues.append(Issue("Consent.provision.modifierExtension", "modifier extensions are not "
                            "understood by the hub", "not-supported"))
    if provision.type != "permit":
        issues.append(Issue("Consent.provision.type", "only a permit can be recorded; "
                            "without consent nothing is shared anyway", "not-supported"))
    for name in ("provision", "data", "dataPeriod", "securityLabel", "code"):
        if getattr(provision, name, None):
            issues.append(Issue(f"Consent.provision.{name}", "narrowing a consent this way "
                                "is not supported by the hub", "not-supported"))
    actions = _codes_list(provision.action)
    if actions and (CONSENT_ACTION, "disclose") not in actions:
        issues.append(Issue("Consent.provision.action", "must include disclose "
                            f"({CONSENT_ACTION})", "not-supported"))

    recipients, partners, kinds = _read_actors(provision, issues)
    if not recipients and not any(i.expression.startswith("Consent.provision.actor")
                                  for i in issues):
        issues.append(Issue("Consent.provision.actor", "name the recipient with role IRCP: "
                            f"{RECIPIENT_SYSTEM}|{DEFAULT_RECIPIENT}", "required"))

    categories: set[str] = set()
    for n, coding in enumerate(provision.class_fhir or []):
        if coding.system != CATEGORY_SYSTEM or coding.code not in CATEGORIES:
            issues.append(Issue(f"Consent.provision.class[{n}]", "unknown data category; "
                                f"use a code of {CATEGORY_SYSTEM}: "
                                f"{', '.join(sorted(CATEGORIES))}", "code-invalid"))
        else:
            categories.add(coding.code)
    if not provision.class_fhir:
        issues.append(Issue("Consent.provision.class", "name at least one data category "
                            f"({CATEGORY_SYSTEM})", "required"))

    known = [(c.system, c.code) for c in provision.purpose or []
             if (c.system, c.code) in PURPOSES]
    if not known:
        issues.append(Issue("Consent.provision.purpose", "name the purpose: "
                            f"{ACT_REASON}|COC (coordination of care)", "required"))
    purpose = _extension_text(provision.extension, PURPOSE_TEXT_URL)
    if purpose is None and known:
        purpose = PURPOSES[known[0]]
    if purpose is not None and not (0 < len(purpose.strip()) <= _MAX_TEXT):
        issues.append(Issue("Consent.provision.extension", f"the purpose text must have 1 to "
                            f"{_MAX_TEXT} characters"))

    valid_until = None
    if provision.period is not None:
        start = _start_of(provision.period.start, "Consent.provision.period.start", issues)
        valid_until = _end_of(provision.period.end, "Consent.provision.period.end", issues)
        if start is not None and start > now:
            issues.append(Issue("Consent.provision.period.start", "starts later; the hub "
                                "records a consent from the moment it receives it",
                                "business-rule"))
        if valid_until is not None and valid_until <= now:
            issues.append(Issue("Consent.provision.period.end", "has already passed",
                                "business-rule"))
    if issues:
        raise FhirRefused(issues)
    return ImportedConsent(
        patient_identifiers=tuple(identifiers),
        recipient=next(iter(recipients)),
        source_kinds=frozenset(kinds),
        source_partners=frozenset(partners),
        categories=frozenset(categories),
        purpose=purpose.strip() if purpose else "",
        valid_until=valid_until,
        source_id=consent.id,
    )


def _codes_list(concepts: Any) -> list[tuple[str | None, str | None]]:
    return [pair for concept in concepts or [] for pair in _codes(concept)]


def parse_json(raw: bytes | str) -> Any:
    """Decode RFC 8259 JSON (no NaN or Infinity), or raise FhirRefused naming the body."""

    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not a JSON number")

    try:
        return json.loads(raw, parse_constant=refuse)
    except (ValueError, RecursionError) as exc:
        raise FhirRefused([Issue("Consent", f"is not valid JSON ({type(exc).__name__})",
                                 "structure")]) from None
