"""Why a regisseur sees an item, in words about the resident (issue 15, item 11).

The reason stored with an item is the resident's sentence ("Gedeeld omdat u …
toestemming gaf"); read on /werkplek it told the regisseur that *they* had
consented. This rebuilds the reason for staff from the item's recorded basis: the
consent it rests on, or the statute or safety basis of the policy. It reads
nothing the regisseur may not already know about the item.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from consent import explain
from consent.errors import ConsentNotFound
from consent.grants import get_grant
from hub.core.context import HubContext


def staff_reason(*, session: Session, ctx: HubContext, item: Any, source_name: str) -> str:
    """The sentence "Waarom u dit ziet" for staff: who or which law allowed it, never "u".

    ``item`` is an inbox item as :mod:`hub.core.reads` returns it (``basis``,
    ``basis_ref``, ``subject``, ``category``, ``type``). Always returns a sentence:
    when the recorded basis cannot be looked up (a policy changed since), a general
    one for that basis.
    """
    if item.basis == "consent":
        try:
            grant = get_grant(session=session, subject=item.subject, consent_id=item.basis_ref)
        except ConsentNotFound:
            return "De bewoner gaf toestemming dat het wijkteam dit krijgt."
        capacity = grant.capacity.value if grant.capacity is not None else None
        return explain.staff_reason_consent(granted_at=grant.granted_at, category=item.category,
                                            source_name=source_name, capacity=capacity)
    type_policy = ctx.policy.for_type(item.type)
    if item.basis == "statute":
        statute = ctx.policy.statutes.get(item.basis_ref or "")
        if statute is not None and type_policy is not None:
            return explain.staff_reason_statute(statute_title=statute.title,
                                                fields=type_policy.minimal_fields)
        return "De wet staat toe dat het wijkteam dit krijgt zonder toestemming van de bewoner."
    if item.basis == "safety":
        safety = ctx.policy.safety.get(item.basis_ref or "")
        return explain.staff_reason_safety(title=safety.title if safety else "meldrecht")
    if item.basis == "own_request":
        # The resident's own question (issue 17): the staff sentence is the stored one.
        return explain.reason_own_request()
    return "Dit is met het wijkteam gedeeld."
