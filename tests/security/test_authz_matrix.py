"""The authorization matrix: every endpoint of the OpenAPI document × every kind of caller.

How to add a rule (one line in RULES)::

    "METHOD /path/{param}": rule(KIND, caller=status, ...),

KIND is the credential the endpoint takes: ``"key"`` (a partner's API key),
``"token"`` (a staff or resident bearer token) or ``"none"`` (public: every
caller gets ``status``, default 200). List the callers that get anything other
than the default; the default is 401 for ``anonymous`` and for a caller whose
credential is of the other kind (a token where a key is wanted and the other way
round), and 403 for a caller with the right kind of credential but the wrong role.

Callers: ``anonymous``; ``partner`` (Woonbron) and ``other_partner`` (Trivire,
same kind); ``regisseur`` (Krispijn) and ``other_regisseur`` (Crabbehof);
``teamlead`` (Krispijn); ``operator``; ``resident`` (Anna, who lives in Krispijn,
has a consent, an open consent request and an inbox item) and ``other_resident``.
Every object in a path belongs to the first of each pair; the callers expecting
an error are called first, so a mutating call is made once, by its owner.

A path parameter not in IDS, or a body the endpoint needs that is not in
BODIES, fails the test saying so: add how to find that id / what to send.
A new endpoint without a rule fails ``test_every_endpoint_has_a_rule``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pytest

from tests.utils.builders import (
    arrears,
    nuisance,
    operator,
    partner,
    person,
    regisseur,
    register,
    resident,
    teamlead,
)

CALLERS = ("anonymous", "partner", "other_partner", "regisseur", "other_regisseur", "teamlead",
           "operator", "resident", "other_resident")
_KEY_HOLDERS = {"partner", "other_partner"}


@dataclass(frozen=True)
class Rule:
    kind: str
    expected: dict[str, int] = field(default_factory=dict)
    status: int = 200

    def status_for(self, caller: str) -> int:
        """The status ``caller`` must get."""
        if caller in self.expected:
            return self.expected[caller]
        if self.kind == "none":
            return self.status
        if caller == "anonymous" or (caller in _KEY_HOLDERS) != (self.kind == "key"):
            return 401
        return 403


def rule(kind: str, status: int = 200, **expected: int) -> Rule:
    """One row of the matrix (see the module docstring)."""
    assert kind in ("key", "token", "none"), kind
    assert set(expected) <= set(CALLERS), set(expected) - set(CALLERS)
    return Rule(kind, expected, status)


RULES: dict[str, Rule] = {
    "GET /healthz": rule("none"),
    "GET /readyz": rule("none"),
    "POST /api/v1/messages": rule("key", partner=202, other_partner=202),
    "POST /api/v1/messages/batch": rule("key", partner=202, other_partner=202),
    "GET /api/v1/batches/{batch_id}": rule("key", partner=200, other_partner=404),
    "GET /api/v1/messages/{message_id}": rule("key", partner=200, other_partner=404),
    "GET /api/v1/inbox": rule("token", regisseur=200, other_regisseur=200, teamlead=200),
    "GET /api/v1/caseload": rule("token", regisseur=200, other_regisseur=200, teamlead=200),
    "GET /api/v1/inbox/{item_id}": rule("token", regisseur=200, other_regisseur=404,
                                        teamlead=200),
    "POST /api/v1/inbox/{item_id}/take-up": rule("token", regisseur=200, other_regisseur=404),
    "POST /api/v1/inbox/{item_id}/close": rule("token", regisseur=200, other_regisseur=404),
    "POST /api/v1/inbox/{item_id}/open": rule("token", regisseur=200, other_regisseur=404,
                                              teamlead=200),
    "GET /api/v1/households/{household_id}": rule("token", regisseur=200, other_regisseur=404,
                                                  teamlead=200),
    "POST /api/v1/households/{household_id}/regisseur": rule(
        "token", regisseur=200, other_regisseur=404, teamlead=200),
    # The household plan (issue 17): the wijk's staff read it, only its regisseur writes,
    # the operator never sees it.
    "GET /api/v1/households/{household_id}/plan": rule(
        "token", regisseur=200, other_regisseur=404, teamlead=200),
    "PUT /api/v1/households/{household_id}/plan": rule(
        "token", regisseur=200, other_regisseur=404),
    "POST /api/v1/households/{household_id}/plan/agreements/{agreement_id}/state": rule(
        "token", regisseur=200, other_regisseur=404),
    # The world's item was matched, not triaged: its regisseur gets past the checks to 409.
    "POST /api/v1/inbox/{item_id}/attach": rule("token", regisseur=409, other_regisseur=404),
    "GET /api/v1/me/plan": rule("token", resident=200, other_resident=200),
    # Bob's household has no plan to answer.
    "POST /api/v1/me/plan/agree": rule("token", resident=201, other_resident=404),
    "POST /api/v1/me/plan/comment": rule("token", resident=201, other_resident=404),
    "POST /api/v1/me/plan/suggest": rule("token", resident=201, other_resident=404),
    "POST /api/v1/me/questions": rule("token", resident=201, other_resident=201),
    # No agreement was shared with either partner in this world: the same 404 as for an
    # agreement of another partner (tests/api/test_plan_sharing.py has the 201).
    "POST /api/v1/plan/progress": rule("key", partner=404, other_partner=404),
    "GET /api/v1/withholdings": rule("token", teamlead=200, operator=200),
    "GET /api/v1/outreach": rule("token", regisseur=200, other_regisseur=200, teamlead=200),
    "GET /api/v1/outreach/{case_id}": rule("token", regisseur=200, other_regisseur=404,
                                           teamlead=200),
    "POST /api/v1/outreach/{case_id}/attempts": rule("token", regisseur=201,
                                                     other_regisseur=404),
    "POST /api/v1/outreach/{case_id}/close": rule("token", regisseur=200, other_regisseur=404),
    # The matrix's hub has no NotifyNL template configured: 409 naming ``channel``.
    "POST /api/v1/outreach/{case_id}/notify": rule("token", regisseur=409,
                                                   other_regisseur=404),
    "GET /api/v1/me/outreach": rule("token", resident=200, other_resident=200),
    "POST /api/v1/withholdings/{withholding_id}/review": rule("token", teamlead=200),
    # Another wijk's regisseur names a resident who is not theirs: 422 on bsn, as for an
    # unknown BSN, so the answer does not confirm that the BSN exists.
    "POST /api/v1/veiligthuis/reports": rule("token", regisseur=202, other_regisseur=422),
    "GET /api/v1/veiligthuis/reports/{report_id}": rule("token", regisseur=200,
                                                        other_regisseur=404, teamlead=200),
    "POST /api/v1/me/consents": rule("token", resident=201, other_resident=201),
    "GET /api/v1/me/consents": rule("token", resident=200, other_resident=200),
    "POST /api/v1/me/consents/{consent_id}/revoke": rule("token", resident=200,
                                                         other_resident=404),
    "GET /api/v1/me/requests": rule("token", resident=200, other_resident=200),
    "POST /api/v1/me/requests/{request_id}/approve": rule("token", resident=200,
                                                          other_resident=404),
    "POST /api/v1/me/requests/{request_id}/deny": rule("token", resident=200,
                                                       other_resident=404),
    "GET /api/v1/me/disclosures": rule("token", resident=200, other_resident=200),
    "GET /api/v1/me/audit": rule("token", resident=200, other_resident=200),
    "GET /api/v1/me/consents/{consent_id}": rule("token", resident=200, other_resident=404),
    "PATCH /api/v1/me/consents/{consent_id}": rule("token", resident=200, other_resident=404),
    "GET /api/v1/me/consents/{consent_id}/versions": rule("token", resident=200,
                                                          other_resident=404),
    "GET /api/v1/me/data": rule("token", resident=200, other_resident=200),
    "GET /api/v1/me/representations": rule("token", resident=200, other_resident=200),
    "GET /api/v1/me/consents/{consent_id}/fhir": rule("token", resident=200,
                                                      other_resident=404),
    "POST /api/v1/consents": rule("token", regisseur=201, other_regisseur=404),
    # Only a GP system (kind huisarts) may send a FHIR consent; both partners here are
    # housing corporations, so the rule is that a known but other kind is refused.
    "POST /api/v1/fhir/Consent": rule("key", partner=403, other_partner=403),
    # The GP's FHIR endpoint: only partners of kind huisarts (both partners here are
    # housing corporations: known, but the wrong kind). The CapabilityStatement is public.
    "GET /fhir/r4/metadata": rule("none"),
    "POST /fhir/r4": rule("key", partner=403, other_partner=403),
    "POST /fhir/r4/Task": rule("key", partner=403, other_partner=403),
    "GET /fhir/r4/Task": rule("key", partner=403, other_partner=403),
    "GET /fhir/r4/Task/{task_id}": rule("key", partner=403, other_partner=403),
    "POST /api/v1/referrals/poh": rule("token", regisseur=202, other_regisseur=404),
    "GET /api/v1/referrals/poh/{referral_id}": rule("token", regisseur=200,
                                                     other_regisseur=404),
    "GET /metrics": rule("token", operator=200),
    "GET /api/v1/ops/dead-letters": rule("token", operator=200),
    "POST /api/v1/ops/dead-letters/{dead_letter_id}/replay": rule("token", operator=202),
    # The Wmo desk plugin: a regisseur files for a resident of their own wijk (Anna lives
    # in Krispijn, so Crabbehof's regisseur hears "not found"); the wijk reads along.
    "POST /api/v1/wmo/requests": rule("token", regisseur=201, other_regisseur=404),
    "GET /api/v1/wmo/requests": rule("token", regisseur=200, other_regisseur=200,
                                     teamlead=200),
    "GET /api/v1/wmo/requests/{wmo_request_id}": rule("token", regisseur=200,
                                                      other_regisseur=404, teamlead=200),
}

_CSV = ("source_ref,name,birthdate,postcode,huisnummer,bsn,amount_eur,months,since,tenancy_ref\n"
        "B-1,Bewoner 1,1980-01-01,3317AB,2,,100.00,1,2026-08-01,HC-1\n")
_CONSENT = {"source_kinds": ["woningcorporatie"], "categories": ["financieel"],
            "purpose": "Hulp bij schulden"}


def _FHIR_CONSENT(bsn: str) -> dict[str, Any]:
    return {"resourceType": "Consent", "status": "active",
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                  "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"identifier": {"system": "http://fhir.nl/fhir/NamingSystem/bsn",
                                       "value": bsn}},
            "provision": {"type": "permit"}}


# Per endpoint: keyword arguments for the request (its body), from the world.
BODIES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "POST /api/v1/messages": lambda w: {"json": arrears(w.anna, ref="M-new")},
    "POST /api/v1/messages/batch": lambda w: {"content": _CSV.encode(),
                                              "headers": {"content-type": "text/csv"}},
    "POST /api/v1/me/consents": lambda w: {"json": _CONSENT},
    "PATCH /api/v1/me/consents/{consent_id}": lambda w: {"json": {"purpose": "Hulp bij geld"}},
    "POST /api/v1/consents": lambda w: {"json": {
        **_CONSENT, "bsn": w.anna.bsn, "provenance": {"method": "paper", "form_ref": "F-1"}}},
    "POST /api/v1/fhir/Consent": lambda w: {"json": _FHIR_CONSENT(w.anna.bsn), "headers": {
        "content-type": "application/fhir+json"}},
    "POST /api/v1/wmo/requests": lambda w: {"json": w.wmo_body},
    "POST /api/v1/inbox/{item_id}/open": lambda w: {"json": {"reason": "Plan maken"}},
    "POST /api/v1/households/{household_id}/regisseur": lambda w: {"json": {"user": "anna"}},
    "POST /api/v1/withholdings/{withholding_id}/review": lambda w: {
        "json": {"decision": "extend"}},
    "POST /api/v1/veiligthuis/reports": lambda w: {"json": w.vt_report("VT-R-new")},
    "POST /api/v1/outreach/{case_id}/attempts": lambda w: {"json": {
        "kind": "phone", "result": "not_reached", "attempted_on": "2026-11-23"}},
    "POST /api/v1/outreach/{case_id}/close": lambda w: {"json": {"outcome": "not_reached"}},
    "POST /api/v1/outreach/{case_id}/notify": lambda w: {"json": {"channel": "sms",
                                                                  "phone": "0612345678"}},
}
_FHIR_REFERRAL = {"resourceType": "Bundle", "type": "transaction", "entry": []}


def _poh(w: Any) -> dict[str, Any]:
    return {"partner_id": w.practice_id, "bsn": w.anna.bsn, "reason": "Gesprek met de POH"}


BODIES.update({
    "POST /fhir/r4": lambda w: {"json": _FHIR_REFERRAL, "headers": {
        "content-type": "application/fhir+json"}},
    "POST /fhir/r4/Task": lambda w: {"json": {"resourceType": "Task"}, "headers": {
        "content-type": "application/fhir+json"}},
    "POST /api/v1/referrals/poh": lambda w: {"json": _poh(w)},
    "PUT /api/v1/households/{household_id}/plan": lambda w: {"json": w.plan_body},
    "POST /api/v1/households/{household_id}/plan/agreements/{agreement_id}/state": lambda w: {
        "json": {"state": "done"}},
    "POST /api/v1/inbox/{item_id}/attach": lambda w: {"json": {"bsn": w.anna.bsn}},
    # Anna's household has a plan before she answers it.
    "POST /api/v1/me/plan/agree": lambda w: {"json": None} if w.agreement_id else {},
    "POST /api/v1/me/plan/comment": lambda w: {"json": {"text": "Goed plan"}}
    if w.agreement_id else {},
    "POST /api/v1/me/plan/suggest": lambda w: {"json": {"text": "Liever op dinsdag"}}
    if w.agreement_id else {},
    "POST /api/v1/me/questions": lambda w: {"json": {"text": "Wanneer komt u langs?"}},
    "POST /api/v1/plan/progress": lambda w: {"json": {"agreement_id": "no-such-agreement",
                                                      "state": "done"}},
})
# Per path parameter: an id of an object of the first caller of each pair.
IDS: dict[str, Callable[[Any], str]] = {
    "message_id": lambda w: w.message_id,
    "batch_id": lambda w: w.batch_id,
    "item_id": lambda w: w.item_id,
    "consent_id": lambda w: w.consent_id,
    "request_id": lambda w: w.request_id,
    "dead_letter_id": lambda w: w.dead_letter_id,
    "wmo_request_id": lambda w: w.wmo_request_id,
    # Every caller of the matrix is refused before a Task is looked up (no GP here).
    "task_id": lambda w: "no-such-task",
    "referral_id": lambda w: w.poh_referral_id,
    "household_id": lambda w: w.household_id,
    "withholding_id": lambda w: w.withholding_id,
    "report_id": lambda w: w.report_id,
    "case_id": lambda w: w.case_id,
    "agreement_id": lambda w: w.agreement_id,
}


class World:
    """The callers' headers, and their objects, each made the first time it is asked for
    (draining the worker is the slow part: only the endpoints that need it pay for it)."""

    def __init__(self, ctx, client, worker) -> None:
        self.ctx, self.client, self.worker = ctx, client, worker
        self.anna, bob = person(1), person(2)
        register(ctx, self.anna, bob)
        _, woonbron = partner(ctx, "Woonbron")
        _, trivire = partner(ctx, "Trivire")
        self.headers = {
            "anonymous": {}, "partner": woonbron, "other_partner": trivire,
            "regisseur": regisseur(ctx, "krispijn"),
            "other_regisseur": regisseur(ctx, "crabbehof", user="chris"),
            "teamlead": teamlead(ctx, "krispijn"), "operator": operator(ctx),
            "resident": resident(ctx, self.anna), "other_resident": resident(ctx, bob)}

    def _ok(self, response) -> Any:
        assert response.status_code < 300, response.text
        return response.json()

    @cached_property
    def message_id(self) -> str:
        return self._ok(self.client.post("/api/v1/messages", json=arrears(self.anna, ref="M-1"),
                                         headers=self.headers["partner"]))["id"]

    @cached_property
    def batch_id(self) -> str:
        return self._ok(self.client.post(
            "/api/v1/messages/batch", content=_CSV.encode(),
            headers={**self.headers["partner"], "content-type": "text/csv"}))["batch_id"]

    @cached_property
    def item_id(self) -> str:
        assert self.message_id
        self.worker.drain()
        page = self._ok(self.client.get("/api/v1/inbox", headers=self.headers["regisseur"]))
        return page["items"][0]["id"]

    @cached_property
    def request_id(self) -> str:
        self._ok(self.client.post("/api/v1/messages", json=nuisance(self.anna, ref="N-1"),
                                  headers=self.headers["partner"]))
        self.worker.drain()
        return self._ok(self.client.get("/api/v1/me/requests",
                                        headers=self.headers["resident"]))[0]["id"]

    @cached_property
    def dead_letter_id(self) -> str:
        from sqlalchemy import select

        from hub.core.models import DeadLetter, OutboxEntry
        from hub.core.transport.tasks import mark_dead

        assert self.message_id
        with self.ctx.sessions() as session, session.begin():
            entry_id = session.scalar(select(OutboxEntry.id).where(
                OutboxEntry.message_id == self.message_id))
            mark_dead(session=session, entry_id=entry_id, source="embedded",
                      reason="test", now=self.ctx.clock())
        with self.ctx.sessions() as session:
            return str(session.scalar(select(DeadLetter.id)))

    @cached_property
    def wmo_body(self) -> dict[str, Any]:
        partner(self.ctx, "SDD Drechtsteden", kind="sdd")  # the Wmo desk the request goes to
        return {"bsn": self.anna.bsn, "provision": "01", "reason": "Hulp in huis nodig"}

    @cached_property
    def wmo_request_id(self) -> str:
        return self._ok(self.client.post("/api/v1/wmo/requests", json=self.wmo_body,
                                         headers=self.headers["regisseur"]))["id"]

    @cached_property
    def practice_id(self) -> str:
        return partner(self.ctx, "Huisartsenpraktijk Krispijn", kind="huisarts")[0]

    @cached_property
    def poh_referral_id(self) -> str:
        return self._ok(self.client.post("/api/v1/referrals/poh", json=_poh(self),
                                         headers=self.headers["regisseur"]))["id"]

    @cached_property
    def case_id(self) -> str:
        # Anna's outreach case, with one attempt (a case closes only after one).
        assert self.item_id
        case = self._ok(self.client.get("/api/v1/outreach",
                                        headers=self.headers["regisseur"]))["items"][0]
        self._ok(self.client.post(f"/api/v1/outreach/{case['id']}/attempts", json={
            "kind": "letter", "result": "not_reached", "attempted_on": "2026-11-23"},
            headers=self.headers["regisseur"]))
        return case["id"]

    @cached_property
    def household_id(self) -> str:
        from hub.core.models import Resident

        with self.ctx.sessions() as session:
            return session.get(Resident, self.ctx.pseudonyms.subject(self.anna.bsn)).household_id

    @property
    def plan_body(self) -> dict[str, Any]:
        return {"goals": [{"domain": "wonen", "text": "Een rustig huis"}],
                "agreements": [{"domain": "wonen", "text": "Ik ruim op", "who": "resident"}],
                "evaluation_date": "2027-03-01"}

    @cached_property
    def agreement_id(self) -> str:
        plan = self._ok(self.client.put(f"/api/v1/households/{self.household_id}/plan",
                                        json=self.plan_body, headers=self.headers["regisseur"]))
        return plan["agreements"][0]["id"]

    @cached_property
    def veilig_thuis(self) -> dict[str, str]:
        return partner(self.ctx, "Veilig Thuis", kind="veiligthuis")[1]

    def vt_report(self, ref: str) -> dict[str, Any]:
        assert self.veilig_thuis
        return {"ref": ref, "bsn": self.anna.bsn, "report": {
            "concern": "child_abuse", "description": "Zorgen", "resident_informed": True,
            "reporter": {"name": "Anna"}}}

    @cached_property
    def report_id(self) -> str:
        return self._ok(self.client.post("/api/v1/veiligthuis/reports",
                                         json=self.vt_report("VT-R-1"),
                                         headers=self.headers["regisseur"]))["id"]

    @cached_property
    def withholding_id(self) -> str:
        from sqlalchemy import select

        from hub.core.models import Withholding

        vt = self.veilig_thuis
        self._ok(self.client.post("/api/v1/messages", headers=vt, json={
            "type": "safety.report", "source_ref": "VT-1", "subject": {"bsn": self.anna.bsn},
            "occurred_at": "2026-11-20T08:00:00+00:00",
            "data": {"kind": "handover", "concern": "child_abuse", "case_ref": "VT-1",
                     "description": "Zorgen"}}))
        self.worker.drain()
        with self.ctx.sessions() as session:
            return session.scalar(select(Withholding.id))

    @cached_property
    def consent_id(self) -> str:
        return self._ok(self.client.post("/api/v1/me/consents", json=_CONSENT,
                                         headers=self.headers["resident"]))["id"]


def _world(ctx, client, worker) -> World:
    return World(ctx, client, worker)


def _operations(client) -> set[str]:
    paths = client.get("/openapi.json").json()["paths"]
    return {f"{method.upper()} {path}" for path, ops in paths.items() for method in ops}


def test_every_endpoint_has_a_rule(client):
    operations = _operations(client)
    missing = sorted(operations - set(RULES))
    stale = sorted(set(RULES) - operations)
    assert not missing, ("endpoints without a rule in tests/security/test_authz_matrix.py "
                         f"RULES (add one line each): {missing}")
    assert not stale, f"rules for endpoints that no longer exist: {stale}"


@pytest.mark.parametrize("operation", sorted(RULES))
def test_matrix(ctx, client, worker, operation):
    the_rule = RULES[operation]
    method, template = operation.split(" ", 1)
    world = _world(ctx, client, worker)
    params = re.findall(r"{(\w+)}", template)
    unknown = [p for p in params if p not in IDS]
    assert not unknown, f"add how to find an id for {unknown} to IDS"
    path = template
    for param in params:
        path = path.replace(f"{{{param}}}", IDS[param](world))
    if method in ("POST", "PUT", "PATCH"):
        assert operation in BODIES or operation.endswith(("/take-up", "/close", "/revoke",
                                                          "/approve", "/deny", "/replay")), \
            f"add what to send to {operation} to BODIES"
    body = BODIES.get(operation, lambda _w: {})(world)
    # Errors first, successes last: a mutating call is made once, by its owner.
    order = sorted(CALLERS, key=lambda c: the_rule.status_for(c) < 300)
    results = {}
    for caller in order:
        extra = dict(body)
        headers = {**world.headers[caller], **extra.pop("headers", {})}
        response = client.request(method, path, headers=headers, **extra)
        results[caller] = response.status_code
        if response.status_code >= 400:
            # FHIR routes answer errors as an OperationOutcome, every other route as a problem.
            wanted = ("application/fhir+json" if "/fhir" in template
                      else "application/problem+json")
            assert response.headers["content-type"].startswith(wanted), caller
    expected = {caller: the_rule.status_for(caller) for caller in CALLERS}
    assert results == expected, f"{operation}: got {results}"


def test_another_wijks_regisseur_sees_an_empty_inbox(ctx, client, worker):
    world = _world(ctx, client, worker)
    assert world.item_id
    own = client.get("/api/v1/inbox", headers=world.headers["regisseur"]).json()
    other = client.get("/api/v1/inbox", headers=world.headers["other_regisseur"]).json()
    lead = client.get("/api/v1/inbox", headers=world.headers["teamlead"]).json()
    assert own["total"] >= 1 and other["total"] == 0
    assert [i["id"] for i in lead["items"]] == [i["id"] for i in own["items"]]
