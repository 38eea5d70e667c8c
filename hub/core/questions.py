""""Ik heb een vraag": the resident's own question to their regisseur (issue 17, item 5).

The question becomes an item in the inbox of the household's wijk, addressed to
the household's designated regisseur (or to the wijk's team when there is none),
on the basis of the resident's own request (``BasisKind.OWN_REQUEST``): no
consent is needed for what the resident sends themselves. It travels as a
message of the resident channel (type ``resident.question``), stored sealed like
any message, so the inbox, the household view and the audit treat it as they
treat a partner's message. The channel is a partner row of kind ``bewoner``
without keys and inactive: no one can send as it over the API.

This module is registered as a plugin (entry point ``resident``) so that its one
message type is in the catalogue like every other, with its Dutch summary.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from consent import explain
from consent.model import BasisKind
from hub import hookimpl
from hub.core.audit import record_event
from hub.core.context import HubContext
from hub.core.errors import HubProblem
from hub.core.ids import new_uuid7
from hub.core.models import Household, InboxItem, Message, Partner, Resident
from hub.core.plan import _text

QUESTION_TYPE = "resident.question"
CHANNEL_KIND = "bewoner"
CHANNEL_NAME = "Bewoner (via Mijn)"


class Question(BaseModel):
    """The resident's question, in their own words."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=2000)

    _clean = field_validator("text")(_text)


def _summary(data: Mapping[str, Any]) -> str:
    return "Vraag van de bewoner"


@hookimpl
def wijkhub_message_types() -> list:
    """The resident's own question: never sent by a partner (not inbound over the API)."""
    from hub.core.types import MessageType

    return [MessageType(name=QUESTION_TYPE, partner_kinds=(CHANNEL_KIND,), category="zorg",
                        data_model=Question, topic="een vraag van uzelf", summary=_summary,
                        labels={"text": "de vraag"},
                        inbound=False, outbound=False,
                        resident_summary=lambda data: "Uw vraag aan het wijkteam")]


def _channel(session: Session, now: datetime) -> Partner:
    partner = session.scalar(select(Partner).where(Partner.name == CHANNEL_NAME))
    if partner is None:
        # Inactive and without keys: the row only names where the message came from.
        partner = Partner(id=str(uuid.uuid4()), name=CHANNEL_NAME, kind=CHANNEL_KIND,
                          active=False, created_at=now)
        session.add(partner)
        session.flush()
    return partner


def ask(*, session: Session, ctx: HubContext, subject: str, text: str, actor: str,
        now: datetime, representation_id: str | None = None) -> InboxItem:
    """Put the resident's question in their wijk's inbox, in the caller's transaction.

    ``subject`` is the resident the question is about (their own, or the one a
    representative acts for: checked by the caller). A resident who is not in the
    registry has no household and no wijk: 404. Audited as ``question.ask`` with ids.
    """
    resident = session.get(Resident, subject)
    if resident is None:
        raise HubProblem(404, "No household found for you")
    household = session.get(Household, resident.household_id)
    clean = Question.model_validate({"text": text}).text
    channel = _channel(session, now)
    message_id, item_id = new_uuid7(), new_uuid7()
    session.add(Message(
        id=message_id, type=QUESTION_TYPE, source_partner=channel.id, source_ref=message_id,
        subject=subject, category="zorg",
        payload_sealed=ctx.cipher.seal({"subject": {}, "data": {"text": clean}},
                                       context=f"message:{message_id}"),
        occurred_at=now, received_at=now, status="delivered", wijk=household.wijk,
        household_id=household.id, match_method="bsn", item_id=item_id))
    session.flush()
    item = InboxItem(
        id=item_id, message_id=message_id, wijk=household.wijk, household_id=household.id,
        subject=subject, triage=False, type=QUESTION_TYPE, category="zorg",
        source_partner=channel.id, basis=BasisKind.OWN_REQUEST.value, basis_ref=None,
        fields=None, reason=explain.reason_own_request(), status="new", taken_up=False,
        hidden=False, repeats=0, delivered_at=now, updated_at=now, confidential=False,
        # Marked for the household's own regisseur; the wijk's team sees it as well, so a
        # question never waits for one person's absence.
        addressed_to=household.regisseur)
    session.add(item)
    record_event(session, ctx=ctx, action="question.ask", actor=actor, role="resident",
                 subject=subject, basis=BasisKind.OWN_REQUEST.value,
                 data={"item_id": item_id, "household_id": household.id,
                       "representation_id": representation_id})
    ctx.work_available.set()
    return item
