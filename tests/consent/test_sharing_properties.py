"""Property tests for sharing a plan agreement with a partner (issue 17, ``plan.share``).

The oracle restates the rule from the issue without ConsentGrant.covers or
is_active_at: an agreement goes to a partner only on an active ``plan.share``
consent naming that partner, that agreement and its category. And a
``plan.share`` consent never lets a message reach the wijkteam.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from consent.engine import decide
from consent.model import CATEGORIES, ConsentGrant, Outcome
from consent.policy import load_policy
from consent.sharing import PLAN_SHARE_PURPOSE, decide_share, share_facts
from tests.consent.factories import T0
from tests.consent.test_engine_properties import grants, message_facts

AGREEMENTS = ["a1", "a2", "a3"]
PARTNERS = ["woonbron", "evides", "sdd"]
CATS = sorted(CATEGORIES)
PURPOSES = [PLAN_SHARE_PURPOSE, "ondersteuning door het wijkteam"]
times = st.integers(min_value=-6, max_value=6).map(lambda h: T0 + timedelta(hours=h))


@st.composite
def share_grants(draw) -> ConsentGrant:
    """A random grant of the kind a share request makes, with now and then a twist."""
    return ConsentGrant(
        id=draw(st.sampled_from(["g1", "g2", "g3"])), subject="p-1",
        recipient=draw(st.sampled_from([f"partner:{p}" for p in PARTNERS] + ["wijkteam"])),
        source_kinds=draw(st.frozensets(st.sampled_from(["wijkteam", "huisarts"]),
                                        max_size=1)),
        source_partners=draw(st.frozensets(
            st.sampled_from([f"agreement:{a}" for a in AGREEMENTS]), max_size=2)),
        categories=draw(st.frozensets(st.sampled_from(CATS), min_size=1, max_size=2)),
        purpose=draw(st.sampled_from(PURPOSES)),
        valid_from=draw(times), valid_until=draw(st.none() | times),
        revoked_at=draw(st.none() | times), granted_at=draw(times))


def _oracle(consents, agreement, partner, category, now) -> bool:
    for g in consents:
        in_force = (g.valid_from <= now and (g.valid_until is None or now < g.valid_until)
                    and (g.revoked_at is None or now < g.revoked_at))
        names_source = bool(g.source_kinds or g.source_partners) \
            and (not g.source_kinds or "wijkteam" in g.source_kinds) \
            and (not g.source_partners or f"agreement:{agreement}" in g.source_partners)
        if (g.purpose == PLAN_SHARE_PURPOSE and in_force and names_source
                and g.recipient == f"partner:{partner}" and category in g.categories):
            return True
    return False


@settings(database=None, max_examples=200, deadline=None)
@given(consents=st.lists(share_grants(), max_size=4), agreement=st.sampled_from(AGREEMENTS),
       partner=st.sampled_from(PARTNERS), category=st.sampled_from(CATS), now=times)
def test_an_agreement_is_shared_only_on_a_plan_share_consent_for_it(consents, agreement,
                                                                      partner, category, now):
    facts = share_facts(agreement_id=agreement, partner_id=partner, category=category)
    decision = decide_share(facts=facts, consents=consents, partner_name="X", now=now)
    assert decision.delivered == _oracle(consents, agreement, partner, category, now)
    if decision.delivered:
        assert decision.basis_ref in {g.id for g in consents}
    else:
        assert decision.outcome == Outcome.HOLD and decision.fields == ()


@settings(database=None, max_examples=150, deadline=None)
@given(data=st.data(), facts=message_facts(), shares=st.lists(share_grants(), max_size=3),
       now=times)
def test_a_share_consent_never_lets_a_message_reach_the_wijkteam(data, facts, shares, now):
    policy = load_policy()
    others = data.draw(st.lists(grants(facts), max_size=3))
    partner_shares = [g for g in shares if g.recipient.startswith("partner:")]
    without = decide(facts=facts, consents=others, policy=policy, now=now)
    with_shares = decide(facts=facts, consents=[*others, *partner_shares], policy=policy,
                         now=now)
    assert (with_shares.outcome, with_shares.basis, with_shares.basis_ref) == (
        without.outcome, without.basis, without.basis_ref)
