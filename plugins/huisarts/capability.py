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


def openapi_search_parameters(max_count: int) -> list[dict[str, Any]]:
    """The Task search's query parameters for the OpenAPI document: the same list the
    CapabilityStatement gives (:data:`SEARCH_PARAMS`), plus ``_count`` and ``_format``.

    FastAPI cannot see them (the route reads the query itself, to keep FHIR's repeated
    parameters and to answer an unknown one with an OperationOutcome), so they are
    declared here: integrators find them in ``/openapi.json``, and the API fuzz sends them.
    """
    repeatable = {"type": "array", "items": {"type": "string"}}
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "query", "required": False, "description": f"{kind}: {doc}",
         "schema": repeatable, "style": "form", "explode": True}
        for name, kind, doc in SEARCH_PARAMS]
    parameters.append({"name": "_count", "in": "query", "required": False,
                       "description": f"Tasks per page, 1 to {max_count}",
                       "schema": {"type": "integer", "minimum": 1, "maximum": max_count}})
    parameters.append({"name": "_format", "in": "query", "required": False,
                       "description": "json or xml (or their FHIR media types), instead of "
                                      "the Accept header",
                       "schema": {"type": "string"}})
    return parameters


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
