"""The resident's consent API: change, versions, representatives, transparency."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.core.representatives import add_representative
from tests.utils.builders import (
    arrears,
    nuisance,
    partner,
    person,
    regisseur,
    register,
    resident,
)

GRANT = {"recipient": "wijkteam", "source_kinds": ["woningcorporatie"],
         "categories": ["financieel", "wonen"], "purpose": "hulp van het wijkteam"}


def _send(client, body, headers) -> str:
    r = client.post("/api/v1/messages", json=body, headers=headers)
    assert r.status_code == 202, r.text
    return r.json()["id"]


def _grant(client, me, body=None, **params) -> str:
    r = client.post("/api/v1/me/consents", json=body or GRANT, headers=me, params=params)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _visible(client, ctx) -> list[dict]:
    return client.get("/api/v1/inbox", headers=regisseur(ctx)).json()["items"]


def _represent(ctx, who, by, capacity, **kw):
    with ctx.sessions() as session, session.begin():
        return add_representative(
            session=session, ctx=ctx, bsn=who.bsn, representative_bsn=by.bsn,
            capacity=capacity, valid_from=ctx.clock(), valid_until=kw.get("valid_until"),
            recorded_by="regisseur anna", reference="beschikking 2026/77", now=ctx.clock())


# --- change and versions ----------------------------------------------------------------


def test_a_narrowing_change_takes_effect_before_it_answers(ctx, client, worker):
    anna = person(301)
    register(ctx, anna)
    _, woonbron = partner(ctx)
    me = resident(ctx, anna)
    consent_id = _grant(client, me)
    _send(client, nuisance(anna, ref="N-1"), woonbron)
    worker.drain()
    assert [i["basis"] for i in _visible(client, ctx)] == ["consent"]

    r = client.patch(f"/api/v1/me/consents/{consent_id}", json={"categories": ["financieel"]},
                     headers=me)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["version"], body["categories"], body["status"]) == (2, ["financieel"], "active")
    assert "geldzaken" in body["explanation"] and "wonen" not in body["explanation"]
    assert _visible(client, ctx) == []  # nuisance is "wonen": no longer covered

    versions = client.get(f"/api/v1/me/consents/{consent_id}/versions", headers=me).json()
    assert [(v["version"], v["change"], v["categories"]) for v in versions] == [
        (1, "granted", ["financieel", "wonen"]), (2, "changed", ["financieel"])]
    [disclosure] = client.get("/api/v1/me/disclosures", headers=me).json()
    assert disclosure["still_shown"] is False
    assert "ziet dit nu niet meer" in disclosure["explanation"]


def test_a_widening_change_releases_held_messages(ctx, client, worker):
    anna = person(302)
    register(ctx, anna)
    _, woonbron = partner(ctx)
    me = resident(ctx, anna)
    consent_id = _grant(client, me, {**GRANT, "categories": ["financieel"]})
    _send(client, nuisance(anna, ref="N-1"), woonbron)
    worker.drain()
    assert _visible(client, ctx) == []
    r = client.patch(f"/api/v1/me/consents/{consent_id}",
                     json={"categories": ["financieel", "wonen"]}, headers=me)
    assert r.status_code == 200, r.text
    worker.drain()
    assert [i["type"] for i in _visible(client, ctx)] == ["signal.nuisance"]


def test_change_refuses_bad_input_by_field(ctx, client):
    anna = person(303)
    register(ctx, anna)
    me = resident(ctx, anna)
    consent_id = _grant(client, me)
    url = f"/api/v1/me/consents/{consent_id}"
    for body, field, status in (
        ({"categories": ["geld"]}, "categories", 422),
        ({"categories": None}, "categories", 422),
        ({"source_kinds": [], "source_partners": []}, "source", 422),
        ({"valid_until": "2020-01-01T00:00:00+00:00"}, "valid_until", 422),
        ({"valid_until": "2030-01-01T00:00:00"}, "valid_until", 422),
        # Past year 9999 once in UTC, or once in Dutch time (the list could not be shown).
        ({"valid_until": "9999-12-31T23:59:59-14:00"}, "valid_until", 422),
        ({"valid_until": "9999-12-31T23:00:00Z"}, "valid_until", 422),
        ({"colour": "blue"}, "colour", 422),
        ({}, "body", 422),
    ):
        r = client.patch(url, json=body, headers=me)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in {e["field"] for e in r.json()["errors"]}, r.text
    assert client.patch("/api/v1/me/consents/nope", json={"purpose": "x"},
                        headers=me).status_code == 404
    assert client.post(f"{url}/revoke", headers=me).status_code == 200
    r = client.patch(url, json={"purpose": "weer aan"}, headers=me)
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "status"
    assert client.get(url, headers=me).json()["status"] == "revoked"


def test_a_consent_ending_at_the_calendars_end_is_refused_and_the_list_still_shows(
        ctx, client):
    anna = person(304)
    register(ctx, anna)
    me = resident(ctx, anna)
    for until in ("9999-12-31T23:59:59-14:00", "9999-12-31T23:00:00Z"):
        r = client.post("/api/v1/me/consents", json={**GRANT, "valid_until": until},
                        headers=me)
        assert r.status_code == 422, r.text
        assert [e["field"] for e in r.json()["errors"]] == ["valid_until"]
    mine = client.get("/api/v1/me/consents", headers=me)
    assert mine.status_code == 200 and mine.json() == []


def test_someone_elses_consent_is_not_found(ctx, client):
    anna, bram = person(304), person(305)
    register(ctx, anna, bram)
    consent_id = _grant(client, resident(ctx, anna))
    them = resident(ctx, bram)
    for method, path in (("get", ""), ("get", "/versions"), ("post", "/revoke")):
        r = getattr(client, method)(f"/api/v1/me/consents/{consent_id}{path}", headers=them)
        assert r.status_code == 404, r.text
    assert client.patch(f"/api/v1/me/consents/{consent_id}", json={"purpose": "x"},
                        headers=them).status_code == 404


def test_an_expired_consent_is_listed_as_expired_with_its_version(ctx, client, clock):
    anna = person(306)
    register(ctx, anna)
    me = resident(ctx, anna)
    until = clock.now.replace(hour=12)
    consent_id = _grant(client, me, {**GRANT, "valid_until": until.isoformat()})
    clock.advance(days=1)
    me = resident(ctx, anna)
    [listed] = client.get("/api/v1/me/consents", headers=me).json()
    assert (listed["id"], listed["status"], listed["version"]) == (consent_id, "expired", 2)
    assert "verlopen op 23 november 2026" in listed["explanation"]
    versions = client.get(f"/api/v1/me/consents/{consent_id}/versions", headers=me).json()
    assert versions[-1]["change"] == "expired"


# --- representatives ---------------------------------------------------------------------


def test_a_parent_acts_for_a_minor_through_on_behalf_of(ctx, client, worker):
    child = dataclasses.replace(person(310), birthdate="2015-06-01")
    mother = person(311, huisnummer=child.huisnummer)
    register(ctx, child, mother)
    _, woonbron = partner(ctx)
    _send(client, nuisance(child, ref="N-1"), woonbron)
    worker.drain()
    rep = _represent(ctx, child, mother, "parent")
    assert rep.valid_until.year == 2033  # ends at the 18th birthday
    as_mother = resident(ctx, mother)

    mine = client.get("/api/v1/me/representations", headers=as_mother).json()
    assert [(r["id"], r["capacity"], r["active"]) for r in mine["represents"]] == [
        (rep.id, "parent", True)]
    by = client.get("/api/v1/me/representations", headers=resident(ctx, child)).json()
    assert [r["id"] for r in by["represented_by"]] == [rep.id]

    [req] = client.get("/api/v1/me/requests", headers=as_mother,
                       params={"on_behalf_of": rep.id}).json()
    r = client.post(f"/api/v1/me/requests/{req['id']}/approve", headers=as_mother,
                    params={"on_behalf_of": rep.id})
    assert r.status_code == 200, r.text
    worker.drain()
    assert [i["type"] for i in _visible(client, ctx)] == ["signal.nuisance"]
    # The child's own list shows that the parent gave it.
    [consent] = client.get("/api/v1/me/consents", headers=resident(ctx, child)).json()
    assert consent["acted_by"] == {"representation_id": rep.id, "capacity": "parent"}
    assert consent["explanation"].startswith("Uw ouder gaf op")
    # The mother's own consents are untouched.
    assert client.get("/api/v1/me/consents", headers=as_mother).json() == []


def test_a_bewindvoerder_is_held_to_money_matters(ctx, client):
    anna, bewind = person(312), person(313)
    register(ctx, anna, bewind)
    rep = _represent(ctx, anna, bewind, "bewindvoerder")
    as_bewind = resident(ctx, bewind)
    on = {"on_behalf_of": rep.id}
    r = client.post("/api/v1/me/consents", json=GRANT, headers=as_bewind, params=on)
    assert r.status_code == 403, r.text
    assert r.json()["errors"][0]["field"] == "categories"
    money = _grant(client, as_bewind, {**GRANT, "categories": ["financieel"]}, **on)
    own = _grant(client, resident(ctx, anna), {**GRANT, "categories": ["wonen"]})
    listed = client.get("/api/v1/me/consents", headers=as_bewind, params=on).json()
    assert [c["id"] for c in listed] == [money]  # the resident's "wonen" consent is not shown
    assert client.post(f"/api/v1/me/consents/{own}/revoke", headers=as_bewind,
                       params=on).status_code == 404
    r = client.patch(f"/api/v1/me/consents/{money}", json={"categories": ["financieel", "zorg"]},
                     headers=as_bewind, params=on)
    assert r.status_code == 403, r.text
    assert client.post(f"/api/v1/me/consents/{money}/revoke", headers=as_bewind,
                       params=on).json()["status"] == "revoked"


def test_on_behalf_of_needs_a_representation_of_ones_own_in_force(ctx, client, clock):
    anna, bram, cees = person(314), person(315), person(316)
    register(ctx, anna, bram, cees)
    rep = _represent(ctx, anna, bram, "curator", valid_until=clock.now.replace(hour=18))
    # Cees names Bram's representation: not his, so it does not exist for him.
    r = client.get("/api/v1/me/consents", headers=resident(ctx, cees),
                   params={"on_behalf_of": rep.id})
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "on_behalf_of"
    clock.advance(days=1)
    r = client.post("/api/v1/me/consents", json=GRANT, headers=resident(ctx, bram),
                    params={"on_behalf_of": rep.id})
    assert r.status_code == 403, r.text
    assert client.get("/api/v1/me/consents", headers=resident(ctx, anna)).json() == []


# --- transparency --------------------------------------------------------------------------


def test_what_is_known_lists_own_messages_with_dutch_explanations(ctx, client, worker):
    anna = person(320)
    housemate = person(321, huisnummer=anna.huisnummer)
    register(ctx, anna, housemate)
    _, woonbron = partner(ctx)
    me = resident(ctx, anna)
    _send(client, arrears(anna, ref="A-1"), woonbron)
    _send(client, nuisance(anna, ref="N-1"), woonbron)
    _send(client, arrears(housemate, ref="A-2"), woonbron)
    worker.drain()

    known = client.get("/api/v1/me/data", headers=me).json()
    assert sorted(k["type"] for k in known) == ["signal.arrears.rent", "signal.nuisance"]
    by_type = {k["type"]: k for k in known}
    rent, held = by_type["signal.arrears.rent"], by_type["signal.nuisance"]
    assert (rent["status"], rent["basis"], rent["source"]) == ("shown", "statute", "Woonbron")
    assert {"amount_eur", "tenancy_ref", "name"} <= set(rent["fields"])
    assert "contact" not in rent["fields"]  # optional and not sent: not held
    assert set(rent["shown_fields"]) == {"name", "address", "creditor", "amount_eur", "since"}
    assert "zonder uw toestemming" in rent["explanation"]
    assert "Wet gemeentelijke schuldhulpverlening" in rent["explanation"]
    assert "1250" not in str(known) and housemate.name not in str(known)
    assert (held["status"], held["status_text"], held["shown_fields"]) == (
        "held", "wacht op uw toestemming", [])
    assert held["explanation"] == ("Woonbron stuurde op 23 november 2026 een melding over "
                                   "woonoverlast. Die is nog niet gedeeld: we vragen eerst "
                                   "uw toestemming.")


def test_disclosure_explanation_names_the_consent_and_its_end(ctx, client, worker):
    anna = person(322)
    register(ctx, anna)
    _, woonbron = partner(ctx)
    me = resident(ctx, anna)
    consent_id = _grant(client, me, {**GRANT, "categories": ["wonen"]})
    _send(client, nuisance(anna, ref="N-1"), woonbron)
    worker.drain()
    [d] = client.get("/api/v1/me/disclosures", headers=me).json()
    assert d["still_shown"] is True
    assert d["explanation"] == ("Uw wijkteam ziet dit omdat u op 23 november 2026 toestemming "
                                "gaf aan uw wijkteam voor meldingen over wonen van Woonbron.")
    client.post(f"/api/v1/me/consents/{consent_id}/revoke", headers=me)
    [d] = client.get("/api/v1/me/disclosures", headers=me).json()
    assert d["still_shown"] is False
    assert d["explanation"].endswith("De toestemming is beëindigd op 23 november 2026: "
                                     "uw wijkteam ziet dit nu niet meer.")
    [k] = client.get("/api/v1/me/data", headers=me).json()
    assert (k["status"], k["shown_fields"], k["basis"]) == ("no_longer_shown", [], None)


def test_after_revocation_a_law_may_still_allow_part(ctx, client, worker):
    anna = person(323)
    register(ctx, anna)
    _, woonbron = partner(ctx)
    me = resident(ctx, anna)
    consent_id = _grant(client, me, {**GRANT, "categories": ["financieel"]})
    _send(client, arrears(anna, ref="A-1"), woonbron)
    worker.drain()
    [item] = _visible(client, ctx)
    assert item["basis"] == "consent" and "tenancy_ref" in item["data"]
    client.post(f"/api/v1/me/consents/{consent_id}/revoke", headers=me)
    [item] = _visible(client, ctx)
    assert item["basis"] == "statute" and "tenancy_ref" not in item["data"]
    [d] = client.get("/api/v1/me/disclosures", headers=me).json()
    assert d["still_shown"] is True
    assert d["explanation"].startswith("Uw wijkteam kreeg dit op 23 november 2026, omdat u")
    assert d["explanation"].endswith(
        "uw wijkteam ziet nu alleen nog wat de wet toestaat: naam, adres, schuldeiser, bedrag "
        "en sinds wanneer.")


def test_a_retried_grant_with_its_idempotency_key_does_not_revive_a_revoked_consent(ctx, client):
    anna = person(324)
    register(ctx, anna)
    me = resident(ctx, anna)
    retry = {**me, "Idempotency-Key": "portal-7f3a"}
    first = client.post("/api/v1/me/consents", json=GRANT, headers=retry)
    assert first.status_code == 201, first.text
    client.post(f"/api/v1/me/consents/{first.json()['id']}/revoke", headers=me)
    again = client.post("/api/v1/me/consents", json=GRANT, headers=retry)
    assert again.status_code == 201 and again.json() == first.json()
    assert [c["status"] for c in client.get("/api/v1/me/consents", headers=me).json()] == [
        "revoked"]
    # Without the key, a second grant is a new consent.
    assert client.post("/api/v1/me/consents", json=GRANT, headers=me).json() != first.json()
    r = client.post("/api/v1/me/consents", json=GRANT,
                    headers={**me, "Idempotency-Key": "x" * 101})
    assert r.status_code == 422, r.text



def test_an_idempotency_key_is_bound_to_the_body_and_the_actor(ctx, client):
    # Issue 13, item 9: a bewindvoerder (financieel only) reusing the resident's own key
    # must not learn the id of a consent outside her capacity.
    anna, bewind = person(325), person(326)
    register(ctx, anna, bewind)
    rep = _represent(ctx, anna, bewind, "bewindvoerder")
    key = {"Idempotency-Key": "portal-9"}
    own = client.post("/api/v1/me/consents", json={**GRANT, "categories": ["wonen"]},
                      headers={**resident(ctx, anna), **key})
    assert own.status_code == 201, own.text
    r = client.post("/api/v1/me/consents", json={**GRANT, "categories": ["financieel"]},
                    headers={**resident(ctx, bewind), **key}, params={"on_behalf_of": rep.id})
    assert r.status_code == 409, r.text
    assert own.json()["id"] not in r.text
    assert r.json()["errors"][0]["field"] == "Idempotency-Key"
    # The same actor with another body under the same key: 409 as well.
    r = client.post("/api/v1/me/consents", json={**GRANT, "categories": ["financieel"]},
                    headers={**resident(ctx, anna), **key})
    assert r.status_code == 409, r.text
    # The same actor and body again: the retry answers with the same consent.
    again = client.post("/api/v1/me/consents", json={**GRANT, "categories": ["wonen"]},
                        headers={**resident(ctx, anna), **key})
    assert again.status_code == 201 and again.json() == own.json()



def test_a_consent_with_an_unknown_source_kind_or_partner_is_refused_by_field(ctx, client):
    # Issue 13, item 17: such a consent could never match anything.
    anna = person(327)
    register(ctx, anna)
    me = resident(ctx, anna)
    woonbron, _ = partner(ctx)
    r = client.post("/api/v1/me/consents",
                    json={**GRANT, "source_kinds": ["huisarts", "woningcorporatei"]}, headers=me)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "source_kinds[1]"
    r = client.post("/api/v1/me/consents",
                    json={**GRANT, "source_kinds": [], "source_partners": ["no-such-partner"]},
                    headers=me)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "source_partners[0]"
    assert client.get("/api/v1/me/consents", headers=me).json() == []
    consent_id = _grant(client, me, {**GRANT, "source_kinds": [], "source_partners": [woonbron]})
    r = client.patch(f"/api/v1/me/consents/{consent_id}",
                     json={"source_kinds": ["woningcorporatei"]}, headers=me)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "source_kinds[0]"


# --- no input produces a 500 -----------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=3),
    max_leaves=8)
_change_keys = ["source_kinds", "source_partners", "categories", "purpose", "valid_until"]
_changes = st.one_of(_json, st.dictionaries(st.sampled_from(_change_keys), _json, max_size=3))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_changes, on_behalf_of=st.one_of(st.none(), st.text(min_size=1, max_size=70)))
def test_change_never_answers_500(ctx, client, body, on_behalf_of):
    if not hasattr(ctx, "_fuzz_consent"):
        anna = person(330)
        register(ctx, anna)
        ctx._fuzz_me = resident(ctx, anna)
        ctx._fuzz_consent = _grant(client, ctx._fuzz_me)
    params = {} if on_behalf_of is None else {"on_behalf_of": on_behalf_of}
    r = client.patch(f"/api/v1/me/consents/{ctx._fuzz_consent}", json=body,
                     headers=ctx._fuzz_me, params=params)
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert r.headers["content-type"] == "application/problem+json"


def test_nul_bytes_are_refused_by_field_on_every_database(ctx, client):
    # PostgreSQL refuses NUL in text; without these checks it would be a 500 there.
    anna = person(332)
    register(ctx, anna)
    me = resident(ctx, anna)
    r = client.post("/api/v1/me/consents", json={**GRANT, "purpose": "hulp\x00"}, headers=me)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "purpose"
    r = client.get("/api/v1/me/consents", headers=me, params={"on_behalf_of": "a\x00b"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "on_behalf_of"
    assert client.get("/api/v1/me/consents/a%00b", headers=me).status_code == 422
    assert client.post("/api/v1/me/requests/a%00b/approve", headers=me).status_code == 422


def test_disclosure_names_the_consent_that_covers_it_now(ctx, client, worker, clock):
    anna = person(333)
    register(ctx, anna)
    woonbron_id, woonbron = partner(ctx)
    me = resident(ctx, anna)
    first = _grant(client, me, {**GRANT, "categories": ["wonen"]})
    _send(client, nuisance(anna, ref="N-1"), woonbron)
    worker.drain()
    clock.advance(days=2)
    me = resident(ctx, anna)
    _grant(client, me, {**GRANT, "source_kinds": [], "source_partners": [woonbron_id],
                        "categories": ["wonen"]})
    client.post(f"/api/v1/me/consents/{first}/revoke", headers=me)
    assert [i["basis"] for i in _visible(client, ctx)] == ["consent"]
    [d] = client.get("/api/v1/me/disclosures", headers=me).json()
    assert d["still_shown"] is True
    assert d["explanation"] == ("Uw wijkteam ziet dit omdat u op 25 november 2026 toestemming "
                                "gaf aan uw wijkteam voor meldingen over wonen van Woonbron.")
