"""The per-message decision and the read-time re-check: pure, cheap, no I/O.

Like HAPI FHIR's consent service, deciding is a small step per message:
no database, no clock, no logging. The caller passes the facts, the
subject's consents, the policy and the time, and records the result.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from consent import explain
from consent.model import (
    BasisKind,
    ConsentGrant,
    Decision,
    FieldSet,
    MessageFacts,
    Outcome,
    require_aware,
)
from consent.policy import Policy

__all__ = ["FieldSet", "decide", "intersect_fields"]


def decide(
    *,
    facts: MessageFacts,
    consents: Iterable[ConsentGrant],
    policy: Policy,
    now: datetime,
) -> Decision:
    """Decide whether, on which basis and with which fields a message may pass.

    Order (DESIGN.md, "Consent and legal basis"):

    1. an active consent for this recipient, source and category: deliver
       everything (basis CONSENT, no retention limit). If several match, the
       one granted first is named, so the same input gives the same record.
    2. else the type's statute, if defined and enabled: deliver only its
       minimal fields, with its retention limit (basis STATUTE).
    3. else the type's safety basis (meldrecht), if defined and enabled:
       deliver everything, as a confidential report (basis SAFETY).
    4. else hold (basis NONE): the resident is asked first.

    No match means no. A type the policy does not list has no statute, so
    only a consent can let it through (a partner plugin may bring types the
    municipality never listed); without one it is held, and the reason says
    that this kind of message always needs consent. Facts whose category
    differs from the category the policy gives the type are held whatever
    consents exist.

    The caller must pass only the consents of the message's subject; this
    function does not look at ``ConsentGrant.subject``, because the facts
    carry no personal data to compare it with.
    """
    require_aware("now", now)
    type_policy = policy.for_type(facts.type)
    if type_policy is not None and type_policy.category != facts.category:
        # The policy, not the sender, says what kind of data a type is. A
        # sender labelling rent arrears as "wonen" must not ride on a
        # consent for "wonen".
        return _hold(now, explain.reason_category_mismatch())

    grant = _first_matching(consents, facts, now)
    if grant is not None:
        return Decision(
            outcome=Outcome.DELIVER_FULL,
            basis=BasisKind.CONSENT,
            basis_ref=grant.id,
            fields=None,
            reason=explain.reason_consent(
                granted_at=grant.granted_at,
                recipient=facts.recipient,
                category=facts.category,
                source_name=facts.source_name,
            ),
            decided_at=now,
            retention_days=None,
        )

    if type_policy is None:
        return _hold(now, explain.reason_unknown_type())
    statute = policy.statute_of(type_policy)
    if statute is not None and statute.enabled:
        return Decision(
            outcome=Outcome.DELIVER_MINIMAL,
            basis=BasisKind.STATUTE,
            basis_ref=statute.key,
            fields=type_policy.minimal_fields,
            reason=explain.reason_statute(
                statute_title=statute.title, fields=type_policy.minimal_fields
            ),
            decided_at=now,
            retention_days=statute.retention_days,
        )

    safety = policy.safety_of(type_policy)
    if safety is not None and safety.enabled:
        return Decision(
            outcome=Outcome.DELIVER_FULL,
            basis=BasisKind.SAFETY,
            basis_ref=safety.key,
            fields=None,
            reason=explain.reason_safety(title=safety.title),
            decided_at=now,
            retention_days=None,
        )

    return _hold(now, explain.reason_no_basis())


def intersect_fields(delivered: tuple[str, ...] | None, current: Decision) -> FieldSet:
    """What the regisseur may see now of an item delivered with ``delivered`` fields.

    Used at read time, after re-deciding with today's consents: a held
    current decision hides the item; otherwise the visible fields are those
    delivered, cut down to what the current basis allows (None means all, so
    None with X gives X; X with Y keeps the fields in both, in X's order).
    """
    if not current.delivered:
        return FieldSet(visible=False, fields=None)
    if current.fields is None:
        return FieldSet(visible=True, fields=delivered)
    if delivered is None:
        return FieldSet(visible=True, fields=current.fields)
    allowed = set(current.fields)
    return FieldSet(visible=True, fields=tuple(f for f in delivered if f in allowed))


def _first_matching(
    consents: Iterable[ConsentGrant], facts: MessageFacts, now: datetime
) -> ConsentGrant | None:
    matching = [g for g in consents if g.is_active_at(now) and g.covers(facts)]
    if not matching:
        return None
    # Earliest grant wins; the id breaks a tie so the pick never depends on
    # the order the database happened to return rows in.
    return min(matching, key=lambda g: (g.granted_at, g.id))


def _hold(now: datetime, reason: str) -> Decision:
    # fields=() rather than None: None means "all fields", and a held
    # message must never be read as allowing everything.
    return Decision(
        outcome=Outcome.HOLD,
        basis=BasisKind.NONE,
        basis_ref=None,
        fields=(),
        reason=reason,
        decided_at=now,
        retention_days=None,
    )
