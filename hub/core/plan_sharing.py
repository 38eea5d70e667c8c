"""An agreement of the plan reaches the partner in it, and no one else (issue 17, item 4).

When a plan is saved, every agreement a partner does is decided on its own
(:func:`consent.sharing.decide_share`): with the resident's ``plan.share``
consent for that agreement and that partner it is sent through
:func:`hub.core.outbound.send` as ``plan.agreement`` (again only when what the
partner sees of it changed); without one, the resident gets a consent request,
merged like any other. Approving that request sends it
(:func:`release_for_subject`). A revocation stops further sends, and a send
still queued is decided again just before delivery (:func:`may_deliver`).

The partner sees only its own agreements: the message holds that agreement and
the resident's name and birth date (so the partner finds its client), never the
rest of the plan and never an address. It reports back on it with
``plan.progress`` (:func:`accept_progress`), accepted only for an agreement
delivered to it and only while the consent holds.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent import registry
from consent.sharing import (
    PLAN_SHARE_PURPOSE,
    SHARE_TYPE,
    decide_share,
    reason_no_share,
    share_facts,
    share_topic,
)
from hub.core.audit import record_event
from hub.core.context import HubContext
from hub.core.errors import HubProblem
from hub.core.models import Household, OutboundMessageRow, Partner, PlanProgress, Resident
from hub.core.outbound import ref_of, send
from hub.core.residents import resident_identity

log = logging.getLogger(__name__)


def _ref(agreement_id: str, version: int) -> str:
    return f"agreement:{agreement_id}:v{version}"


def _rows_for(session: Session, ctx: HubContext, *, partner_id: str | None,
              agreement_id: str) -> list[OutboundMessageRow]:
    """This agreement's outbound rows, newest first.

    The ref is sealed in the payload and stored only as a keyed hash (issue 13, item
    10), so the rows of the partner are opened to find the agreement's: a partner's
    agreement rows are few (one per shared version).
    """
    stmt = select(OutboundMessageRow).where(OutboundMessageRow.type == SHARE_TYPE)
    if partner_id is not None:
        stmt = stmt.where(OutboundMessageRow.partner_id == partner_id)
    prefix = f"agreement:{agreement_id}:v"
    rows = session.scalars(stmt.order_by(OutboundMessageRow.created_at.desc(),
                                         OutboundMessageRow.id.desc()))
    return [row for row in rows if ref_of(ctx, row).startswith(prefix)]


def _decision(session: Session, subject: str, agreement: dict, partner_name: str,
              now: datetime, lock: bool):
    from hub.core.plan import DOMAINS

    facts = share_facts(agreement_id=agreement["id"], partner_id=agreement["partner_id"],
                        category=DOMAINS[agreement["domain"]][1])
    if lock:
        # Serialises this decision with a grant or revocation of the same resident.
        registry.lock_subject(session=session, subject=subject)
    consents = registry.consents_for(session=session, subject=subject)
    return facts, decide_share(facts=facts, consents=consents, partner_name=partner_name,
                               now=now)


def _payload(ctx: HubContext, session: Session, subject: str, agreement: dict) -> dict:
    resident = session.get(Resident, subject)
    identity = resident_identity(ctx, resident) if resident is not None else {}
    return {"agreement_id": agreement["id"], "text": agreement["text"],
            "due": agreement.get("due"), "state": agreement["state"],
            "resident_name": identity.get("name") or "",
            "resident_birthdate": identity.get("birthdate")}


def share_agreements(*, session: Session, ctx: HubContext, household: Household, version: Any,
                     body: dict, actor: str, role: str, now: datetime) -> dict[str, str]:
    """Decide and send (or ask for) every partner agreement of this plan version.

    Returns ``{agreement id: "shared" | "unchanged" | "asked" | "refused" | "unavailable" |
    "no_resident"}`` ("unavailable": the partner was deactivated)
    ("refused": the resident said no to this question before; it is not asked again). In the
    caller's transaction: the sends and requests commit with the plan.
    """
    outcome: dict[str, str] = {}
    subject = version.subject
    for agreement in body["agreements"]:
        if agreement["who"] != "partner":
            continue
        if subject is None:
            outcome[agreement["id"]] = "no_resident"
            continue
        partner = session.get(Partner, agreement["partner_id"])
        mt = ctx.plugins.catalog.type(SHARE_TYPE)
        if partner is None or not partner.active or mt is None \
                or partner.kind not in mt.partner_kinds:
            # Deactivated since the plan was saved: nothing to send, and a resident's "yes"
            # must not fail on it.
            outcome[agreement["id"]] = "unavailable"
            continue
        facts, decision = _decision(session, subject, agreement, partner.name, now, lock=True)
        if not decision.delivered:
            if registry.answered_no(session=session, subject=subject, facts=facts):
                # The resident said no to exactly this: asking at every save would nag.
                outcome[agreement["id"]] = "refused"
                continue
            registry.open_request(session=session, subject=subject, facts=facts,
                                  topic=share_topic(), now=now, purpose=PLAN_SHARE_PURPOSE,
                                  recipient_name=partner.name)
            outcome[agreement["id"]] = "asked"
            continue
        data = _payload(ctx, session, subject, agreement)
        last = next(iter(_rows_for(session, ctx, partner_id=partner.id,
                                   agreement_id=agreement["id"])), None)
        if last is not None and last.status != "withheld" and _opened(ctx, last) == data:
            outcome[agreement["id"]] = "unchanged"
            continue
        send(session, ctx=ctx, partner_id=partner.id, message_type=SHARE_TYPE, data=data,
             ref=_ref(agreement["id"], version.version), actor=actor, role=role, now=now,
             subject=subject, household_id=household.id)
        outcome[agreement["id"]] = "shared"
    return outcome


def _opened(ctx: HubContext, row: OutboundMessageRow) -> dict:
    return ctx.cipher.open(row.payload_sealed, context=f"outbound:{row.id}")["data"]


def release_for_subject(*, session: Session, ctx: HubContext, subject: str,
                        now: datetime) -> int:
    """After a consent of ``subject`` was granted: share what it now allows; returns how many.

    Looks at the current plan of the resident's household only.
    """
    from hub.core.plan import current_version, open_body

    resident = session.get(Resident, subject)
    if resident is None:
        return 0
    row = current_version(session=session, household_id=resident.household_id)
    if row is None or row.subject != subject:
        return 0
    household = session.get(Household, resident.household_id)
    done = share_agreements(session=session, ctx=ctx, household=household, version=row,
                            body=open_body(ctx, row), actor="hub", role="system", now=now)
    return sum(1 for v in done.values() if v == "shared")


def may_deliver(*, session: Session, ctx: HubContext, row: OutboundMessageRow,
                now: datetime) -> bool:
    """Decide a queued ``plan.agreement`` again just before it goes out.

    False (and the row is marked ``withheld``) when the consent was revoked or has
    ended, or the agreement is no longer the partner's in the current plan.
    """
    from hub.core.plan import current_version, open_body

    ref = ref_of(ctx, row)
    agreement_id = ref.split(":")[1] if ref.count(":") == 2 else None
    current = (current_version(session=session, household_id=row.household_id)
               if row.household_id else None)
    agreement = None
    if current is not None and current.subject == row.subject and agreement_id:
        agreement = next((a for a in open_body(ctx, current)["agreements"]
                          if a["id"] == agreement_id and a.get("partner_id") == row.partner_id),
                         None)
    allowed = False
    if agreement is not None and row.subject is not None:
        partner = session.get(Partner, row.partner_id)
        _facts, decision = _decision(session, row.subject, agreement, partner.name, now,
                                     lock=False)
        allowed = decision.delivered
    if not allowed:
        row.status, row.updated_at = "withheld", now
        log.info("outbound message %s withheld: no consent to share it any more", row.id)
    return allowed


def share_state(*, session: Session, household_id: str, subject: str | None, agreement: dict,
                partner_name: str, now: datetime) -> dict[str, str]:
    """Where sharing one partner agreement stands, for the plan's screens.

    ``status``: shared (the consent to share it holds now) or not_shared (no consent
    yet, refused or revoked); ``reason`` in Dutch.
    """
    if subject is None:
        return {"status": "not_shared", "reason": reason_no_share(partner_name=partner_name)}
    _facts, decision = _decision(session, subject, agreement, partner_name, now, lock=False)
    if decision.delivered:
        return {"status": "shared", "reason": decision.reason}
    return {"status": "not_shared", "reason": decision.reason}


def accept_progress(*, session: Session, ctx: HubContext, partner: Partner, agreement_id: str,
                    state: str, note: str | None, now: datetime) -> PlanProgress:
    """A partner reports on an agreement it received; stored sealed and audited.

    Only for an agreement delivered to this partner, and only while the resident's
    consent to share it holds: anything else is the same 404 (a partner learns
    nothing about agreements that are not its own).
    """
    from hub.core.plan import current_version, open_body

    row = next((r for r in _rows_for(session, ctx, partner_id=partner.id, agreement_id=agreement_id)
                if r.status == "delivered"), None)
    agreement = None
    if row is not None and row.household_id is not None:
        current = current_version(session=session, household_id=row.household_id)
        if current is not None and current.subject == row.subject:
            agreement = next((a for a in open_body(ctx, current)["agreements"]
                              if a["id"] == agreement_id
                              and a.get("partner_id") == partner.id), None)
    if agreement is not None:
        _facts, decision = _decision(session, row.subject, agreement, partner.name, now,
                                     lock=True)
        if not decision.delivered:
            agreement = None
    if agreement is None:
        raise HubProblem(404, "Agreement not found")
    progress_id = str(uuid.uuid4())
    progress = PlanProgress(
        id=progress_id, household_id=row.household_id, agreement_id=agreement_id,
        partner_id=partner.id, state=state, created_at=now,
        note_sealed=(ctx.cipher.seal(note, context=f"plan-progress:{progress_id}")
                     if note else None))
    session.add(progress)
    record_event(session, ctx=ctx, action="plan.progress", actor=partner.id, role="partner",
                 subject=row.subject, data={"household_id": row.household_id,
                                            "agreement_id": agreement_id, "state": state,
                                            "progress_id": progress_id})
    return progress
