"""One household with everything issue 13 is about, and each viewer's logged-in client.

The household of Fatima and Joost Bakri (Krispijn) holds, after :func:`build`:

- an ordinary rent-arrears signal (statute): every regisseur of the wijk sees it;
- a Veilig Thuis hand-over (``safety.report``): confidential, addressed to ``anna``,
  the designated regisseur; and anna's report back to Veilig Thuis about it;
- anna's referral of Fatima to the practice's POH (outbound, medical);
- a GP referral about Joost, **held** for his consent, and the status the hub sent
  back to the practice about it ("terugkoppeling over een verwijzing");
- a nuisance signal delivered on Fatima's consent, then **revoked**.

Viewers: ``anna`` (designated regisseur), ``piet`` (a colleague regisseur of the
wijk) and ``bram`` (the wijk's team lead), each as an API header and as a logged-in
web client (a session cookie made the way /inloggen makes it, for a named user).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field

from fastapi.testclient import TestClient

from hub.core.households import designate, household_of_subject
from hub.core.identity import issue_token
from hub.web import session as web_session
from tests.plugins.huisarts.fhirdata import FHIR_JSON, referral
from tests.utils.builders import Person, arrears, nuisance, partner, person, register, resident

WIJK = "krispijn"
VIEWERS = {"anna": "regisseur", "piet": "regisseur", "bram": "teamlead"}
# Words that reveal the confidential report, the held referral or the medical outbound.
CONFIDENTIAL_WORDS = ("Vertrouwelijk", "Veilig Thuis", "VeiligThuis", "kindermishandeling",
                      "Blauwe plekken", "Zorgen om de kinderen", "praktijkondersteuner",
                      "Somberheid")
HELD_WORDS = ("terugkoppeling over een verwijzing", "verwijzing van de huisarts", "Joost",
              "schulden en eenzaamheid")
REVOKED_WORDS = ("woonoverlast", "Geluidsoverlast")


@dataclass
class World:
    """The household, its items and outbound messages, and how each viewer reaches them."""

    household_id: str
    fatima: Person
    joost: Person
    ordinary_id: str
    confidential_id: str
    revoked_id: str
    held_message_id: str
    poh_referral_id: str
    vt_report_id: str
    status_back_ids: list[str]
    consent_id: str
    api: dict[str, dict[str, str]] = field(default_factory=dict)


def login(client: TestClient, ctx, *, user: str, role: str, wijk: str = WIJK) -> str:
    """Log ``client`` in on the screens as ``user``; returns the session's CSRF token.

    The development chooser only knows one user per role and wijk; the cookie made
    here is exactly what it would make for ``user`` (sealed and signed the same way).
    """
    token = issue_token(ctx, role=role, user=user, wijk=wijk)
    csrf = secrets.token_urlsafe(32)
    sealed = ctx.cipher.seal({"csrf": csrf, "token": token, "name": user},
                             context=web_session._CONTEXT)
    client.cookies.set(web_session.COOKIE, web_session._serializer(ctx).dumps(sealed))
    return csrf


def api_headers(ctx, user: str) -> dict[str, str]:
    """The API's Authorization header for one of :data:`VIEWERS`."""
    return {"Authorization": "Bearer " + issue_token(ctx, role=VIEWERS[user], user=user,
                                                     wijk=WIJK)}


def _sent(client, body, headers) -> str:
    answer = client.post("/api/v1/messages", json=body, headers=headers)
    assert answer.status_code == 202, answer.text
    return answer.json()["id"]


def _item_of(ctx, message_id: str) -> str | None:
    from hub.core.models import Message

    with ctx.sessions() as session:
        return session.get(Message, message_id).item_id


def build(ctx, client: TestClient, worker) -> World:
    """Make the household of the module docstring; everything delivered or held by the end."""
    from sqlalchemy import select

    from hub.core.models import OutboundMessageRow

    _, woonbron = partner(ctx, "Woonbron")
    _, veilig_thuis = partner(ctx, "Veilig Thuis", kind="veiligthuis")
    _, practice = partner(ctx, "Huisartsenpraktijk Krispijn", kind="huisarts")
    practice_id = practice_id_of(ctx, "Huisartsenpraktijk Krispijn")
    fatima = person(71, name="Fatima Bakri", huisnummer="71")
    joost = person(72, name="Joost Bakri", huisnummer="71")
    register(ctx, fatima, joost)
    with ctx.sessions() as session, session.begin():
        household = household_of_subject(session=session,
                                         subject=ctx.pseudonyms.subject(fatima.bsn))
        household_id = household.id
        designate(session=session, ctx=ctx, household=household, user="anna", actor="bram",
                  role="teamlead", now=ctx.clock())
    anna = api_headers(ctx, "anna")

    ordinary = _sent(client, arrears(fatima, ref="A-71"), woonbron)
    revoked = _sent(client, nuisance(fatima, ref="N-71"), woonbron)
    confidential = _sent(client, {
        "type": "safety.report", "source_ref": "VT-71", "subject": {"bsn": fatima.bsn},
        "occurred_at": "2026-11-20T08:00:00+00:00",
        "data": {"kind": "handover", "concern": "child_abuse", "case_ref": "VT-71",
                 "description": "Zorgen om de kinderen"}}, veilig_thuis)
    gp = client.post("/fhir/r4", content=json.dumps(referral(joost.bsn, ident="TASK-71")),
                     headers={**practice, "content-type": FHIR_JSON})
    assert gp.status_code == 200, gp.text
    worker.drain()

    # Fatima allows the nuisance signal (it is delivered on her consent) ...
    me = resident(ctx, fatima)
    [question] = client.get("/api/v1/me/requests", headers=me).json()
    approved = client.post(f"/api/v1/me/requests/{question['id']}/approve", headers=me)
    assert approved.status_code == 200, approved.text
    consent_id = approved.json()["id"]
    worker.drain()

    confidential_id = _item_of(ctx, confidential)
    poh = client.post("/api/v1/referrals/poh", headers=anna, json={
        "partner_id": practice_id, "bsn": fatima.bsn, "urgency": "urgent",
        "reason": "Somberheid na verlies van werk; graag gesprek met de POH GGz."})
    assert poh.status_code == 202, poh.text
    report = client.post("/api/v1/veiligthuis/reports", headers=anna, json={
        "ref": "M-71", "bsn": fatima.bsn, "related_item_id": confidential_id, "report": {
            "concern": "child_abuse", "description": "Blauwe plekken gezien bij de jongste",
            "acute": False, "resident_informed": False,
            "not_informed_reason": "Moeder loopt gevaar als vader het hoort",
            "reporter": {"name": "Anna", "phone": "078-1234567"}}})
    assert report.status_code == 202, report.text
    worker.drain()
    with ctx.sessions() as session:
        status_back = session.scalars(select(OutboundMessageRow.id).where(
            OutboundMessageRow.related_message_id == _message_of_gp(ctx, session))).all()
    assert status_back, "the practice was told its referral was received"
    world = World(household_id=household_id, fatima=fatima, joost=joost,
                  ordinary_id=_item_of(ctx, ordinary), confidential_id=confidential_id,
                  revoked_id=_item_of(ctx, revoked), held_message_id=_message_of_gp(ctx),
                  poh_referral_id=poh.json()["id"], vt_report_id=report.json()["id"],
                  status_back_ids=list(status_back), consent_id=consent_id)
    world.api = {user: api_headers(ctx, user) for user in VIEWERS}
    return world


def revoke(ctx, client: TestClient, world: World) -> None:
    """Fatima revokes the consent the nuisance signal was delivered on."""
    answer = client.post(f"/api/v1/me/consents/{world.consent_id}/revoke",
                         headers=resident(ctx, world.fatima))
    assert answer.status_code == 200, answer.text


def practice_id_of(ctx, name: str) -> str:
    """A partner's id by its name."""
    from sqlalchemy import select

    from hub.core.models import Partner

    with ctx.sessions() as session:
        return session.scalar(select(Partner.id).where(Partner.name == name))


def _message_of_gp(ctx, session=None) -> str:
    from sqlalchemy import select

    from hub.core.models import Message

    if session is None:
        with ctx.sessions() as own:
            return _message_of_gp(ctx, own)
    return session.scalar(select(Message.id).where(Message.type == "referral.gp"))
