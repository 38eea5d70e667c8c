"""Sharing an agreement of the household plan with a partner: the ``plan.share`` purpose.

Issue 17: an agreement assigned to a partner (a housing corporation's
"betalingsregeling") reaches that partner only on the resident's consent to
share *that agreement* with *that partner*. Modelled with the registry's own
pieces, so versions, revocation, representatives and the FHIR export work as
for any consent:

* the grant's ``purpose`` is ``plan.share`` (a grant for another purpose never
  lets an agreement through, and a ``plan.share`` grant never lets a message
  reach the wijkteam, because its recipient is a partner);
* its ``recipient`` is ``partner:<partner id>``;
* its source is the agreement: ``source_partners = {"agreement:<id>"}``.

Pure like :mod:`consent.engine`: no database, no clock, no logging.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from consent.model import (
    BasisKind,
    ConsentGrant,
    Decision,
    MessageFacts,
    Outcome,
    require_aware,
)

PLAN_SHARE_PURPOSE = "plan.share"
# The outbound message type an agreement travels as.
SHARE_TYPE = "plan.agreement"
SOURCE_KIND = "wijkteam"
SOURCE_NAME = "Uw wijkteam"


def agreement_source(agreement_id: str) -> str:
    """The source scope that names one agreement of a plan."""
    return f"agreement:{agreement_id}"


def partner_recipient(partner_id: str) -> str:
    """The recipient that names one partner organisation."""
    return f"partner:{partner_id}"


def is_share(recipient: str | None, purpose: str | None) -> bool:
    """True for a grant or request about sharing a plan agreement with a partner."""
    return purpose == PLAN_SHARE_PURPOSE and bool(recipient) and recipient.startswith("partner:")


def share_facts(*, agreement_id: str, partner_id: str, category: str) -> MessageFacts:
    """What the decision may know of sharing one agreement with one partner: no text."""
    return MessageFacts(type=SHARE_TYPE, category=category,
                        source_partner=agreement_source(agreement_id), source_kind=SOURCE_KIND,
                        source_name=SOURCE_NAME, recipient=partner_recipient(partner_id))


def decide_share(*, facts: MessageFacts, consents: Iterable[ConsentGrant], partner_name: str,
                 now: datetime) -> Decision:
    """May this agreement go to this partner now? Deliver on an active ``plan.share`` grant
    for exactly this agreement, partner and category; otherwise hold (ask the resident).

    No statute and no safety basis apply: a plan is shared on consent only. When
    several grants match, the earliest is named (the same input gives the same record).
    """
    require_aware("now", now)
    matching = [g for g in consents
                if g.purpose == PLAN_SHARE_PURPOSE and g.is_active_at(now) and g.covers(facts)]
    if not matching:
        return Decision(outcome=Outcome.HOLD, basis=BasisKind.NONE, basis_ref=None, fields=(),
                        reason=reason_no_share(partner_name=partner_name), decided_at=now,
                        retention_days=None)
    grant = min(matching, key=lambda g: (g.granted_at, g.id))
    return Decision(outcome=Outcome.DELIVER_FULL, basis=BasisKind.CONSENT, basis_ref=grant.id,
                    fields=None, reason=reason_share(partner_name=partner_name), decided_at=now,
                    retention_days=None)


# --- texts for the resident (B1 Dutch) ------------------------------------------------------

def share_topic() -> str:
    """The noun phrase for what is shared (never the agreement's own words: those are
    personal data, and a request's text is stored in clear)."""
    return "een afspraak uit uw plan"


def share_request_text(*, partner_name: str) -> str:
    """The question the resident answers before an agreement goes to a partner."""
    return (f"Uw wijkteam wil een afspraak uit uw plan delen met {partner_name}, omdat "
            f"{partner_name} in die afspraak iets voor u doet. {partner_name} ziet alleen "
            f"die afspraak, niet de rest van uw plan. Mag dat? U kunt uw toestemming altijd "
            f"weer intrekken. Daarna krijgt {partner_name} geen nieuwe informatie meer.")


def reason_share(*, partner_name: str) -> str:
    """Why an agreement went to a partner."""
    return (f"Gedeeld met {partner_name} omdat u toestemming gaf om deze afspraak uit uw "
            f"plan met {partner_name} te delen.")


def reason_no_share(*, partner_name: str) -> str:
    """Why an agreement did not (or no longer) go to a partner."""
    return (f"Niet gedeeld met {partner_name}: u heeft (nog) geen toestemming gegeven om "
            f"deze afspraak met {partner_name} te delen.")


def share_explanation(*, partner_name: str, active: bool) -> str:
    """One line about a ``plan.share`` consent in the resident's list of consents."""
    if active:
        return (f"U geeft toestemming om een afspraak uit uw plan te delen met "
                f"{partner_name}. {partner_name} ziet alleen die afspraak.")
    return (f"U gaf eerder toestemming om een afspraak uit uw plan te delen met "
            f"{partner_name}. Die toestemming geldt niet meer.")
