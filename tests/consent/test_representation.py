"""Representatives act only within their capacity and their period."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from consent import registry
from consent.errors import ConsentError
from consent.model import CATEGORIES
from consent.records import Capacity, GrantStatus
from consent.representation import NotPermitted, capacity_allows, may_act_for
from tests.consent.factories import T0, facts

ADULT_LATER = T0 + timedelta(days=400)


def _add(session, capacity, *, subject="child", representative="mother", adult_at=ADULT_LATER,
         valid_from=T0, valid_until=None, now=T0):
    return registry.add_representation(
        session=session, subject=subject, representative=representative, capacity=capacity,
        valid_from=valid_from, valid_until=valid_until, adult_at=adult_at,
        recorded_by="regisseur anna", reference="beschikking 2026/123", now=now)


def _grant(session, representation, categories, subject="child"):
    return registry.grant(
        session=session, subject=subject, recipient="wijkteam",
        source_kinds=["woningcorporatie"], source_partners=[], categories=categories,
        purpose="hulp", valid_until=None, now=T0 + timedelta(hours=1),
        provenance={"method": "portal"}, representation=representation)


@pytest.mark.parametrize(("capacity", "allowed"), [
    ("parent", CATEGORIES),
    ("guardian", CATEGORIES),
    ("curator", CATEGORIES),
    ("mentor", {"wonen", "medisch", "zorg", "veiligheid"}),
    ("bewindvoerder", {"financieel"}),
])
def test_each_capacity_covers_exactly_its_matters(capacity, allowed):
    assert {c for c in CATEGORIES if capacity_allows(capacity, c)} == set(allowed)


def test_an_unknown_capacity_covers_nothing():
    assert not capacity_allows("buurman", "wonen")


def test_a_parent_acts_only_until_the_resident_is_18(session):
    rep = _add(session, "parent", valid_until=ADULT_LATER + timedelta(days=900))
    assert rep.valid_until == ADULT_LATER  # cut to the 18th birthday
    reps = [rep]
    kw = {"actor": "mother", "represented": "child", "category": "financieel",
          "representations": reps}
    assert may_act_for(at=ADULT_LATER - timedelta(seconds=1), **kw) == rep
    assert may_act_for(at=ADULT_LATER, **kw) is None


def test_no_parent_for_an_adult_or_without_a_birthdate(session):
    with pytest.raises(ConsentError) as info:
        _add(session, "parent", adult_at=T0 - timedelta(days=1))
    assert info.value.field == "capacity"
    with pytest.raises(ConsentError) as info:
        _add(session, "guardian", adult_at=None)
    assert info.value.field == "capacity"
    # Other capacities do not depend on age.
    assert _add(session, "curator", adult_at=None).valid_until is None


@pytest.mark.parametrize(("overrides", "field"), [
    ({"capacity": "buurman"}, "capacity"),
    ({"representative": "child"}, "representative"),
    ({"valid_until": T0}, "valid_until"),
    # Past year 9999 once stored in UTC.
    ({"valid_until": datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-14)))},
     "valid_until"),
])
def test_add_refuses_bad_input(session, overrides, field):
    overrides = dict(overrides)  # shared by the sqlite and postgres runs
    capacity = overrides.pop("capacity", "mentor")
    with pytest.raises(ConsentError) as info:
        _add(session, capacity, **overrides)
    assert info.value.field == field
    assert registry.list_representations(session=session, subject="child") == []


def test_may_act_for_needs_this_actor_this_resident_and_the_period(session):
    rep = _add(session, "mentor", valid_from=T0 + timedelta(days=1),
               valid_until=T0 + timedelta(days=10))
    at = T0 + timedelta(days=2)
    kw = {"category": "zorg", "representations": [rep]}
    assert may_act_for(actor="mother", represented="child", at=at, **kw) == rep
    assert may_act_for(actor="father", represented="child", at=at, **kw) is None
    assert may_act_for(actor="mother", represented="other", at=at, **kw) is None
    assert may_act_for(actor="mother", represented="child", at=T0, **kw) is None
    assert may_act_for(actor="mother", represented="child", at=T0 + timedelta(days=10),
                       **kw) is None
    assert may_act_for(actor="mother", represented="child", at=at, category="financieel",
                       representations=[rep]) is None


def test_find_representation_reads_the_registry_and_honours_an_end(session):
    rep = _add(session, "bewindvoerder")
    at = T0 + timedelta(days=1)
    found = registry.find_representation(session=session, actor="mother", represented="child",
                                         category="financieel", at=at)
    assert found == rep
    assert registry.find_representation(session=session, actor="mother", represented="child",
                                        category="wonen", at=at) is None
    ended = registry.end_representation(session=session, representation_id=rep.id, now=at)
    assert ended.ended_at == at
    assert registry.find_representation(session=session, actor="mother", represented="child",
                                        category="financieel", at=at) is None
    assert registry.find_representation(
        session=session, actor="mother", represented="child", category="financieel",
        at=at - timedelta(seconds=1)) == ended


def test_a_bewindvoerder_grants_money_matters_only(session):
    rep = _add(session, "bewindvoerder")
    g = _grant(session, rep, ["financieel"])
    record = registry.get_grant(session=session, subject="child", consent_id=g.id)
    assert (record.representation_id, record.capacity) == (rep.id, Capacity.BEWINDVOERDER)
    with pytest.raises(NotPermitted) as info:
        _grant(session, rep, ["financieel", "wonen"])
    assert info.value.field == "categories"
    assert len(registry.list_grants(session=session, subject="child")) == 1


def test_a_mentor_may_not_revoke_or_widen_into_money(session):
    own = _grant(session, None, ["financieel", "zorg"])  # the resident's own consent
    mentor = _add(session, "mentor")
    with pytest.raises(NotPermitted):
        registry.revoke(session=session, subject="child", consent_id=own.id,
                        now=T0 + timedelta(hours=2), representation=mentor)
    care = _grant(session, mentor, ["zorg"])
    with pytest.raises(NotPermitted):
        registry.change(session=session, subject="child", consent_id=care.id,
                        now=T0 + timedelta(hours=2), categories=["zorg", "financieel"],
                        representation=mentor)
    registry.revoke(session=session, subject="child", consent_id=care.id,
                    now=T0 + timedelta(hours=2), representation=mentor)
    statuses = {g.id: g.status for g in registry.list_grants(session=session, subject="child")}
    assert statuses == {own.id: GrantStatus.ACTIVE, care.id: GrantStatus.REVOKED}
    [_, revoked] = registry.list_versions(session=session, subject="child", consent_id=care.id)
    assert revoked.capacity is Capacity.MENTOR and revoked.representation_id == mentor.id


def test_a_representation_for_someone_else_or_out_of_period_is_refused(session):
    rep = _add(session, "curator", subject="other")
    with pytest.raises(NotPermitted) as info:
        _grant(session, rep, ["wonen"])
    assert info.value.field == "on_behalf_of"
    late = _add(session, "curator", valid_from=T0 + timedelta(days=5))
    with pytest.raises(NotPermitted):
        _grant(session, late, ["wonen"])


def test_answering_a_request_is_held_to_the_capacity(session):
    req = registry.open_request(session=session, subject="child", facts=facts(),
                                topic="huurachterstand", now=T0)
    mentor = _add(session, "mentor")
    with pytest.raises(NotPermitted):
        registry.approve_request(session=session, subject="child", request_id=req.id,
                                 now=T0, representation=mentor)
    with pytest.raises(NotPermitted):
        registry.deny_request(session=session, subject="child", request_id=req.id, now=T0,
                              representation=mentor)
    bewind = _add(session, "bewindvoerder", representative="bewind")
    g = registry.approve_request(session=session, subject="child", request_id=req.id, now=T0,
                                 representation=bewind)
    assert registry.get_grant(session=session, subject="child",
                              consent_id=g.id).capacity is Capacity.BEWINDVOERDER
