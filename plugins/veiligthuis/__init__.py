"""Veilig Thuis: safety reports to the household's designated regisseur, and back.

Inbound, ``safety.report`` (a hand-over or a request after a report about
domestic violence or child abuse) reaches the wijkteam on the policy file's
safety basis (meldrecht). Because its type has a safety basis the core treats
it as confidential: it goes to the household's *designated* regisseur only,
its content is opened only with a reason, and the policy may keep it out of
the resident's overview (see docs/veiligthuis.md). This plugin only describes
the message; the core does the addressing, auditing and withholding.

Outbound, ``safety.report.wijkteam``: the regisseur reports to Veilig Thuis
(meldcode step 5) through ``POST /api/v1/veiligthuis/reports``; the core's
outbox delivers it with retries, and Veilig Thuis' reference is the receipt.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hub.plugin import MessageType, OutboundEnvelope, OutboundRequest, PartnerInfo, hookimpl
from plugins.veiligthuis.schemas import KIND, OUTBOUND_TYPE, OutgoingReport, SafetyReport

if TYPE_CHECKING:
    from fastapi import APIRouter

_KIND_NL = {"handover": "Overdracht", "request": "Verzoek"}
_CONCERN_NL = {"domestic_violence": "huiselijk geweld", "child_abuse": "kindermishandeling",
               "elder_abuse": "ouderenmishandeling"}


def _summary(data: Mapping[str, Any]) -> str:
    # Shown only to the one who opened the report with a reason; lists show a neutral line.
    kind = _KIND_NL.get(data.get("kind", ""), "Melding")
    concern = _CONCERN_NL.get(data.get("concern", ""))
    return f"{kind} van Veilig Thuis" + (f" over {concern}" if concern else "")


# Dutch words for the fields of this plugin's messages (the core names the rest).
LABELS = {
    "acute": "acuut gevaar",
    "birthdate": "geboortedatum",
    "case_ref": "dossiernummer bij Veilig Thuis",
    "concern": "zorg",
    "description": "omschrijving",
    "kind": "soort",
    "not_informed_reason": "waarom de bewoner het niet weet",
    "person": "persoon",
    "reporter": "melder",
    "resident_informed": "bewoner weet ervan",
}

@hookimpl
def wijkhub_message_types() -> list[MessageType]:
    """``safety.report``, sent by Veilig Thuis to the household's designated regisseur;
    ``safety.report.wijkteam``, sent by the regisseur to Veilig Thuis (outbound only)."""
    return [
        MessageType(
            name="safety.report",
            partner_kinds=(KIND,),
            category="veiligheid",
            data_model=SafetyReport, labels=LABELS,
            topic="veiligheid",
            summary=_summary,
        ),
        MessageType(
            name=OUTBOUND_TYPE,
            partner_kinds=(KIND,),
            category="veiligheid",
            data_model=OutgoingReport, labels=LABELS,
            topic="veiligheid",
            inbound=False,
            outbound=True,
        ),
    ]


@hookimpl
def wijkhub_routers() -> list[APIRouter]:
    """``POST /api/v1/veiligthuis/reports`` and ``GET …/reports/{id}`` for the regisseur."""
    # Imported here: the routes load FastAPI, which a command that serves no HTTP skips.
    from plugins.veiligthuis import outbound

    return [outbound.router]


@hookimpl
def wijkhub_outbound_request(envelope: OutboundEnvelope,
                             partner: PartnerInfo) -> OutboundRequest | None:
    """A report to Veilig Thuis: POST to ``<endpoint>/meldingen``; the receipt is Veilig
    Thuis' ``reference``. None for every other type or partner kind."""
    if envelope.type != OUTBOUND_TYPE or partner.kind != KIND:
        return None
    from plugins.veiligthuis import outbound

    return outbound.request_for(envelope, partner)
