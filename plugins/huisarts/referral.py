"""A GP's referral as a FHIR transaction Bundle -> the data of a ``referral.gp`` message.

Pure: no database, no clock, nothing logged. :func:`read_referral` either maps
the whole Bundle or raises :class:`FhirRefused` with every problem at once, each
naming the FHIRPath of the faulty element (``Bundle.entry[1].resource.priority``).

What a referral holds (docs/huisarts-fhir.md has the full table):

- one ``Patient`` identified by BSN (``http://fhir.nl/fhir/NamingSystem/bsn``, elfproef);
- one ``ServiceRequest``: the reason (``reasonCode``), the urgency (``priority``),
  the requester, the subject (that Patient);
- one ``Task``: ``intent`` order, ``status`` requested, ``focus`` the ServiceRequest,
  ``owner`` the wijkteam, an ``identifier`` (a resend with the same one is the same
  referral);
- optionally ``Practitioner``, ``PractitionerRole`` and ``Organization`` with their
  BIG, UZI, AGB and URA numbers, which say who referred.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.plugin import FhirRefused, Issue, validate_bsn

BSN_SYSTEM = "http://fhir.nl/fhir/NamingSystem/bsn"
BIG_SYSTEM = "http://fhir.nl/fhir/NamingSystem/big"
UZI_PERSON_SYSTEM = "http://fhir.nl/fhir/NamingSystem/uzi-nr-pers"
UZI_ORG_SYSTEM = "http://fhir.nl/fhir/NamingSystem/uzi-nr-org"
AGB_SYSTEM = "http://fhir.nl/fhir/NamingSystem/agb-z"
URA_SYSTEM = "http://fhir.nl/fhir/NamingSystem/ura"
WIJKHUB = "https://wijkhub.nl/fhir"
RECIPIENT_SYSTEM = f"{WIJKHUB}/NamingSystem/recipient"
WIJKTEAM = "wijkteam"
OWNER_REFERENCE = "Organization/wijkteam"

# identifier system -> the key it gets in the referral's requester data
PROFESSIONAL_IDS: Mapping[str, str] = {BIG_SYSTEM: "big", UZI_PERSON_SYSTEM: "uzi",
                                       AGB_SYSTEM: "agb"}
ORGANIZATION_IDS: Mapping[str, str] = {URA_SYSTEM: "ura", AGB_SYSTEM: "agb",
                                       UZI_ORG_SYSTEM: "uzi"}
REQUIRED_ONCE = ("Patient", "ServiceRequest", "Task")
OPTIONAL = ("Practitioner", "PractitionerRole", "Organization")
MAX_ENTRIES = 20
PRIORITIES = ("routine", "urgent", "asap", "stat")
REQUEST_STATUSES = ("draft", "active", "on-hold", "revoked", "completed", "entered-in-error",
                    "unknown")
_DIGITS = re.compile(r"^[0-9]{1,20}$")
_MAX_TEXT = 2000


@dataclass(frozen=True)
class Referral:
    """A referral as read: the BSN (to pseudonymise at once), and the message's data.

    ``source_ref`` is the Task's identifier (``system|value``): the referral's
    idempotency key together with the sending practice.
    """

    bsn: str
    source_ref: str
    occurred_at: datetime | None  # Task.authoredOn (or the ServiceRequest's), if given
    data: dict[str, Any]
    entries: tuple[tuple[str, str | None], ...]  # (resourceType, fullUrl) per entry, in order


@dataclass
class _Entry:
    index: int
    full_url: str | None
    resource: Any

    @property
    def path(self) -> str:
        return f"Bundle.entry[{self.index}].resource"

    def names(self) -> set[str]:
        """Every way a reference inside the Bundle may point at this entry."""
        out = set()
        if self.full_url:
            out.add(self.full_url)
        if self.resource.id:
            out.add(f"{self.resource.get_resource_type()}/{self.resource.id}")
        return out


def read_referral(bundle: Any) -> Referral:
    """Read a transaction Bundle as one referral, or raise FhirRefused naming every problem."""
    entries = _entries(bundle)
    by_type: dict[str, list[_Entry]] = {}
    for entry in entries:
        by_type.setdefault(entry.resource.get_resource_type(), []).append(entry)
    issues: list[Issue] = []
    for kind in REQUIRED_ONCE:
        found = by_type.get(kind, [])
        if len(found) != 1:
            issues.append(Issue("Bundle.entry", f"must hold exactly one {kind} "
                                f"(found {len(found)})", "required" if not found else "invalid"))
    if issues:
        raise FhirRefused(issues)
    patient, request, task = (by_type[k][0] for k in REQUIRED_ONCE)
    bsn = _bsn(patient, issues)
    _check_request(request, patient, issues)
    _check_task(task, request, patient, issues)
    source_ref = _task_identifier(task, issues)
    requester = _requester(request, task, by_type, issues)
    if issues:
        raise FhirRefused(issues)
    assert bsn is not None and source_ref is not None  # narrowed by the issues above
    sr, tk = request.resource, task.resource
    data: dict[str, Any] = {
        "reason": _reason_text(sr),
        "reason_codes": [{"system": c.system, "code": c.code, "display": c.display}
                         for concept in sr.reasonCode or [] for c in concept.coding or []
                         if c.code][:10],
        "urgency": sr.priority or "routine",
        "requester": requester,
        "task_identifier": source_ref,
    }
    note = " ".join(n.text for n in (sr.note or []) + (tk.note or []) if n.text).strip()
    if note:
        data["note"] = note[:_MAX_TEXT]
    when = tk.authoredOn or sr.authoredOn
    occurred = _aware(when)
    return Referral(bsn=bsn, source_ref=source_ref, occurred_at=occurred, data=data,
                    entries=tuple((e.resource.get_resource_type(), e.full_url)
                                  for e in entries))


def _aware(value: Any) -> datetime | None:
    # authoredOn is a dateTime: a bare date (or none) leaves the time to the receiver.
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def _entries(bundle: Any) -> list[_Entry]:
    if not isinstance(bundle, Mapping):
        raise FhirRefused([Issue("Bundle", "must be a JSON object", "structure")])
    if bundle.get("resourceType") != "Bundle":
        kind = bundle.get("resourceType")
        raise FhirRefused([Issue("Bundle.resourceType", "a referral is a Bundle of type "
                                 f"transaction, not {str(kind)[:40]!r}", "not-supported")])
    if bundle.get("type") != "transaction":
        raise FhirRefused([Issue("Bundle.type", "must be 'transaction'", "invalid")])
    raw_entries = bundle.get("entry")
    if not isinstance(raw_entries, list) or not raw_entries:
        raise FhirRefused([Issue("Bundle.entry", "must be a non-empty list", "required")])
    if len(raw_entries) > MAX_ENTRIES:
        raise FhirRefused([Issue("Bundle.entry", f"at most {MAX_ENTRIES} entries",
                                 "too-costly")])
    issues: list[Issue] = []
    out: list[_Entry] = []
    for i, raw in enumerate(raw_entries):
        path = f"Bundle.entry[{i}]"
        if not isinstance(raw, Mapping):
            issues.append(Issue(path, "must be an object", "structure"))
            continue
        request = raw.get("request")
        if not isinstance(request, Mapping) or request.get("method") not in ("POST", "PUT"):
            issues.append(Issue(f"{path}.request.method", "a transaction entry needs a request "
                                "with method POST or PUT", "required"))
        full_url = raw.get("fullUrl")
        if full_url is not None and (not isinstance(full_url, str) or len(full_url) > 200):
            issues.append(Issue(f"{path}.fullUrl", "must be a URI of at most 200 characters"))
            full_url = None
        # Imported here: FHIR's models load in a second's part that the constants of this
        # module (used by the status hooks of every hub process) do not need (issue 18).
        from plugins.huisarts.fhirio import validate_resource

        try:
            resource = validate_resource(raw.get("resource"), f"{path}.resource",
                                         expected=REQUIRED_ONCE + OPTIONAL)
        except FhirRefused as exc:
            issues.extend(exc.issues)
            continue
        out.append(_Entry(i, full_url, resource))
    if issues:
        raise FhirRefused(issues)
    return out


def _bsn(patient: _Entry, issues: list[Issue]) -> str | None:
    idents = list(enumerate(patient.resource.identifier or []))
    found = [(j, ident) for j, ident in idents if ident.system == BSN_SYSTEM]
    if not found:
        issues.append(Issue(f"{patient.path}.identifier", f"identify the patient by BSN "
                            f"(system {BSN_SYSTEM})", "required"))
        return None
    j, ident = found[0]
    try:
        return validate_bsn(ident.value or "")
    except ValueError as exc:
        issues.append(Issue(f"{patient.path}.identifier[{j}].value", str(exc), "invalid"))
        return None


def _points_at(reference: Any, target: _Entry) -> bool:
    return reference is not None and reference.reference in target.names()


def _check_request(request: _Entry, patient: _Entry, issues: list[Issue]) -> None:
    sr, path = request.resource, request.path
    if sr.status not in REQUEST_STATUSES:
        issues.append(Issue(f"{path}.status", "must be a request-status code", "code-invalid"))
    if sr.intent not in ("order", "original-order", "proposal", "plan"):
        issues.append(Issue(f"{path}.intent", "must be order, original-order, proposal or plan",
                            "code-invalid"))
    if sr.priority is not None and sr.priority not in PRIORITIES:
        issues.append(Issue(f"{path}.priority", "must be one of " + ", ".join(PRIORITIES),
                            "code-invalid"))
    if not _points_at(sr.subject, patient):
        issues.append(Issue(f"{path}.subject", "must refer to the Patient in this Bundle",
                            "invalid"))
    if not _reason_text(sr):
        issues.append(Issue(f"{path}.reasonCode", "give the reason for the referral "
                            "(a text or a coding with a display)", "required"))


def _reason_text(sr: Any) -> str:
    parts = []
    for concept in sr.reasonCode or []:
        if concept.text:
            parts.append(concept.text)
        else:
            parts.extend(c.display for c in concept.coding or [] if c.display)
    return "; ".join(p.strip() for p in parts if p and p.strip())[:_MAX_TEXT]


def _check_task(task: _Entry, request: _Entry, patient: _Entry, issues: list[Issue]) -> None:
    tk, path = task.resource, task.path
    if tk.intent != "order":
        issues.append(Issue(f"{path}.intent", "must be 'order'", "code-invalid"))
    if tk.status != "requested":
        issues.append(Issue(f"{path}.status", "a new referral's Task must be 'requested'",
                            "code-invalid"))
    if not _points_at(tk.focus, request):
        issues.append(Issue(f"{path}.focus", "must refer to the ServiceRequest in this Bundle",
                            "invalid"))
    if tk.for_fhir is not None and not _points_at(tk.for_fhir, patient):
        issues.append(Issue(f"{path}.for", "must refer to the Patient in this Bundle",
                            "invalid"))
    if not is_wijkteam(tk.owner):
        issues.append(Issue(f"{path}.owner", f"must be the wijkteam: reference "
                            f"{OWNER_REFERENCE!r} or identifier {RECIPIENT_SYSTEM}|{WIJKTEAM}",
                            "required" if tk.owner is None else "invalid"))


def is_wijkteam(owner: Any) -> bool:
    """True if a Task's owner names the Sociaal wijkteam (reference or identifier)."""
    if owner is None:
        return False
    if owner.reference == OWNER_REFERENCE:
        return True
    ident = owner.identifier
    return ident is not None and ident.system == RECIPIENT_SYSTEM and ident.value == WIJKTEAM


def _task_identifier(task: _Entry, issues: list[Issue]) -> str | None:
    for j, ident in enumerate(task.resource.identifier or []):
        if ident.value:
            ref = f"{ident.system or ''}|{ident.value}"
            if len(ref) > 200 or any(ord(c) < 32 or ord(c) == 127 for c in ref):
                issues.append(Issue(f"{task.path}.identifier[{j}]", "system and value together "
                                    "at most 200 printable characters", "invalid"))
                return None
            return ref
    issues.append(Issue(f"{task.path}.identifier", "give the Task an identifier: a resend "
                        "with the same identifier is recognised and not stored twice",
                        "required"))
    return None


def _identifiers(entry: _Entry, systems: Mapping[str, str], issues: list[Issue]) -> dict:
    out: dict[str, str] = {}
    for j, ident in enumerate(entry.resource.identifier or []):
        key = systems.get(ident.system or "")
        if key is None:
            continue
        if not _DIGITS.match(ident.value or ""):
            issues.append(Issue(f"{entry.path}.identifier[{j}].value",
                                f"a {key.upper()} number is digits only", "invalid"))
            continue
        out.setdefault(key, ident.value)
    return out


def _name(resource: Any) -> str | None:
    if resource.get_resource_type() == "Organization":
        return resource.name
    for name in resource.name or []:
        if name.text:
            return name.text
        parts = [*(name.given or []), name.family or ""]
        text = " ".join(p for p in parts if p).strip()
        if text:
            return text
    return None


def _requester(request: _Entry, task: _Entry, by_type: dict[str, list[_Entry]],
               issues: list[Issue]) -> dict[str, Any]:
    """Who referred: the requester reference, resolved within the Bundle when it can be."""
    sr, tk = request.resource, task.resource
    ref = sr.requester or tk.requester
    # Task.requester is a Reference in R4B's Task; ServiceRequest.requester too.
    if ref is None:
        issues.append(Issue(f"{request.path}.requester", "say who refers (a Practitioner, "
                            "PractitionerRole or Organization)", "required"))
        return {}
    out: dict[str, Any] = {}
    if ref.reference:
        out["reference"] = ref.reference[:200]
    if ref.display:
        out["display"] = ref.display[:200]
    if ref.identifier is not None and ref.identifier.value:
        out["identifier"] = f"{ref.identifier.system or ''}|{ref.identifier.value}"[:200]
    professionals: dict[str, Any] = {}
    organization: dict[str, Any] = {}
    for entry in by_type.get("Practitioner", []):
        professionals.update(_identifiers(entry, PROFESSIONAL_IDS, issues))
        if _name(entry.resource):
            professionals.setdefault("name", _name(entry.resource)[:200])
    for entry in by_type.get("PractitionerRole", []):
        role = entry.resource
        # The role (code) or, as nl-core's example gives it, the specialism (specialty).
        for concept in [*(role.code or []), *(role.specialty or [])]:
            for coding in concept.coding or []:
                if coding.display:
                    professionals.setdefault("role", coding.display[:200])
        professionals.update({k: v for k, v in _identifiers(entry, PROFESSIONAL_IDS,
                                                             issues).items()
                              if k not in professionals})
    for entry in by_type.get("Organization", []):
        organization.update(_identifiers(entry, ORGANIZATION_IDS, issues))
        if _name(entry.resource):
            organization.setdefault("name", _name(entry.resource)[:200])
    if professionals:
        out["practitioner"] = professionals
    if organization:
        out["organization"] = organization
    if not out:
        issues.append(Issue(f"{request.path}.requester", "must name the requester by "
                            "reference, identifier or display", "required"))
    return out
