"""Property test: decide() agrees with the rules of DESIGN.md on random input.

The oracle below restates the rules from the design text directly, without
using ConsentGrant.is_active_at or covers, so a bug there is caught too.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from consent.engine import decide
from consent.model import CATEGORIES, BasisKind, ConsentGrant, MessageFacts, Outcome
from consent.policy import Policy, load_policy
from tests.consent.factories import T0

DEFAULT = load_policy()
POLICIES = [DEFAULT, DEFAULT.with_statute_enabled("wgs", False)]

KINDS = ["woningcorporatie", "waterbedrijf", "energie", "zorgverzekeraar", "huisarts"]
PARTNERS = ["woonbron", "havensteder", "evides", "praktijk-west"]
RECIPIENTS = ["wijkteam", "veiligthuis"]
TYPES = [*sorted(DEFAULT.types), "signal.unknown"]  # one in five unknown
CATS = sorted(CATEGORIES)

# Few distinct hours, so that boundaries (now == valid_until etc.) are hit.
times = st.integers(min_value=-6, max_value=6).map(lambda h: T0 + timedelta(hours=h))


@st.composite
def grants(draw, facts: MessageFacts) -> ConsentGrant:
    """A random grant, often (not always) aimed at ``facts`` so that matches happen."""

    def maybe_with(pool: list[str], wanted: str, max_size: int) -> frozenset[str]:
        names = draw(st.frozensets(st.sampled_from(pool), max_size=max_size))
        return names | {wanted} if draw(st.booleans()) else names

    return ConsentGrant(
        id=draw(st.sampled_from(["a", "b", "c", "d"])),
        subject="p-1",
        recipient=draw(st.sampled_from([facts.recipient, *RECIPIENTS])),
        source_kinds=maybe_with(KINDS, facts.source_kind, 2),
        source_partners=maybe_with(PARTNERS, facts.source_partner, 2),
        categories=maybe_with(CATS, facts.category, 2),
        purpose="ondersteuning door het wijkteam",
        valid_from=draw(times),
        valid_until=draw(st.none() | times),
        revoked_at=draw(st.none() | times),
        granted_at=draw(times),
    )


@st.composite
def message_facts(draw) -> MessageFacts:
    type_ = draw(st.sampled_from(TYPES))
    policy_category = DEFAULT.types[type_].category if type_ in DEFAULT.types else "wonen"
    # Mostly the category the policy gives the type; now and then any one.
    wrong = draw(st.integers(min_value=0, max_value=9)) == 0
    category = draw(st.sampled_from(CATS)) if wrong else policy_category
    return MessageFacts(
        type=type_,
        category=category,
        source_partner=draw(st.sampled_from(PARTNERS)),
        source_kind=draw(st.sampled_from(KINDS)),
        source_name="Woonbron",
        recipient=draw(st.sampled_from(RECIPIENTS)),
    )


def _lawful_consents(consents, facts: MessageFacts, now: datetime) -> list[ConsentGrant]:
    out = []
    for g in consents:
        in_time = (
            g.valid_from <= now
            and (g.valid_until is None or now < g.valid_until)
            and (g.revoked_at is None or now < g.revoked_at)
        )
        names_a_source = bool(g.source_kinds) or bool(g.source_partners)
        source_ok = (
            names_a_source
            and (not g.source_kinds or facts.source_kind in g.source_kinds)
            and (not g.source_partners or facts.source_partner in g.source_partners)
        )
        if (
            in_time
            and source_ok
            and g.recipient == facts.recipient
            and facts.category in g.categories
        ):
            out.append(g)
    return out


@settings(database=None, max_examples=400, deadline=None)
@given(data=st.data(), facts=message_facts(), now=times, policy=st.sampled_from(POLICIES))
def test_decide_follows_the_rules(data, facts, now, policy: Policy):
    consents = data.draw(st.lists(grants(facts), max_size=5), label="consents")
    decision = decide(facts=facts, consents=consents, policy=policy, now=now)
    assert decision.decided_at == now

    type_policy = policy.types.get(facts.type)
    if type_policy is not None and type_policy.category != facts.category:
        # The policy says what kind of data a type is; a mismatch never passes.
        assert decision.outcome is Outcome.HOLD
        assert decision.basis is BasisKind.NONE
        return

    lawful = _lawful_consents(consents, facts, now)
    # A type the policy does not list has no statute: consent only.
    statute_key = type_policy.statute if type_policy is not None else None
    statute = policy.statutes.get(statute_key) if statute_key else None

    safety_key = type_policy.safety if type_policy is not None else None
    safety = policy.safety.get(safety_key) if safety_key else None

    if decision.outcome is Outcome.DELIVER_FULL and decision.basis is BasisKind.SAFETY:
        # Meldrecht: only with no covering consent, an enabled safety basis, all fields.
        assert not lawful, "a covering consent must win over the safety basis"
        assert safety is not None and safety.enabled
        assert (decision.basis_ref, decision.fields) == (safety.key, None)
    elif decision.outcome is Outcome.DELIVER_FULL:
        assert lawful, "delivered in full without an active, covering consent"
        first = min(lawful, key=lambda g: (g.granted_at, g.id))
        assert decision.basis is BasisKind.CONSENT
        assert decision.basis_ref == first.id
        assert decision.fields is None
    elif decision.outcome is Outcome.DELIVER_MINIMAL:
        assert not lawful, "a covering consent must win over the statute"
        assert statute is not None and statute.enabled
        assert decision.basis is BasisKind.STATUTE
        assert decision.basis_ref == statute.key
        assert type_policy is not None
        assert decision.fields == type_policy.minimal_fields
        assert decision.retention_days == statute.retention_days
    else:
        assert decision.outcome is Outcome.HOLD
        assert not lawful, "held although a consent applies"
        assert statute is None or not statute.enabled, "held although the statute applies"
        assert safety is None or not safety.enabled, "held although the safety basis applies"
        assert decision.basis is BasisKind.NONE
        assert decision.basis_ref is None
