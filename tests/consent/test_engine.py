"""The decision rules of consent.engine, one by one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from consent.engine import decide, intersect_fields
from consent.model import BasisKind, Decision, FieldSet, Outcome
from consent.policy import load_policy, parse_policy
from tests.consent.factories import T0, consent, facts

POLICY = load_policy()
NOW = T0 + timedelta(days=10)
RENT_FIELDS = ("name", "address", "creditor", "amount_eur", "since")


def _decide(*grants, policy=POLICY, now=NOW, **fact_overrides) -> Decision:
    return decide(facts=facts(**fact_overrides), consents=list(grants), policy=policy, now=now)


def _assert_statute(decision: Decision) -> None:
    assert decision.outcome is Outcome.DELIVER_MINIMAL
    assert decision.basis is BasisKind.STATUTE
    assert decision.basis_ref == "wgs"
    assert decision.fields == RENT_FIELDS
    assert decision.retention_days == 90


def _assert_hold(decision: Decision) -> None:
    assert decision.outcome is Outcome.HOLD
    assert decision.basis is BasisKind.NONE
    assert decision.basis_ref is None
    assert not decision.delivered


def test_consent_beats_statute():
    d = _decide(consent())
    assert d.outcome is Outcome.DELIVER_FULL
    assert d.basis is BasisKind.CONSENT
    assert d.basis_ref == "c-1"
    assert d.fields is None
    assert d.retention_days is None
    assert d.decided_at == NOW
    assert d.delivered
    assert d.reason == (
        "Gedeeld omdat u op 3 maart 2026 toestemming gaf aan uw wijkteam "
        "voor meldingen over geldzaken van Woonbron."
    )


def test_no_consent_arrears_go_by_statute_with_minimal_fields():
    d = _decide()
    _assert_statute(d)
    assert d.delivered
    assert d.reason == (
        "Gedeeld op grond van de Wet gemeentelijke schuldhulpverlening: "
        "alleen naam, adres, schuldeiser, bedrag en sinds wanneer."
    )


def test_no_consent_and_no_statute_holds():
    d = _decide(type="signal.nuisance", category="wonen")
    _assert_hold(d)
    assert d.fields == ()
    assert d.reason == "Niet gedeeld: er is (nog) geen toestemming. We vragen het u eerst."


def test_consent_for_nuisance_delivers_fully():
    grant = consent(categories=frozenset({"wonen"}))
    d = _decide(grant, type="signal.nuisance", category="wonen")
    assert d.outcome is Outcome.DELIVER_FULL
    assert "over wonen van Woonbron" in d.reason


@pytest.mark.parametrize(
    "grant",
    [
        pytest.param(consent(valid_until=NOW), id="expired-exactly-now"),
        pytest.param(consent(valid_until=NOW - timedelta(seconds=1)), id="expired"),
        pytest.param(consent(revoked_at=NOW), id="revoked-exactly-now"),
        pytest.param(consent(revoked_at=T0 + timedelta(days=1)), id="revoked"),
        pytest.param(consent(valid_from=NOW + timedelta(seconds=1)), id="not-yet-valid"),
        pytest.param(consent(categories=frozenset({"medisch", "zorg"})), id="wrong-category"),
        pytest.param(consent(source_kinds=frozenset({"huisarts"})), id="wrong-kind"),
        pytest.param(
            consent(source_kinds=frozenset(), source_partners=frozenset({"havensteder"})),
            id="wrong-partner",
        ),
        pytest.param(
            consent(source_partners=frozenset({"havensteder"})), id="right-kind-wrong-partner"
        ),
        pytest.param(
            consent(source_kinds=frozenset({"huisarts"}), source_partners=frozenset({"woonbron"})),
            id="right-partner-wrong-kind",
        ),
        pytest.param(consent(source_kinds=frozenset(), source_partners=frozenset()), id="blanket"),
        pytest.param(consent(recipient="veiligthuis"), id="wrong-recipient"),
    ],
)
def test_consent_that_does_not_apply_falls_through(grant):
    _assert_statute(_decide(grant))
    _assert_hold(_decide(grant, type="signal.nuisance", category="wonen"))


def test_consent_scoped_to_partner_only_matches_that_partner():
    grant = consent(source_kinds=frozenset(), source_partners=frozenset({"woonbron"}))
    assert _decide(grant).outcome is Outcome.DELIVER_FULL
    assert _decide(grant, source_partner="havensteder").outcome is Outcome.DELIVER_MINIMAL


def test_consent_scoped_to_kind_and_partner_needs_both():
    grant = consent(source_partners=frozenset({"woonbron"}))
    assert _decide(grant).outcome is Outcome.DELIVER_FULL


def test_consent_active_from_its_first_moment():
    grant = consent(valid_from=NOW, granted_at=NOW)
    assert _decide(grant).outcome is Outcome.DELIVER_FULL


def test_statute_disabled_holds():
    policy = POLICY.with_statute_enabled("wgs", False)
    _assert_hold(_decide(policy=policy))
    # ... but consent still works when the statute is switched off.
    assert _decide(consent(), policy=policy).outcome is Outcome.DELIVER_FULL


def test_unknown_type_without_consent_holds():
    d = _decide(type="signal.garden", category="wonen")
    _assert_hold(d)
    assert d.fields == ()
    assert d.reason == (
        "Niet gedeeld: voor dit soort melding is altijd uw toestemming nodig. "
        "We vragen het u eerst."
    )


def test_unknown_type_needs_consent_for_its_category():
    # A plugin may bring a type the policy does not list: it has no statute,
    # so it passes on consent only, and the policy cannot check its category.
    grant = consent(categories=frozenset({"wonen"}))
    d = _decide(grant, type="signal.garden", category="wonen")
    assert d.outcome is Outcome.DELIVER_FULL
    assert d.basis_ref == "c-1"
    _assert_hold(_decide(grant, type="signal.garden", category="zorg"))
    # Even a financial one: no statute applies to a type the policy does not list.
    _assert_hold(_decide(type="signal.garden", category="financieel"))


def test_category_differing_from_policy_holds_even_with_consent():
    # The sender calls rent arrears "wonen"; a consent for wonen must not apply.
    grant = consent(categories=frozenset({"wonen"}))
    d = _decide(grant, category="wonen")
    _assert_hold(d)
    assert "past niet" in d.reason


def test_eviction_statute_fields():
    d = _decide(type="signal.eviction", category="wonen")
    assert d.outcome is Outcome.DELIVER_MINIMAL
    assert d.fields == ("name", "address", "creditor", "eviction_date")
    assert "datum van de ontruiming" in d.reason


def test_subject_of_grant_is_not_looked_at():
    # The caller filters by subject; decide() has nothing to compare it with.
    assert _decide(consent(subject="someone-else")).outcome is Outcome.DELIVER_FULL


def test_pick_is_earliest_granted_whatever_the_order():
    early = consent(id="c-late-id", granted_at=T0)
    late = consent(id="c-early-id", granted_at=T0 + timedelta(days=1))
    assert _decide(early, late).basis_ref == "c-late-id"
    assert _decide(late, early).basis_ref == "c-late-id"


def test_pick_breaks_ties_on_id():
    a = consent(id="a")
    b = consent(id="b")
    assert _decide(b, a).basis_ref == "a"
    assert _decide(a, b).basis_ref == "a"


def test_inactive_earlier_grant_is_skipped():
    old = consent(id="old", granted_at=T0, revoked_at=T0 + timedelta(days=1))
    new = consent(id="new", granted_at=T0 + timedelta(days=2))
    assert _decide(old, new).basis_ref == "new"


def test_consents_may_be_any_iterable():
    d = decide(facts=facts(), consents=iter([consent()]), policy=POLICY, now=NOW)
    assert d.outcome is Outcome.DELIVER_FULL


def test_naive_now_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        _decide(now=datetime(2026, 3, 3, 9, 0))


def test_reason_date_is_dutch_local_date():
    # 23:30 UTC on 2 March is already 3 March in Dordrecht.
    late = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    d = _decide(consent(valid_from=late, granted_at=late))
    assert "op 3 maart 2026" in d.reason


# --- intersect_fields --------------------------------------------------------


def _current(outcome: Outcome, fields: tuple[str, ...] | None) -> Decision:
    basis = {
        Outcome.DELIVER_FULL: BasisKind.CONSENT,
        Outcome.DELIVER_MINIMAL: BasisKind.STATUTE,
        Outcome.HOLD: BasisKind.NONE,
    }[outcome]
    return Decision(
        outcome=outcome,
        basis=basis,
        basis_ref=None,
        fields=fields,
        reason="",
        decided_at=NOW,
        retention_days=None,
    )


@pytest.mark.parametrize("delivered", [None, ("name",), ()])
def test_current_hold_hides_everything(delivered):
    # Even a HOLD carrying fields=None ("all") must hide the item.
    assert intersect_fields(delivered, _current(Outcome.HOLD, None)) == FieldSet(
        visible=False, fields=None
    )


def test_all_delivered_and_all_allowed_shows_all():
    assert intersect_fields(None, _current(Outcome.DELIVER_FULL, None)) == FieldSet(True, None)


def test_all_delivered_cut_to_current_statute_fields():
    got = intersect_fields(None, _current(Outcome.DELIVER_MINIMAL, RENT_FIELDS))
    assert got == FieldSet(True, RENT_FIELDS)


def test_minimal_delivered_stays_minimal_under_full_consent():
    got = intersect_fields(("name", "amount_eur"), _current(Outcome.DELIVER_FULL, None))
    assert got == FieldSet(True, ("name", "amount_eur"))


def test_intersection_keeps_delivered_order():
    delivered = ("since", "name", "phone", "address")
    got = intersect_fields(delivered, _current(Outcome.DELIVER_MINIMAL, RENT_FIELDS))
    assert got == FieldSet(True, ("since", "name", "address"))


def test_disjoint_fields_visible_but_empty():
    got = intersect_fields(("phone",), _current(Outcome.DELIVER_MINIMAL, ("name",)))
    assert got == FieldSet(True, ())


def test_revoked_consent_item_under_statute_shows_minimal_fields_only():
    # End to end at read time: delivered in full on consent, consent revoked,
    # re-decided now -> the statute allows only the minimal fields.
    delivered = _decide(consent())
    revoked = consent(revoked_at=NOW)
    current = decide(facts=facts(), consents=[revoked], policy=POLICY, now=NOW)
    assert intersect_fields(delivered.fields, current) == FieldSet(True, RENT_FIELDS)
    # With early signalling switched off as well, the item disappears.
    off = POLICY.with_statute_enabled("wgs", False)
    current = decide(facts=facts(), consents=[revoked], policy=off, now=NOW)
    assert intersect_fields(delivered.fields, current).visible is False


# --- the safety basis ---------------------------------------------------------


def test_safety_report_is_delivered_whole_on_the_meldrecht():
    report = facts(type="safety.report", category="veiligheid", source_kind="veiligthuis",
                   source_partner="vt", source_name="Veilig Thuis")
    decision = decide(facts=report, consents=[], policy=POLICY, now=T0)
    assert (decision.outcome, decision.basis, decision.basis_ref, decision.fields) == (
        Outcome.DELIVER_FULL, BasisKind.SAFETY, "meldrecht", None)
    assert "meldrecht van Veilig Thuis" in decision.reason and "vertrouwelijk" in decision.reason


def test_safety_basis_switched_off_holds():
    policy = parse_policy(
        '[safety.m]\ntitle = "meldrecht"\nenabled = false\n'
        '[types."safety.report"]\ncategory = "veiligheid"\nsafety = "m"\n', source="p")
    report = facts(type="safety.report", category="veiligheid")
    assert decide(facts=report, consents=[], policy=policy, now=T0).outcome is Outcome.HOLD
