"""The parts built apart, wired together: each path that changes consent or replays
work leaves its trail, and the consent fanout reaches the decision cache."""

from __future__ import annotations

from sqlalchemy import select

from hub.core.models import AuditEvent, DeadLetter, OutboxEntry
from hub.core.transport import consent_changed
from hub.core.transport.tasks import mark_dead
from tests.utils.builders import arrears, operator, partner, person, regisseur, register


def _events(ctx, action: str) -> list[AuditEvent]:
    with ctx.sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_paper_consent_is_recorded_with_the_professional_who_recorded_it(ctx, client):
    anna = person(31)
    register(ctx, anna)
    body = {"source_kinds": ["woningcorporatie"], "categories": ["wonen"],
            "purpose": "Hulp bij wonen", "bsn": anna.bsn,
            "provenance": {"method": "paper", "form_ref": "WIP-2026-17"}}
    response = client.post("/api/v1/consents", json=body,
                           headers=regisseur(ctx, "krispijn", user="fatima"))
    assert response.status_code == 201, response.text
    [event] = _events(ctx, "consent.paper")
    assert (event.actor, event.role) == ("fatima", "regisseur")
    assert event.subject == ctx.pseudonyms.subject(anna.bsn)
    assert event.data == {"consent_id": response.json()["id"], "form_ref": "WIP-2026-17"}


def test_a_dead_letter_replay_is_recorded_for_the_resident_it_concerns(ctx, client):
    anna = person(32)
    register(ctx, anna)
    _, woonbron = partner(ctx)
    message_id = client.post("/api/v1/messages", json=arrears(anna, ref="DL-1", by_bsn=True),
                             headers=woonbron).json()["id"]
    with ctx.sessions() as session, session.begin():
        entry_id = session.scalar(select(OutboxEntry.id)
                                  .where(OutboxEntry.message_id == message_id))
        mark_dead(session=session, entry_id=entry_id, source="embedded", reason="test",
                  now=ctx.clock())
    with ctx.sessions() as session:
        dead_id = session.scalar(select(DeadLetter.id))
    response = client.post(f"/api/v1/ops/dead-letters/{dead_id}/replay",
                           headers=operator(ctx, user="beheer-1"))
    assert response.status_code == 202, response.text
    [event] = _events(ctx, "dead_letter.replay")
    assert (event.actor, event.role) == ("beheer-1", "operator")
    assert event.subject == ctx.pseudonyms.subject(anna.bsn)
    assert event.data == {"dead_letter_id": dead_id, "message_id": message_id}


def test_the_consent_fanout_drops_the_cached_entry(ctx):
    anna = person(33)
    register(ctx, anna)
    subject = ctx.pseudonyms.subject(anna.bsn)
    with ctx.sessions() as session:
        ctx.consent_cache.consents(session=session, subject=subject)
    assert len(ctx.consent_cache) == 1
    consent_changed(ctx, subject)
    assert len(ctx.consent_cache) == 0
