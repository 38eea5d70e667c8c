"""The version history: every change is a new version, nothing is overwritten."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from consent import registry
from consent.errors import ConsentError, ConsentNotFound, IdempotencyConflict
from consent.records import Change, GrantStatus
from consent.tables import consent_versions
from tests.consent.factories import T0, facts


def _grant(session, subject="p-1", **overrides):
    values = {
        "recipient": "wijkteam",
        "source_kinds": ["woningcorporatie"],
        "source_partners": [],
        "categories": ["financieel", "wonen"],
        "purpose": "ondersteuning door het wijkteam",
        "valid_until": None,
        "now": T0,
        "provenance": {"method": "portal"},
    }
    values.update(overrides)
    return registry.grant(session=session, subject=subject, **values)


def _versions(session, consent_id, subject="p-1"):
    return registry.list_versions(session=session, subject=subject, consent_id=consent_id)


def test_a_grant_is_version_one(session):
    g = _grant(session)
    [v1] = _versions(session, g.id)
    assert (v1.version, v1.change, v1.status) == (1, Change.GRANTED, GrantStatus.ACTIVE)
    assert v1.categories == frozenset({"financieel", "wonen"})
    assert v1.changed_at == T0
    assert registry.get_grant(session=session, subject="p-1", consent_id=g.id).version == 1


def test_change_makes_a_new_version_and_keeps_the_old_one(session):
    g = _grant(session)
    later = T0 + timedelta(days=1)
    head = registry.change(session=session, subject="p-1", consent_id=g.id, now=later,
                           categories=["wonen"], valid_until=later + timedelta(days=30))
    assert head.version == 2 and head.categories == frozenset({"wonen"})
    assert head.changed_at == later
    v1, v2 = _versions(session, g.id)
    assert v1.categories == frozenset({"financieel", "wonen"}) and v1.valid_until is None
    assert (v2.change, v2.categories, v2.valid_until) == (
        Change.CHANGED, frozenset({"wonen"}), later + timedelta(days=30))
    # The engine now sees the narrower scope: money matters no longer pass on it.
    [active] = registry.consents_for(session=session, subject="p-1")
    assert not active.covers(facts())
    assert active.covers(facts(type="signal.nuisance", category="wonen"))


def test_change_leaves_out_what_is_not_given(session):
    g = _grant(session, valid_until=T0 + timedelta(days=10))
    head = registry.change(session=session, subject="p-1", consent_id=g.id, now=T0,
                           purpose="hulp bij schulden")
    assert head.purpose == "hulp bij schulden"
    assert head.valid_until == T0 + timedelta(days=10)
    assert head.categories == frozenset({"financieel", "wonen"})
    # None is a value: no end date any more.
    head = registry.change(session=session, subject="p-1", consent_id=g.id, now=T0,
                           valid_until=None)
    assert head.valid_until is None and head.version == 3


@pytest.mark.parametrize(("scope", "field"), [
    ({"categories": []}, "categories"),
    ({"categories": ["geld"]}, "categories"),
    ({"source_kinds": [], "source_partners": []}, "source"),
    ({"valid_until": T0}, "valid_until"),
    ({"purpose": " "}, "purpose"),
    ({"purpose": "hulp\x00"}, "purpose"),
    ({"source_kinds": ["woning\x07"]}, "source_kinds"),
])
def test_change_checks_the_new_scope_like_a_grant(session, scope, field):
    g = _grant(session)
    with pytest.raises(ConsentError) as info:
        registry.change(session=session, subject="p-1", consent_id=g.id, now=T0, **scope)
    assert info.value.field == field
    assert len(_versions(session, g.id)) == 1


def test_revocation_is_a_version_and_a_retry_adds_none(session):
    g = _grant(session)
    at = T0 + timedelta(hours=2)
    registry.revoke(session=session, subject="p-1", consent_id=g.id, now=at)
    registry.revoke(session=session, subject="p-1", consent_id=g.id, now=at + timedelta(days=1))
    v1, v2 = _versions(session, g.id)
    assert (v2.change, v2.status, v2.revoked_at) == (Change.REVOKED, GrantStatus.REVOKED, at)
    assert v1.status is GrantStatus.ACTIVE  # the old version is untouched


def test_a_revoked_consent_cannot_be_changed_back(session):
    g = _grant(session)
    registry.revoke(session=session, subject="p-1", consent_id=g.id, now=T0)
    with pytest.raises(ConsentError) as info:
        registry.change(session=session, subject="p-1", consent_id=g.id, now=T0,
                        valid_until=None)
    assert info.value.field == "status"
    assert registry.consents_for(session=session, subject="p-1") == []


def test_expiry_is_written_as_a_version_dated_at_the_end(session):
    end = T0 + timedelta(days=3)
    g = _grant(session, valid_until=end)
    assert registry.expire_due(session=session, subject="p-1", now=end - timedelta(seconds=1)) == 0
    assert registry.subjects_with_expired(session=session, now=end) == ["p-1"]
    assert registry.expire_due(session=session, subject="p-1", now=end + timedelta(days=9)) == 1
    _, v2 = _versions(session, g.id)
    assert (v2.change, v2.status, v2.changed_at) == (Change.EXPIRED, GrantStatus.EXPIRED, end)
    assert registry.expire_due(session=session, subject="p-1", now=end + timedelta(days=9)) == 0
    # Revoking an expired consent changes nothing, and it cannot be changed.
    registry.revoke(session=session, subject="p-1", consent_id=g.id, now=end)
    assert len(_versions(session, g.id)) == 2
    with pytest.raises(ConsentError):
        registry.change(session=session, subject="p-1", consent_id=g.id, now=end,
                        valid_until=None)


def test_a_refusal_is_version_one_of_a_refused_consent(session):
    req = registry.open_request(session=session, subject="p-1", facts=facts(),
                                topic="huurachterstand", now=T0)
    registry.deny_request(session=session, subject="p-1", request_id=req.id, now=T0)
    [refusal] = registry.list_grants(session=session, subject="p-1")
    [v1] = _versions(session, refusal.id)
    assert (v1.change, v1.status) == (Change.REFUSED, GrantStatus.REFUSED)


def test_versions_of_someone_elses_consent_are_not_found(session):
    g = _grant(session, subject="p-2")
    with pytest.raises(ConsentNotFound):
        registry.list_versions(session=session, subject="p-1", consent_id=g.id)
    with pytest.raises(ConsentNotFound):
        registry.change(session=session, subject="p-1", consent_id=g.id, now=T0, purpose="x")


def test_every_version_row_matches_the_head_after_a_history(session):
    g = _grant(session)
    registry.change(session=session, subject="p-1", consent_id=g.id, now=T0,
                    categories=["financieel"])
    registry.change(session=session, subject="p-1", consent_id=g.id, now=T0,
                    source_partners=["woonbron"])
    registry.revoke(session=session, subject="p-1", consent_id=g.id, now=T0)
    head = registry.get_grant(session=session, subject="p-1", consent_id=g.id)
    versions = _versions(session, g.id)
    assert [v.version for v in versions] == [1, 2, 3, 4]
    last = versions[-1]
    assert (last.status, last.categories, last.source_partners, last.revoked_at) == (
        head.status, head.categories, head.source_partners, head.revoked_at)
    count = session.execute(select(func.count()).select_from(consent_versions)).scalar_one()
    assert count == 4


def test_paper_provenance_must_name_the_form_and_the_professional(session):
    with pytest.raises(ConsentError) as info:
        _grant(session, provenance={"method": "paper", "recorded_by": "anna"})
    assert info.value.field == "provenance.form_ref"
    with pytest.raises(ConsentError) as info:
        _grant(session, provenance={"method": "paper", "form_ref": "WIP-12"})
    assert info.value.field == "provenance.recorded_by"
    g = _grant(session, provenance={"method": "paper", "form_ref": "WIP-12",
                                    "recorded_by": "anna"})
    [v1] = _versions(session, g.id)
    assert dict(v1.provenance) == {"method": "paper", "form_ref": "WIP-12",
                                   "recorded_by": "anna"}


def test_the_same_idempotency_key_returns_the_first_consent_as_it_is_now(session):
    g = _grant(session, idempotency_key="paper:WIP-12")
    registry.revoke(session=session, subject="p-1", consent_id=g.id, now=T0)
    again = _grant(session, idempotency_key="paper:WIP-12")
    assert again.id == g.id and again.revoked_at == T0
    assert len(registry.list_grants(session=session, subject="p-1")) == 1
    # The key is bound to what was asked (issue 13, item 9): another body is a conflict.
    with pytest.raises(IdempotencyConflict):
        _grant(session, idempotency_key="paper:WIP-12", categories=["zorg"])
    assert len(registry.list_grants(session=session, subject="p-1")) == 1
    # Keys are per resident: another resident's same key is another consent.
    assert _grant(session, subject="p-2", idempotency_key="paper:WIP-12").id != g.id
    with pytest.raises(ConsentError) as info:
        _grant(session, idempotency_key="")
    assert info.value.field == "idempotency_key"
