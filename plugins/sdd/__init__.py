"""The Wmo desk of the Sociale Dienst (kind ``sdd``): maatwerk requests and decisions.

The regisseur files a request (``POST /api/v1/wmo/requests``); the hub delivers it
to the desk's own API and follows it: submitted → in behandeling (``wmo.status``)
→ besluit (``wmo.decision``). The decision reaches the regisseur's inbox on the
statutory basis the policy file names, and the resident sees it as their own.
``hub wmo check-terms`` flags requests whose legal term is about to run out.
See docs/wmo.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hub.plugin import MessageType, OutboundEnvelope, OutboundRequest, PartnerInfo, hookimpl
from plugins.sdd import models  # noqa: F401  (declares the plugin's table)
from plugins.sdd.config import WmoSettings
from plugins.sdd.schemas import (
    OUTCOME_WORDS,
    WmoDecision,
    WmoRequestData,
    WmoStatus,
    category_noun,
)
from plugins.sdd.service import DECISION_TYPE, KIND, REQUEST_TYPE, STATUS_TYPE, record_answer

if TYPE_CHECKING:
    import httpx


def decision_summary(data: Mapping[str, Any]) -> str:
    """"Besluit Wmo: huishoudelijke hulp toegekend" (the resident and the regisseur read it)."""
    outcome = OUTCOME_WORDS.get(data.get("outcome", ""), "genomen")
    return f"Besluit Wmo: {category_noun(data.get('product_category'))} {outcome}"


def status_summary(data: Mapping[str, Any]) -> str:
    """What a ``wmo.status`` says, in Dutch."""
    return "Wmo-aanvraag in behandeling bij de Wmo-desk"


# Dutch words for the fields of this plugin's messages (the core names the rest).
LABELS = {
    "aanvraag_date": "datum van de aanvraag",
    "amount": "hoeveelheid",
    "bsn": "BSN",
    "desk_reference": "kenmerk bij de Wmo-desk",
    "end_date": "einddatum",
    "frequency": "hoe vaak",
    "melding_date": "datum van de melding",
    "outcome": "besluit",
    "plan_ref": "kenmerk van het plan",
    "product_category": "soort voorziening",
    "product_code": "code van de voorziening",
    "product_name": "naam van de voorziening",
    "provision": "voorziening",
    "provision_name": "naam van de voorziening",
    "reason": "reden",
    "regisseur": "regisseur",
    "request_id": "nummer van de aanvraag",
    "start_date": "begindatum",
    "status": "stand van zaken",
    "unit": "eenheid",
    "urgency": "urgentie",
    "volume": "omvang",
    "wijk": "wijk",
}

@hookimpl
def wijkhub_message_types() -> list[MessageType]:
    """The request the hub sends to the desk; the desk's status and decision (beschikking)."""
    return [
        MessageType(name=REQUEST_TYPE, partner_kinds=(KIND,), category="zorg",
                    data_model=WmoRequestData, labels=LABELS, topic="uw Wmo-aanvraag",
                    staff_topic="Wmo-aanvraag van de bewoner",
                    summary=lambda data: "Wmo-aanvraag", inbound=False, outbound=True),
        MessageType(name=DECISION_TYPE, partner_kinds=(KIND,), category="zorg",
                    data_model=WmoDecision, labels=LABELS, topic="het besluit op uw Wmo-aanvraag",
                    staff_topic="besluit op een Wmo-aanvraag",
                    summary=decision_summary, resident_summary=decision_summary),
        MessageType(name=STATUS_TYPE, partner_kinds=(KIND,), category="zorg",
                    data_model=WmoStatus, labels=LABELS, topic="de behandeling van uw Wmo-aanvraag",
                    staff_topic="behandeling van een Wmo-aanvraag",
                    summary=status_summary, resident_summary=status_summary),
    ]


@hookimpl
def wijkhub_routers() -> list:
    """``/api/v1/wmo/requests``: the regisseur files and follows requests."""
    from plugins.sdd.api import router

    return [router]


def desk_receipt(response: httpx.Response) -> str | None:
    """The desk's own reference from its answer: ``reference`` (or ``id``) in a JSON body,
    else the ``Location`` header."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("reference", "desk_reference", "id"):
            if isinstance(body.get(key), str | int) and not isinstance(body.get(key), bool):
                return str(body[key])
    return response.headers.get("location")


@hookimpl
def wijkhub_outbound_request(envelope: OutboundEnvelope,
                             partner: PartnerInfo) -> OutboundRequest | None:
    """A Wmo request goes to ``<desk endpoint>/wmo/aanvragen`` as the request's own JSON
    (``HUB_WMO_REQUEST_PATH``); the desk's reference comes back as the receipt."""
    if envelope.type != REQUEST_TYPE or partner.kind != KIND:
        return None
    return OutboundRequest(method="POST", path=WmoSettings().request_path,
                           json={"message_id": envelope.id, **dict(envelope.data)},
                           receipt=desk_receipt)


@hookimpl
def wijkhub_message_received(session, ctx, message) -> None:
    """A ``wmo.status`` or ``wmo.decision`` must name a request sent to this desk about
    this resident; it then moves that request on. Other messages are not ours."""
    record_answer(session=session, ctx=ctx, message=message)


# What the resident reads in their audit trail (GET /api/v1/me/audit) about our events.
_AUDIT_TEXTS = {
    "wmo.request.created": "{staff} heeft voor u een Wmo-aanvraag gedaan bij de Wmo-desk "
                           "op {when}.",
    "wmo.request.read": "{staff} heeft uw Wmo-aanvraag bekeken op {when}.",
    "wmo.request.read.list": "{staff} heeft uw Wmo-aanvraag gezien in het overzicht op "
                             "{when}.",
    "wmo.status.received": "{desk} heeft laten weten dat uw Wmo-aanvraag in behandeling is, "
                           "op {when}.",
    "wmo.decision.received": "{desk} heeft een besluit genomen over uw Wmo-aanvraag op "
                             "{when}.",
    "wmo.term.flagged": "De hub heeft uw regisseur gewaarschuwd dat de Wmo-desk bijna te "
                        "laat is met uw Wmo-aanvraag, op {when}.",
}


@hookimpl
def wijkhub_audit_text(action, role, actor, partner_name, when) -> str | None:
    """Plain-Dutch sentences for the plugin's own audit actions."""
    text = _AUDIT_TEXTS.get(action)
    if text is None:
        return None
    # A login id means nothing to the resident (issue 15, item 12): the role only.
    staff = "Uw regisseur" if role == "regisseur" else "Een medewerker"
    return text.format(staff=staff, desk=partner_name or "De Wmo-desk", when=when)


@hookimpl
def wijkhub_cli_commands(subparsers) -> None:
    """``hub wmo check-terms``."""
    from plugins.sdd.cli import register

    register(subparsers)
