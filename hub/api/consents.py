"""Consent routes for staff and partners, and FHIR R4 Consent export and import.

- ``POST /api/v1/consents`` (regisseur): record a consent the resident gave on
  paper at the wijkinformatiepunt, for a resident of the regisseur's own wijk.
- ``GET /api/v1/me/consents/{id}/fhir`` (resident): one of my consents as FHIR.
- ``POST /api/v1/fhir/Consent`` (partner of a kind in
  ``HUB_FHIR_CONSENT_PARTNER_KINDS``, a GP system by default): a consent that
  arrives as FHIR, for the partner's own data.

The FHIR routes answer every error as an ``OperationOutcome`` in
``application/fhir+json`` naming the element path (:class:`FhirRoute`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from consent import fhir, registry
from consent.errors import ConsentError
from consent.records import GrantRecord, GrantStatus
from hub.api.deps import ContextDep, PartnerDep, RegisseurDep, ResidentDep, SessionDep
from hub.api.schemas import ConsentCreate, ConsentCreated
from hub.core import consents
from hub.core.audit import as_actor, record_event
from hub.core.bsn import validate_bsn
from hub.core.context import HubContext
from hub.core.errors import FieldProblem, HubProblem, invalid
from hub.core.households import household_of_subject
from hub.core.models import Partner, Resident
from hub.core.transport import consent_changed

FHIR_JSON = "application/fhir+json"
log = logging.getLogger(__name__)
IdPath = Annotated[str, Path(min_length=1, max_length=64)]

# HTTP status -> FHIR issue-type code, for errors raised before the FHIR mapping runs.
_ISSUE_CODE = {401: "login", 403: "forbidden", 404: "not-found", 409: "conflict",
               413: "too-costly", 415: "not-supported", 422: "invalid"}


# --- the paper consent --------------------------------------------------------------------

FormRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100,
                                           pattern=r"^[^\x00-\x1f\x7f]+$")]


class PaperProvenance(BaseModel):
    """How a paper consent came in: the form's reference (the registering professional
    is taken from the token, never from the body)."""

    model_config = ConfigDict(extra="forbid")
    method: Literal["paper"]
    form_ref: FormRef = Field(description="The reference on the signed form, e.g. WIP-2026-17.")


class PaperConsentCreate(ConsentCreate):
    """A consent given on paper: the resident's consent body, plus who and which form."""

    bsn: str = Field(min_length=1, max_length=20, description="The resident's BSN (elfproef).")
    provenance: PaperProvenance

    @field_validator("bsn")
    @classmethod
    def _valid_bsn(cls, value: str) -> str:
        return validate_bsn(value)


router = APIRouter(prefix="/api/v1", tags=["consents"])


@router.post("/consents", status_code=201, response_model=ConsentCreated)
def record_paper_consent(body: PaperConsentCreate, ctx: ContextDep, session: SessionDep,
                         regisseur: RegisseurDep) -> ConsentCreated:
    """Record a consent the resident signed on paper; their held messages are decided again.

    Only for a resident living in the regisseur's wijk. Anyone else, known to
    the hub or not, gets the same 404, so the answer reveals nothing.
    """
    subject = ctx.pseudonyms.subject(body.bsn)
    if _wijk_of(session, subject) != regisseur.wijk:
        raise HubProblem(404, "Resident not found in your wijk",
                         [FieldProblem("bsn", "no resident with this BSN lives in your wijk")])
    provenance = {"method": "paper", "form_ref": body.provenance.form_ref,
                  "recorded_by": regisseur.user, "recorded_in": regisseur.wijk}
    # Every field of the resident's own consent body goes to the registry as it would
    # from the portal, so a field added to ConsentCreate is carried here too.
    scope = body.model_dump(exclude={"bsn", "provenance"})
    try:
        grant = consents.grant(session=session, subject=subject, now=ctx.clock(),
                               provenance=provenance, **scope)
    except ConsentError as exc:
        raise invalid(exc.field, exc.reason) from None
    record_event(session, ctx=ctx, action="consent.paper", **as_actor(regisseur),
                 subject=subject, data={"consent_id": grant.id,
                                        "form_ref": body.provenance.form_ref},
                 basis="consent")
    session.commit()
    consent_changed(ctx, subject)
    ctx.work_available.set()
    return ConsentCreated(id=grant.id)


def _wijk_of(session: Session, subject: str) -> str | None:
    household = household_of_subject(session=session, subject=subject)
    return household.wijk if household is not None else None


# --- FHIR ---------------------------------------------------------------------------------


def _outcome(status: int, issues: list[fhir.Issue],
             headers: dict[str, str] | None = None) -> Response:
    return Response(_json(fhir.operation_outcome(issues)), status_code=status,
                    media_type=FHIR_JSON, headers=headers)


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


class FhirRoute(APIRoute):
    """A route whose every error, also from authentication, is an OperationOutcome."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler: problems become OperationOutcome, never problem+json."""
        handler = super().get_route_handler()

        async def fhir_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except fhir.FhirRefused as exc:
                return _outcome(422, exc.issues)
            except HubProblem as exc:
                code = _ISSUE_CODE.get(exc.status, "processing")
                issues = [fhir.Issue(p.field, p.reason, code) for p in exc.problems] or \
                    [fhir.Issue("", exc.title, code)]
                return _outcome(exc.status, issues, exc.headers)
            except RequestValidationError as exc:
                return _outcome(422, [fhir.Issue(".".join(str(p) for p in err["loc"]),
                                                 str(err["msg"]), "invalid")
                                      for err in exc.errors()])
            except OperationalError as exc:
                log.error("database unavailable: %s", type(exc.orig).__name__)
                return _outcome(503, [fhir.Issue("", "service unavailable, try again shortly",
                                                 "transient")], {"Retry-After": "5"})

        return fhir_handler


fhir_router = APIRouter(prefix="/api/v1", tags=["fhir"], route_class=FhirRoute)
_FHIR_RESPONSE = {"content": {FHIR_JSON: {"schema": {"type": "object"}}},
                  "description": "An R4 Consent"}


@fhir_router.get("/me/consents/{consent_id}/fhir", response_class=Response,
                 responses={200: _FHIR_RESPONSE})
def export_my_consent(consent_id: IdPath, ctx: ContextDep, session: SessionDep,
                      resident: ResidentDep) -> Response:
    """One of my consents as an R4 Consent; the patient is named by my Wijkhub pseudonym.

    The hub holds no BSN in clear (it stores keyed pseudonyms only), so the
    export identifies the patient in the Wijkhub subject-pseudonym system.
    """
    records = {r.id: r for r in registry.list_grants(session=session, subject=resident.subject)}
    record = records.get(consent_id)
    if record is None:
        raise HubProblem(404, "Consent not found",
                         [FieldProblem("consent_id", "no consent of yours has this id")])
    body = fhir.to_fhir_json(record, _export_context(session, record,
                                                     (fhir.SUBJECT_SYSTEM, resident.subject)))
    return Response(body, media_type=FHIR_JSON)


def _export_context(session: Session, record: GrantRecord,
                    patient: tuple[str, str]) -> fhir.ExportContext:
    names = dict(session.execute(select(Partner.id, Partner.name)
                                 .where(Partner.id.in_(sorted(record.source_partners)))).all())
    return fhir.ExportContext(patient=patient, partner_names=names)


_CONSENT_BODY = {"requestBody": {"required": True, "content": {
    FHIR_JSON: {"schema": {"type": "object", "description": "An R4 Consent"}}}}}


@fhir_router.post("/fhir/Consent", status_code=201, response_class=Response,
                  responses={201: _FHIR_RESPONSE}, openapi_extra=_CONSENT_BODY)
async def import_consent(request: Request, ctx: ContextDep, session: SessionDep,
                         partner: PartnerDep) -> Response:
    """Record a consent that arrives as FHIR R4 from a GP system, for the sender's own data.

    The patient is identified by BSN; the consent covers the sending partner
    only (a partner cannot consent on behalf of other partners' data). The
    same resource id sent again returns the consent already recorded (200).
    """
    if partner.kind not in ctx.settings.fhir_consent_kinds:
        raise HubProblem(403, "Your organisation may not record consents",
                         [FieldProblem("authorization", "this partner kind may not send "
                                       "FHIR consents")])
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in (FHIR_JSON, "application/json"):
        raise HubProblem(415, "Unsupported media type",
                         [FieldProblem("content-type", f"must be {FHIR_JSON}")])
    data = fhir.parse_json(await request.body())
    consent = fhir.parse_consent(data)
    imported = fhir.from_fhir(consent, now=ctx.clock())
    return await run_in_threadpool(_store_import, ctx, session, partner, imported)


def _store_import(ctx: HubContext, session: Session, partner: Partner,
                  imported: fhir.ImportedConsent) -> Response:
    issues = []
    foreign = sorted(imported.source_partners - {partner.id})
    if imported.source_kinds or foreign:
        issues.append(fhir.Issue("Consent.provision.actor", "a source (role CST) may only be "
                                 "the sending partner itself", "business-rule"))
    bsns = [value for system, value in imported.patient_identifiers if system == fhir.BSN_SYSTEM]
    bsn = None
    if not bsns:
        issues.append(fhir.Issue("Consent.patient.identifier.system",
                                 f"identify the patient by BSN ({fhir.BSN_SYSTEM})", "required"))
    else:
        try:
            bsn = validate_bsn(bsns[0])
        except ValueError as exc:
            issues.append(fhir.Issue("Consent.patient.identifier.value", str(exc)))
    subject = ctx.pseudonyms.subject(bsn) if bsn is not None else None
    if subject is not None and session.get(Resident, subject) is None:
        issues.append(fhir.Issue("Consent.patient.identifier", "no resident of the hub's "
                                 "wijken is known by this BSN", "not-found"))
    if issues:
        raise fhir.FhirRefused(issues)
    assert subject is not None and bsn is not None  # narrowed by the issues above

    existing = _already_imported(session, subject, partner.id, imported.source_id)
    if existing is not None:
        return _imported_response(session, existing, bsn, status=200)
    provenance = {"method": "fhir", "partner": partner.id}
    if imported.source_id:
        provenance["source_id"] = imported.source_id
    try:
        grant = consents.grant(session=session, subject=subject, now=ctx.clock(),
                               provenance=provenance, recipient=imported.recipient,
                               source_kinds=[], source_partners=[partner.id],
                               categories=sorted(imported.categories),
                               purpose=imported.purpose, valid_until=imported.valid_until)
    except ConsentError as exc:
        raise fhir.FhirRefused([fhir.Issue(f"Consent ({exc.field})", exc.reason,
                                           "business-rule")]) from None
    record_event(session, ctx=ctx, action="consent.import", actor=partner.id, role="partner",
                 subject=subject, data={"consent_id": grant.id}, basis="consent")
    session.commit()
    consent_changed(ctx, subject)
    ctx.work_available.set()
    record = next(r for r in registry.list_grants(session=session, subject=subject)
                  if r.id == grant.id)
    return _imported_response(session, record, bsn, status=201)


def _already_imported(session: Session, subject: str, partner_id: str,
                      source_id: str | None) -> GrantRecord | None:
    if not source_id:
        return None
    # Per subject: a handful of rows, on the (subject, status) index.
    for record in registry.list_grants(session=session, subject=subject):
        prov = record.provenance
        if (record.status is GrantStatus.ACTIVE and prov.get("method") == "fhir"
                and prov.get("partner") == partner_id and prov.get("source_id") == source_id):
            return record
    return None


def _imported_response(session: Session, record: GrantRecord, bsn: str, *,
                       status: int) -> Response:
    # The sender named the patient by BSN; the answer names them the same way (the
    # hub does not keep it).
    body = fhir.to_fhir_json(record, _export_context(session, record, (fhir.BSN_SYSTEM, bsn)))
    return Response(body, status_code=status, media_type=FHIR_JSON,
                    headers={"Location": f"/api/v1/fhir/Consent/{record.id}"})


def install_openapi(app: FastAPI) -> None:
    """Document the FHIR routes' errors as OperationOutcome (fhir+json), after hub.api.openapi.

    A body declared larger than the limit is refused by the body-limit
    middleware before any route runs, as problem+json; that stays documented.
    """
    build = app.openapi
    fhir_paths = {route.path for route in fhir_router.routes if isinstance(route, APIRoute)}

    def build_with_fhir() -> dict[str, Any]:
        doc = build()
        for path in fhir_paths:
            for operation in doc["paths"].get(path, {}).values():
                content = operation["responses"]["4XX"].setdefault("content", {})
                content[FHIR_JSON] = {"schema": {"type": "object",
                                                 "description": "An R4 OperationOutcome"}}
                operation["responses"]["4XX"]["description"] = (
                    "Client error: an OperationOutcome naming each element path")
        return doc

    app.openapi = build_with_fhir
