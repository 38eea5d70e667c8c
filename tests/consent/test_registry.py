"""The registry on a real (in-memory SQLite) database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from consent import registry
from consent.engine import decide
from consent.errors import ConsentError, ConsentNotFound, RequestNotFound
from consent.model import BasisKind, Decision, Outcome
from consent.policy import load_policy
from consent.records import GrantStatus, RequestStatus
from consent.tables import consent_decisions, consent_grants, consent_requests, consent_subjects
from tests.consent.factories import T0, facts

POLICY = load_policy()


def _grant(session, subject="p-1", **overrides):
    values = {
        "recipient": "wijkteam",
        "source_kinds": ["woningcorporatie"],
        "source_partners": [],
        "categories": ["financieel"],
        "purpose": "ondersteuning door het wijkteam",
        "valid_until": None,
        "now": T0,
        "provenance": {"method": "portal"},
    }
    values.update(overrides)
    return registry.grant(session=session, subject=subject, **values)


def _version(session, subject="p-1"):
    return session.execute(
        select(consent_subjects.c.version).where(consent_subjects.c.subject == subject)
    ).scalar_one()


# --- lock and grants ---------------------------------------------------------


def test_lock_subject_creates_the_row_once(session):
    assert registry.lock_subject(session=session, subject="p-1") == 0
    assert registry.lock_subject(session=session, subject="p-1") == 0
    rows = session.execute(select(consent_subjects)).all()
    assert [(r.subject, r.version) for r in rows] == [("p-1", 0)]


def test_grant_stores_an_active_consent_and_bumps_the_version(session):
    g = _grant(session, valid_until=T0 + timedelta(days=30))
    assert g.subject == "p-1"
    assert g.source_kinds == frozenset({"woningcorporatie"})
    assert g.categories == frozenset({"financieel"})
    assert g.valid_from == T0 and g.granted_at == T0
    assert g.is_active_at(T0)
    assert registry.consents_for(session=session, subject="p-1") == [g]
    assert _version(session) == 1
    _grant(session)
    assert _version(session) == 2


def test_grant_does_not_commit(session):
    _grant(session)
    session.rollback()
    assert registry.consents_for(session=session, subject="p-1") == []
    assert session.execute(select(consent_subjects)).all() == []


def test_stored_times_come_back_aware_in_utc(session):
    amsterdam = timezone(timedelta(hours=1))
    now = datetime(2026, 3, 3, 10, 0, tzinfo=amsterdam)
    g = _grant(session, now=now, valid_until=now + timedelta(days=1))
    [stored] = registry.consents_for(session=session, subject="p-1")
    assert stored.granted_at == now
    assert stored.granted_at.tzinfo is not None
    assert stored.granted_at.utcoffset() == timedelta(0)
    assert stored == g


def test_grant_provenance_and_status_are_listed(session):
    g = _grant(session, provenance={"method": "paper_form", "recorded_by": "staff-7"})
    [record] = registry.list_grants(session=session, subject="p-1")
    assert record.id == g.id
    assert record.status is GrantStatus.ACTIVE
    assert dict(record.provenance) == {"method": "paper_form", "recorded_by": "staff-7"}
    assert record.request_id is None
    assert record.to_grant() == g


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"categories": []}, "categories"),
        ({"categories": ["geld"]}, "categories"),
        ({"categories": "financieel"}, "categories"),
        ({"source_kinds": [], "source_partners": []}, "source"),
        ({"source_kinds": [""]}, "source_kinds"),
        ({"valid_until": T0}, "valid_until"),
        ({"valid_until": T0 - timedelta(days=1)}, "valid_until"),
        ({"valid_until": datetime(2027, 1, 1)}, "valid_until"),
        ({"recipient": " "}, "recipient"),
        ({"purpose": ""}, "purpose"),
        ({"provenance": {}}, "provenance"),
        ({"provenance": {"method": ""}}, "provenance"),
    ],
)
def test_grant_refuses_invalid_consent(session, overrides, field):
    with pytest.raises(ConsentError) as info:
        _grant(session, **overrides)
    assert info.value.field == field
    assert info.value.reason
    assert session.execute(select(consent_grants)).all() == []


def test_grant_refuses_an_oversized_subject(session):
    with pytest.raises(ConsentError) as info:
        _grant(session, subject="x" * 65)
    assert info.value.field == "subject"


def test_consents_for_returns_only_the_subjects_active_consents(session):
    mine = _grant(session, subject="p-1")
    theirs = _grant(session, subject="p-2")
    revoked = _grant(session, subject="p-1", categories=["wonen"])
    registry.revoke(session=session, subject="p-1", consent_id=revoked.id, now=T0)
    assert registry.consents_for(session=session, subject="p-1") == [mine]
    assert registry.consents_for(session=session, subject="p-2") == [theirs]


# --- revoke ------------------------------------------------------------------


def test_revoke_ends_the_consent_and_bumps_the_version(session):
    g = _grant(session)
    later = T0 + timedelta(days=2)
    revoked = registry.revoke(session=session, subject="p-1", consent_id=g.id, now=later)
    assert revoked.id == g.id
    assert revoked.revoked_at == later
    assert not revoked.is_active_at(later)
    assert revoked.is_active_at(later - timedelta(seconds=1))
    assert _version(session) == 2
    assert registry.consents_for(session=session, subject="p-1") == []
    [record] = registry.list_grants(session=session, subject="p-1")
    assert record.status is GrantStatus.REVOKED


def test_revoke_twice_is_idempotent(session):
    g = _grant(session)
    first = registry.revoke(session=session, subject="p-1", consent_id=g.id, now=T0)
    again = registry.revoke(
        session=session, subject="p-1", consent_id=g.id, now=T0 + timedelta(days=5)
    )
    assert again == first
    assert _version(session) == 2  # the second call changed nothing


def test_revoke_someone_elses_consent_is_not_found(session):
    theirs = _grant(session, subject="p-2")
    with pytest.raises(ConsentNotFound):
        registry.revoke(session=session, subject="p-1", consent_id=theirs.id, now=T0)
    assert registry.consents_for(session=session, subject="p-2") == [theirs]


def test_revoke_unknown_id_is_not_found(session):
    with pytest.raises(ConsentNotFound):
        registry.revoke(session=session, subject="p-1", consent_id="nope", now=T0)


def test_revocation_stops_delivery_on_consent(session):
    g = _grant(session, source_kinds=[], source_partners=["woonbron"], categories=["wonen"])
    nuisance = facts(type="signal.nuisance", category="wonen")

    def outcome(now):
        consents = registry.consents_for(session=session, subject="p-1")
        return decide(facts=nuisance, consents=consents, policy=POLICY, now=now).outcome

    assert outcome(T0) is Outcome.DELIVER_FULL
    registry.revoke(session=session, subject="p-1", consent_id=g.id, now=T0)
    assert outcome(T0) is Outcome.HOLD


# --- decisions -----------------------------------------------------------------


def test_decisions_are_recorded_and_read_back(session):
    full = decide(facts=facts(), consents=[_grant(session)], policy=POLICY, now=T0)
    minimal = decide(facts=facts(), consents=[], policy=POLICY, now=T0 + timedelta(minutes=1))
    registry.record_decision(session=session, id="d-1",
                             message_id="m-1", subject="p-1", decision=full)
    registry.record_decision(session=session, id="d-2",
                             message_id="m-1", subject="p-1", decision=minimal)
    registry.record_decision(session=session, id="d-3",
                             message_id="m-2", subject=None, decision=minimal)
    assert registry.decisions_for(session=session, message_id="m-1") == [full, minimal]
    [only] = registry.decisions_for(session=session, message_id="m-2")
    assert only.basis is BasisKind.STATUTE and only.retention_days == 90
    # "All fields" is stored as SQL NULL, not as the JSON value null.
    nulls = session.execute(
        select(consent_decisions.c.id).where(consent_decisions.c.fields.is_(None))
    ).all()
    assert len(nulls) == 1


def test_held_decision_round_trips_with_no_fields(session):
    held = decide(
        facts=facts(type="signal.nuisance", category="wonen"), consents=[], policy=POLICY, now=T0
    )
    registry.record_decision(session=session, id="d-4",
                             message_id="m-3", subject="p-1", decision=held)
    [back] = registry.decisions_for(session=session, message_id="m-3")
    assert back == held
    assert isinstance(back, Decision) and back.fields == ()


# --- requests ------------------------------------------------------------------


def _open(session, subject="p-1", topic="huurachterstand", now=T0, **fact_overrides):
    return registry.open_request(
        session=session, subject=subject, facts=facts(**fact_overrides), topic=topic, now=now
    )


def _pending(session, subject="p-1"):
    return session.execute(
        select(consent_requests).where(
            consent_requests.c.subject == subject, consent_requests.c.status == "pending"
        )
    ).all()


def test_open_request_asks_in_plain_dutch(session):
    req = _open(session)
    assert req.status is RequestStatus.PENDING
    assert (req.source_partner, req.source_kind, req.category) == (
        "woonbron",
        "woningcorporatie",
        "financieel",
    )
    assert req.expires_at == T0 + timedelta(days=30)
    assert req.text.startswith(
        "Woonbron wil een melding over huurachterstand delen met uw wijkteam. Mag dat?"
    )
    assert "geldzaken" in req.text
    assert _version(session) == 0  # a question changes no decision


def test_two_opens_for_the_same_partner_and_category_merge(session):
    first = _open(session, type="signal.eviction", category="wonen", topic="ontruiming")
    later = T0 + timedelta(days=3)
    second = _open(session, type="signal.nuisance", category="wonen", topic="overlast", now=later)
    assert second.id == first.id
    assert len(_pending(session)) == 1
    assert second.topics == ("ontruiming", "overlast")
    assert second.text.startswith("Woonbron wil meldingen over ontruiming en overlast delen")
    assert second.updated_at == later
    assert second.expires_at == later + timedelta(days=30)
    # The same topic again does not repeat it.
    third = _open(session, type="signal.nuisance", category="wonen", topic="overlast", now=later)
    assert third.topics == ("ontruiming", "overlast")


def test_other_partner_category_or_subject_gets_its_own_request(session):
    a = _open(session)
    b = _open(session, source_partner="havensteder", source_name="HavenSteder")
    c = _open(session, type="signal.nuisance", category="wonen", topic="overlast")
    d = _open(session, subject="p-2")
    assert len({a.id, b.id, c.id, d.id}) == 4
    assert len(_pending(session)) == 3


def test_open_after_expiry_starts_a_new_request(session):
    old = _open(session)
    new = _open(session, now=old.expires_at)
    assert new.id != old.id
    assert registry.get_request(session=session, subject="p-1", request_id=old.id).status is (
        RequestStatus.EXPIRED
    )


def test_open_request_refuses_bad_input(session):
    with pytest.raises(ConsentError) as info:
        _open(session, topic=" ")
    assert info.value.field == "topic"
    with pytest.raises(ConsentError) as info:
        _open(session, recipient="veiligthuis")
    assert info.value.field == "recipient"
    with pytest.raises(ConsentError) as info:
        _open(session, category="geld")
    assert info.value.field == "category"


def test_list_requests_marks_expired_ones(session):
    req = _open(session)
    assert [r.status for r in registry.list_requests(session=session, subject="p-1", now=T0)] == [
        RequestStatus.PENDING
    ]
    after = req.expires_at + timedelta(seconds=1)
    [listed] = registry.list_requests(session=session, subject="p-1", now=after)
    assert listed.status is RequestStatus.EXPIRED
    stored = session.execute(
        select(consent_requests.c.status).where(consent_requests.c.id == req.id)
    ).scalar_one()
    assert stored == "expired"


def test_list_requests_only_the_subjects_own_newest_first(session):
    old = _open(session)
    new = _open(session, source_partner="evides", source_kind="waterbedrijf", now=T0 + timedelta(1))
    _open(session, subject="p-2")
    listed = registry.list_requests(session=session, subject="p-1", now=T0 + timedelta(2))
    assert [r.id for r in listed] == [new.id, old.id]


def test_get_request_of_someone_else_is_not_found(session):
    theirs = _open(session, subject="p-2")
    with pytest.raises(RequestNotFound):
        registry.get_request(session=session, subject="p-1", request_id=theirs.id)


def test_get_request_reports_expiry_without_writing(session):
    req = _open(session)
    got = registry.get_request(
        session=session, subject="p-1", request_id=req.id, now=req.expires_at
    )
    assert got.status is RequestStatus.EXPIRED
    assert registry.get_request(session=session, subject="p-1", request_id=req.id).status is (
        RequestStatus.PENDING
    )


def test_approve_grants_exactly_what_was_asked(session):
    req = _open(session)
    now = T0 + timedelta(days=2)
    g = registry.approve_request(session=session, subject="p-1", request_id=req.id, now=now)
    assert g.recipient == "wijkteam"
    assert g.source_partners == frozenset({"woonbron"})
    assert g.source_kinds == frozenset()
    assert g.categories == frozenset({"financieel"})
    assert g.purpose == "ondersteuning door het wijkteam"
    assert g.valid_from == now
    assert g.valid_until == now.replace(year=now.year + 1)
    [record] = registry.list_grants(session=session, subject="p-1")
    assert record.request_id == req.id
    assert dict(record.provenance) == {"method": "portal"}
    assert registry.get_request(session=session, subject="p-1", request_id=req.id).status is (
        RequestStatus.APPROVED
    )
    assert _version(session) == 1

    consents = registry.consents_for(session=session, subject="p-1")
    woonbron = decide(facts=facts(), consents=consents, policy=POLICY, now=now)
    assert woonbron.outcome is Outcome.DELIVER_FULL and woonbron.basis_ref == g.id
    other = facts(source_partner="havensteder", source_name="HavenSteder")
    assert decide(facts=other, consents=consents, policy=POLICY, now=now).basis_ref == "wgs"


def test_approve_on_29_february_lasts_until_28_february(session):
    leap = datetime(2028, 2, 29, 12, 0, tzinfo=UTC)
    req = _open(session, now=leap)
    g = registry.approve_request(session=session, subject="p-1", request_id=req.id, now=leap)
    assert g.valid_until == datetime(2029, 2, 28, 12, 0, tzinfo=UTC)


def test_deny_records_a_refusal_that_never_matches(session):
    req = _open(session, type="signal.nuisance", category="wonen", topic="overlast")
    now = T0 + timedelta(hours=1)
    denied = registry.deny_request(session=session, subject="p-1", request_id=req.id, now=now)
    assert denied.status is RequestStatus.DENIED
    assert denied.updated_at == now
    [record] = registry.list_grants(session=session, subject="p-1")
    assert record.status is GrantStatus.REFUSED
    assert record.request_id == req.id
    assert record.source_partners == frozenset({"woonbron"})
    assert record.categories == frozenset({"wonen"})
    assert registry.consents_for(session=session, subject="p-1") == []
    # Even read around the status, the refusal is never in force.
    refusal = record.to_grant()
    assert not any(refusal.is_active_at(now + timedelta(minutes=m)) for m in (-1, 0, 1, 10**6))
    assert _version(session) == 1


def test_a_refusal_cannot_be_revoked(session):
    req = _open(session)
    registry.deny_request(session=session, subject="p-1", request_id=req.id, now=T0)
    [record] = registry.list_grants(session=session, subject="p-1")
    with pytest.raises(ConsentError) as info:
        registry.revoke(session=session, subject="p-1", consent_id=record.id, now=T0)
    assert info.value.field == "consent_id"


@pytest.mark.parametrize("first", ["approve", "deny"])
@pytest.mark.parametrize("second", ["approve", "deny"])
def test_answering_twice_is_refused(session, first, second):
    req = _open(session)
    answer = {"approve": registry.approve_request, "deny": registry.deny_request}
    answer[first](session=session, subject="p-1", request_id=req.id, now=T0)
    with pytest.raises(ConsentError) as info:
        answer[second](session=session, subject="p-1", request_id=req.id, now=T0)
    assert (info.value.field, info.value.reason) == ("status", "request is no longer pending")


@pytest.mark.parametrize("answer", [registry.approve_request, registry.deny_request])
def test_answering_an_expired_request_is_refused(session, answer):
    req = _open(session)
    with pytest.raises(ConsentError) as info:
        answer(session=session, subject="p-1", request_id=req.id, now=req.expires_at)
    assert info.value.field == "status"
    assert registry.consents_for(session=session, subject="p-1") == []


@pytest.mark.parametrize("answer", [registry.approve_request, registry.deny_request])
def test_answering_someone_elses_request_is_not_found(session, answer):
    theirs = _open(session, subject="p-2")
    with pytest.raises(RequestNotFound):
        answer(session=session, subject="p-1", request_id=theirs.id, now=T0)
    assert len(_pending(session, subject="p-2")) == 1
