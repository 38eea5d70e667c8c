"""The ``plan.agreement`` message type, declared by the core for every partner kind in plans.

A partner kind takes part in household plans when its plugin names it in
``wijkhub_plan_partner_kinds``; the core then declares one ``plan.agreement``
type for all those kinds together (issue 17), so any partner kind can be given
an agreement without owning the type. Outbound only: the hub sends it, the
partner reports back with ``plan.progress``.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from consent.sharing import SHARE_TYPE
from hub.core.types import MessageType


class PlanAgreement(BaseModel):
    """What a partner receives of the plan: one agreement it does, and whom it is for."""

    model_config = ConfigDict(extra="forbid")
    agreement_id: str = Field(description="Report progress on this id (plan.progress).")
    text: str
    due: date | None = None
    state: Literal["open", "in_progress", "done", "stopped"]
    resident_name: str
    resident_birthdate: str | None = None


def plan_agreement_type(partner_kinds: tuple[str, ...]) -> MessageType:
    """The ``plan.agreement`` type that the given partner kinds may receive."""
    return MessageType(name=SHARE_TYPE, partner_kinds=partner_kinds, category="zorg",
                       data_model=PlanAgreement, topic="een afspraak uit het plan",
                       labels={"agreement_id": "nummer van de afspraak", "text": "de afspraak",
                               "due": "uiterlijk klaar op", "state": "stand van de afspraak",
                               "resident_name": "naam van de bewoner",
                               "resident_birthdate": "geboortedatum van de bewoner"},
                       summary=lambda data: "Afspraak uit het plan", inbound=False,
                       outbound=True)
