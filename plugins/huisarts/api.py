"""The hub's FHIR R4 endpoint for GP systems, under ``/fhir/r4``.

- ``GET /fhir/r4/metadata``: the CapabilityStatement (public, as FHIR expects).
- ``POST /fhir/r4``: a transaction Bundle holding one referral.
- ``POST /fhir/r4/Task``: the same referral as one Task with its Patient and
  ServiceRequest ``contained``.
- ``GET /fhir/r4/Task/{id}`` and ``GET /fhir/r4/Task?…``: the practice's own Tasks,
  so a GP system that cannot receive calls can poll.

Partners authenticate as on ``/api/v1/messages`` (API key bearer, plus any proof
they pinned); only partners of kind ``huisarts`` may use these routes. Bodies and
answers are ``application/fhir+json`` or ``application/fhir+xml`` (Content-Type
for what is sent; ``_format`` or Accept for what comes back). Every error is an
OperationOutcome with a 4xx naming the FHIRPath of the faulty element; nothing of
a refused request is stored.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from hub.plugin import (
    ContextDep,
    FhirRefused,
    FieldProblem,
    HubContext,
    HubProblem,
    IdPath,
    Issue,
    Partner,
    PartnerDep,
    SessionDep,
    accept_message,
    count_rejected,
)
from plugins.huisarts import capability, tasks
from plugins.huisarts.fhirio import (
    FHIR_JSON,
    FHIR_XML,
    UnsupportedMedia,
    media_type,
    parse_body,
    render,
    render_outcome,
    wanted_format,
)
from plugins.huisarts.referral import Referral, read_referral

KIND = "huisarts"
PREFIX = "/fhir/r4"
MAX_COUNT = 100
log = logging.getLogger(__name__)

# HTTP status -> FHIR issue-type code, for errors raised before the FHIR mapping runs.
_ISSUE_CODE = {400: "structure", 401: "login", 403: "forbidden", 404: "not-found",
               409: "conflict", 413: "too-costly", 415: "not-supported", 422: "invalid",
               429: "throttled"}
# Issues that mean the body could not even be read: 400; anything else refused is 422.
_UNREADABLE = frozenset({"structure", "security", "not-supported"})


def _answer_format(request: Request) -> str:
    default = "json"
    try:
        if request.method == "POST" and request.headers.get("content-type"):
            default = media_type(request.headers.get("content-type"))
    except UnsupportedMedia:
        pass
    return wanted_format(request.headers.get("accept"), request.query_params.get("_format"),
                         default)


def _outcome(request: Request, status: int, issues: list[Issue],
             headers: dict[str, str] | None = None) -> Response:
    body, media = render_outcome(issues, _answer_format(request))
    return Response(body, status_code=status, media_type=media, headers=headers)


class FhirR4Route(APIRoute):
    """A route whose every error, also from authentication, is an OperationOutcome."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler: every error becomes an OperationOutcome in the asked format."""
        handler = super().get_route_handler()

        async def fhir_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except FhirRefused as exc:
                codes = {i.code for i in exc.issues}
                status = 413 if "too-costly" in codes else 400 if codes & _UNREADABLE else 422
                return _outcome(request, status, exc.issues)
            except UnsupportedMedia:
                return _outcome(request, 415, [Issue("content-type", f"must be {FHIR_JSON} "
                                                     f"or {FHIR_XML}", "not-supported")])
            except HubProblem as exc:
                code = _ISSUE_CODE.get(exc.status, "processing")
                issues = [Issue(p.field, p.reason, code) for p in exc.problems] or \
                    [Issue("", exc.title, code)]
                return _outcome(request, exc.status, issues, exc.headers)
            except RequestValidationError as exc:
                return _outcome(request, 400, [Issue(".".join(str(p) for p in err["loc"]),
                                                     str(err["msg"]), "invalid")
                                               for err in exc.errors()])
            except OperationalError as exc:
                log.error("database unavailable: %s", type(exc.orig).__name__)
                return _outcome(request, 503, [Issue("", "service unavailable, try again "
                                                     "shortly", "transient")],
                                {"Retry-After": "5"})

        return fhir_handler


router = APIRouter(prefix=PREFIX, tags=["fhir-r4"], route_class=FhirR4Route)
_FHIR_CONTENT = {FHIR_JSON: {"schema": {"type": "object"}}, FHIR_XML: {"schema": {
    "type": "string"}}}


_OUTCOME_CONTENT = {FHIR_JSON: {"schema": {"type": "object",
                                           "description": "An R4 OperationOutcome"}},
                    FHIR_XML: {"schema": {"type": "string",
                                          "description": "An R4 OperationOutcome"}}}


def _doc(description: str, status: int = 200) -> dict[int | str, dict[str, Any]]:
    return {status: {"content": _FHIR_CONTENT, "description": description},
            "4XX": {"description": "Client error: an OperationOutcome naming each element's "
                                   "FHIRPath", "content": _OUTCOME_CONTENT}}


def _fhir_body(description: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {
        FHIR_JSON: {"schema": {"type": "object", "description": description}},
        FHIR_XML: {"schema": {"type": "string", "description": description}}}}}


def _respond(request: Request, resource: dict[str, Any], status: int = 200,
             headers: dict[str, str] | None = None) -> Response:
    body, media = render(resource, _answer_format(request))
    return Response(body, status_code=status, media_type=media, headers=headers)


def _huisarts(partner: Partner) -> None:
    if partner.kind != KIND:
        raise HubProblem(403, "Only a GP practice may use the FHIR endpoint", [FieldProblem(
            "authorization", f"only partners of kind {KIND!r} may use {PREFIX}")])


@router.get("/metadata", response_class=Response, responses=_doc("A CapabilityStatement"))
def metadata(request: Request, ctx: ContextDep) -> Response:
    """What this endpoint supports, exactly: resources, interactions, search parameters."""
    return _respond(request, capability.statement(now=ctx.clock()))


@router.post("", response_class=Response, responses=_doc("A transaction-response Bundle"),
             openapi_extra=_fhir_body("A transaction Bundle: Patient, ServiceRequest, Task"))
# FHIR clients join paths onto a base ending in "/": the same route, undocumented twice.
@router.post("/", response_class=Response, include_in_schema=False)
async def transaction(request: Request, ctx: ContextDep, session: SessionDep,
                      partner: PartnerDep) -> Response:
    """Accept one referral as a transaction Bundle; the same Task identifier again is 200."""
    _huisarts(partner)
    referral = await _read(request, ctx, partner, as_bundle=True)
    return await run_in_threadpool(_store, request, ctx, session, partner, referral, True)


@router.post("/Task", response_class=Response, status_code=201,
             responses={**_doc("The Task as stored", 201),
                        200: {"content": _FHIR_CONTENT, "description": "A resend: the Task "
                                                                       "already stored"}},
             openapi_extra=_fhir_body("A Task with its Patient and ServiceRequest contained"))
async def create_task(request: Request, ctx: ContextDep, session: SessionDep,
                      partner: PartnerDep) -> Response:
    """Accept one referral as a Task whose Patient and ServiceRequest are ``contained``."""
    _huisarts(partner)
    referral = await _read(request, ctx, partner, as_bundle=False)
    return await run_in_threadpool(_store, request, ctx, session, partner, referral, False)


async def _read(request: Request, ctx: HubContext, partner: Partner, *,
                as_bundle: bool) -> Referral:
    # A referral refused at the door counts as a rejected referral.gp, as on /messages.
    try:
        fmt = media_type(request.headers.get("content-type"))
        raw = await request.body()
        # Parsing and validating a body is CPU work (milliseconds, more for XML): in a
        # worker thread, never on the event loop that answers every other partner.
        return await run_in_threadpool(_parse_referral, raw, fmt, as_bundle)
    except (FhirRefused, UnsupportedMedia):
        count_rejected(ctx=ctx, partner=partner, body={"type": "referral.gp"})
        raise


def _parse_referral(raw: bytes, fmt: str, as_bundle: bool) -> Referral:
    """The referral a body holds, or FhirRefused naming the FHIRPath of the fault."""
    if as_bundle:
        return read_referral(parse_body(raw, fmt, root="Bundle"))
    bundle = _task_as_bundle(parse_body(raw, fmt, root="Task"))
    try:
        return read_referral(bundle)
    except FhirRefused as exc:
        raise FhirRefused([Issue(_as_task_path(i.expression, len(bundle["entry"])),
                                 i.diagnostics, i.code) for i in exc.issues]) from None


def _task_as_bundle(data: dict[str, Any]) -> dict[str, Any]:
    # A contained resource is referred to as "#id": give each that fullUrl, and read
    # the whole as the transaction Bundle it stands for, so one reader checks both.
    if data.get("resourceType") != "Task":
        raise FhirRefused([Issue("Task.resourceType", "must be 'Task' (a referral as a Bundle "
                                 f"goes to POST {PREFIX})", "not-supported")])
    task = dict(data)
    contained = task.pop("contained", None) or []
    if not isinstance(contained, list):
        raise FhirRefused([Issue("Task.contained", "must be a list", "structure")])
    entries = []
    for resource in contained:
        rid = resource.get("id") if isinstance(resource, dict) else None
        entries.append({"fullUrl": f"#{rid}" if rid else None, "resource": resource,
                        "request": {"method": "POST",
                                    "url": resource.get("resourceType", "")
                                    if isinstance(resource, dict) else ""}})
    entries.append({"resource": task, "request": {"method": "POST", "url": "Task"}})
    return {"resourceType": "Bundle", "type": "transaction",
            "entry": [{k: v for k, v in e.items() if v is not None} for e in entries]}


def _as_task_path(expression: str, entries: int) -> str:
    """A FHIRPath in the Bundle a Task stood for, back in the Task as sent."""
    match = re.match(r"^Bundle\.entry\[(\d+)\](?:\.resource)?", expression)
    if match is None:
        return expression.replace("Bundle.entry", "Task.contained", 1)
    index = int(match.group(1))
    where = "Task" if index == entries - 1 else f"Task.contained[{index}]"
    return where + expression[match.end():]


def _store(request: Request, ctx: HubContext, session: Session, partner: Partner,
           referral: Referral, as_bundle: bool) -> Response:
    # Known resident or not, the same answer (issue 13, item 12): a GP must not learn
    # from the hub whether a BSN lives in its wijken. A referral about someone the hub
    # does not know is stored and waits like any unmatched message (then it expires).
    body = {"type": "referral.gp", "source_ref": referral.source_ref,
            "subject": {"bsn": referral.bsn},
            "occurred_at": (referral.occurred_at or ctx.clock()).isoformat(),
            "data": referral.data}
    accepted = accept_message(session=session, ctx=ctx, partner=partner, body=body,
                              now=ctx.clock())
    requester = referral.data["requester"]
    task = tasks.create_inbound(session=session, partner_id=partner.id, message_id=accepted.id,
                                requester=requester.get("reference")
                                or requester.get("identifier"), now=ctx.clock())
    resource = tasks.to_fhir(task, identifier=referral.source_ref)
    session.commit()
    ctx.work_available.set()
    status = 201 if accepted.created else 200
    location = f"Task/{task.id}/_history/{task.version}"
    if not as_bundle:
        return _respond(request, resource, status, {"Location": f"{PREFIX}/{location}",
                                                    "ETag": f'W/"{task.version}"'})
    entries = []
    for kind, _url in referral.entries:
        if kind == "Task":
            entries.append({"response": {"status": f"{status} {_phrase(status)}",
                                         "location": location, "etag": f'W/"{task.version}"',
                                         "lastModified": resource["meta"]["lastUpdated"]}})
        elif kind == "ServiceRequest":
            entries.append({"response": {"status": f"{status} {_phrase(status)}",
                                         "location": f"ServiceRequest/"
                                                     f"{task.service_request_id}"}})
        else:
            # Read for the referral, kept only inside it (sealed), never as a resource.
            entries.append({"response": {"status": "200 OK"}})
    return _respond(request, {"resourceType": "Bundle", "type": "transaction-response",
                              "entry": entries}, 200)


def _phrase(status: int) -> str:
    return "Created" if status == 201 else "OK"


@router.get("/Task/{task_id}", response_class=Response, responses=_doc("A Task"))
def read_task(request: Request, task_id: IdPath, ctx: ContextDep, session: SessionDep,
              partner: PartnerDep) -> Response:
    """One of the practice's own Tasks as the hub holds it now (another's is 404)."""
    _huisarts(partner)
    _catch_up(ctx, session, partner)
    task = session.get(tasks.ReferralTask, task_id)
    if task is None or task.partner_id != partner.id or task.direction != "in":
        raise HubProblem(404, "Task not found",
                         [FieldProblem("Task.id", "no Task of yours has this id")])
    resource = tasks.to_fhir(task, identifier=tasks.identifier_of(session=session, ctx=ctx,
                                                                  task=task))
    return _respond(request, resource, headers={"ETag": f'W/"{task.version}"'})


@router.get("/Task", response_class=Response, responses=_doc("A searchset Bundle of Tasks"),
            openapi_extra={"parameters": capability.openapi_search_parameters(MAX_COUNT)})
def search_tasks(request: Request, ctx: ContextDep, session: SessionDep,
                 partner: PartnerDep) -> Response:
    """Search the practice's own Tasks: ``status``, ``owner``, ``requester``, ``_lastUpdated``."""
    _huisarts(partner)
    params: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        params.setdefault(name, []).append(value)
    count = MAX_COUNT
    if "_count" in params:
        raw = params["_count"][-1]
        if not raw.isdigit() or not 0 < int(raw) <= MAX_COUNT:
            raise FhirRefused([Issue("_count", f"must be a whole number from 1 to {MAX_COUNT}",
                                     "invalid")])
        count = int(raw)
    _catch_up(ctx, session, partner)
    try:
        found = tasks.search(session=session, partner_id=partner.id, params=params,
                             limit=count)
    except tasks.SearchError as exc:
        raise FhirRefused([Issue(exc.param, exc.reason, "invalid")]) from None
    page: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if len(found) < count:  # all matches are on this page: the total is known for free
        page["total"] = len(found)
    return _respond(request, {**page,
                              "entry": [{"fullUrl": f"{str(request.base_url).rstrip('/')}"
                                                    f"{PREFIX}/Task/{t.id}",
                                         "resource": tasks.to_fhir(
                                             t, identifier=tasks.identifier_of(
                                                 session=session, ctx=ctx, task=t)),
                                         "search": {"mode": "match"}} for t in found]})


def _catch_up(ctx: HubContext, session: Session, partner: Partner) -> None:
    if tasks.refresh(session=session, partner_id=partner.id, now=ctx.clock()):
        session.commit()
