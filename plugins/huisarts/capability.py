"""The CapabilityStatement of ``/fhir/r4``: exactly what the endpoint does, nothing more."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from plugins.huisarts.fhirio import FHIR_JSON, FHIR_XML

SEARCH_PARAMS = (
    ("status", "token", "Task status; several separated by commas (OR)"),
    ("owner", "reference", "Organization/wijkteam for referrals to the wijkteam"),
    ("requester", "reference", "the requester as sent: a reference, or system|value"),
    ("_lastUpdated", "date", "with gt, ge, lt or le; repeat for a range"),
    ("_id", "token", "the hub's Task id"),
)


def statement(*, now: datetime) -> dict[str, Any]:
    """The CapabilityStatement as R4 JSON (``date`` is when it was asked: it is generated)."""
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": now.astimezone(UTC).date().isoformat(),
        "kind": "instance",
        "software": {"name": "Wijkhub"},
        "implementation": {"description": "Wijkhub: referrals between GP practices (and their "
                                          "POH) and the Sociaal wijkteam"},
        "fhirVersion": "4.0.1",
        "format": [FHIR_JSON, FHIR_XML, "json", "xml"],
        "rest": [{
            "mode": "server",
            "documentation": "Partners of kind huisarts authenticate with their API key as a "
                             "Bearer token. A referral is a transaction Bundle (Patient with "
                             "BSN, ServiceRequest, Task; optionally Practitioner, "
                             "PractitionerRole, Organization) or a Task with those contained. "
                             "Errors are OperationOutcomes naming the FHIRPath.",
            "security": {"cors": False, "description": "API key (Bearer) per practice, plus "
                                                       "a client certificate or request "
                                                       "signature where pinned"},
            "resource": [{
                "type": "Task",
                "interaction": [{"code": "read"}, {"code": "search-type"}, {"code": "create"}],
                "versioning": "versioned",
                "readHistory": False,
                "updateCreate": False,
                "conditionalCreate": False,
                "searchParam": [{"name": n, "type": t, "documentation": d}
                                for n, t, d in SEARCH_PARAMS],
            }],
            "interaction": [{"code": "transaction",
                             "documentation": "One referral per Bundle; a resend with the "
                                              "same Task.identifier is answered, not stored "
                                              "twice"}],
        }],
    }
