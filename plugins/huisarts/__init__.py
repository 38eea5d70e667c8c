"""GP practices and their POH (GGz), over FHIR R4: referrals both ways, status back.

- A GP or POH refers a patient to the Sociaal wijkteam (``referral.gp``, category
  medisch) through the hub's FHIR endpoint (:mod:`plugins.huisarts.api`). It goes
  through the core's ingest like any message; no statute lets medical
  information through, so it is held until the resident consents.
- The Task the GP sent follows what happens (:mod:`plugins.huisarts.tasks`), and the
  practice's FHIR server is told each step (``referral.status``).
- The regisseur refers a resident to the practice's POH (``referral.poh``).

The FHIR mapping for integrators is in ``docs/huisarts-fhir.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hub.plugin import (
    HubContext,
    ItemStatusEvent,
    MessageType,
    OutboundEnvelope,
    OutboundMessage,
    OutboundRequest,
    PartnerInfo,
    hookimpl,
)
from plugins.huisarts import (
    models,  # noqa: F401  (the plugin's table, on the hub's metadata)
    status,
    tasks,
)
from plugins.huisarts.schemas import GpReferral, PohReferral, ReferralStatus

if TYPE_CHECKING:
    from fastapi import APIRouter
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

KIND = "huisarts"
_URGENCY = {"routine": "", "urgent": " (dringend)", "asap": " (zo snel mogelijk)",
            "stat": " (direct)"}


def _referral_summary(data: Mapping[str, Any]) -> str:
    # The regisseur reads this: plain Dutch.
    return "Verwijzing van de huisarts" + _URGENCY.get(str(data.get("urgency")), "")


# Dutch words for the fields of this plugin's messages (the core names the rest).
LABELS = {
    "agb": "AGB-code",
    "big": "BIG-nummer",
    "bsn": "BSN",
    "code": "code",
    "communication": "bericht",
    "display": "omschrijving",
    "identifier": "kenmerk",
    "note": "toelichting",
    "organization": "praktijk",
    "practitioner": "zorgverlener",
    "reason": "reden",
    "reason_codes": "reden (codes)",
    "reference": "verwijzing",
    "regisseur": "regisseur",
    "requester": "verwijzer",
    "role": "functie",
    "status": "stand van zaken",
    "system": "codelijst",
    "task": "taak",
    "task_id": "nummer van de taak",
    "task_identifier": "nummer van de verwijzing",
    "ura": "URA-nummer",
    "urgency": "urgentie",
    "uzi": "UZI-nummer",
    "wijk": "wijk",
}

@hookimpl
def wijkhub_message_types() -> list[MessageType]:
    """``referral.gp``: a GP practice refers a patient to the wijkteam (medical, consent only)."""
    return [
        MessageType(
            name="referral.gp",
            partner_kinds=(KIND,),
            category="medisch",
            data_model=GpReferral, labels=LABELS,
            topic="verwijzing van de huisarts",
            summary=_referral_summary,
        ),
        MessageType(
            name="referral.status",
            partner_kinds=(KIND,),
            category="medisch",
            data_model=ReferralStatus, labels=LABELS,
            topic="terugkoppeling over een verwijzing",
            inbound=False,
            outbound=True,
        ),
        MessageType(
            name="referral.poh",
            partner_kinds=(KIND,),
            category="zorg",
            data_model=PohReferral, labels=LABELS,
            topic="verwijzing naar de praktijkondersteuner",
            inbound=False,
            outbound=True,
        ),
    ]


@hookimpl
def wijkhub_routers() -> list[APIRouter]:
    """The FHIR R4 endpoint for GP systems and the regisseur's referral to the POH."""
    # Imported here: the routes load FastAPI and FHIR's models, which a command that
    # serves no HTTP skips (issue 18).
    from plugins.huisarts import api, poh

    return [api.router, poh.router]


@hookimpl
def wijkhub_item_status_changed(event: ItemStatusEvent, session: Session,
                                ctx: HubContext) -> list[OutboundMessage]:
    """For a ``referral.gp``: move the GP's Task and tell the practice (``referral.status``).

    The closing summary goes along only when the resident's consent covers sharing
    it back (:mod:`plugins.huisarts.feedback`). Other types: nothing.
    """
    if event.message_type != "referral.gp":
        return []
    now = ctx.clock()
    # A savepoint: if anything here fails, the core's own change still commits whole.
    with session.begin_nested():
        task = tasks.for_message(session=session, message_id=event.message_id)
        consents = []
        if event.status == "closed" and event.note and event.subject:
            consents = ctx.consent_cache.consents(session=session, subject=event.subject)
        answer = status.on_item_status(event, task=task, now=now, consents=consents)
    if answer:
        log.info("referral task of message %s is now %s", event.message_id,
                 answer[0].data["status"])
    return answer


@hookimpl
def wijkhub_outbound_request(envelope: OutboundEnvelope,
                             partner: PartnerInfo) -> OutboundRequest | None:
    """The FHIR transaction Bundle for a status back or a referral to the POH."""
    if partner.kind != KIND:
        return None
    if envelope.type == "referral.status":
        return status.status_request(envelope)
    if envelope.type == "referral.poh":
        from plugins.huisarts import poh

        return poh.poh_request(envelope, partner)
    return None

