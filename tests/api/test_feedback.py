"""What the sender hears back (a closed list, never why), and herhaalde meldingen."""

from __future__ import annotations

from tests.utils.builders import arrears, nuisance, partner, person, regisseur, register, resident

STATUS_KEYS = {"id", "type", "source_ref", "status", "received_at"}
# Words that would tell a creditor something about the basis or the resident's consent.
TELLTALES = ("consent", "toestemming", "statute", "wgs", "schuldhulp", "basis", "reason",
             "held", "denied", "weiger")


def _send(client, body, headers) -> str:
    r = client.post("/api/v1/messages", json=body, headers=headers)
    assert r.status_code == 202, r.text
    return r.json()["id"]


def _status(client, message_id: str, headers) -> str:
    r = client.get(f"/api/v1/messages/{message_id}", headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == STATUS_KEYS
    lowered = r.text.lower()
    assert not [w for w in TELLTALES if w in lowered], r.text
    return body["status"]


def _only_item(client, staff) -> dict:
    page = client.get("/api/v1/inbox", headers=staff).json()
    assert page["total"] == 1, page
    return page["items"][0]


def test_received_taken_up_closed(ctx, client, worker):
    anna = person(1)
    register(ctx, anna)
    _, woonbron = partner(ctx)
    staff = regisseur(ctx)
    message_id = _send(client, arrears(anna, ref="A-1"), woonbron)
    assert _status(client, message_id, woonbron) == "received"
    worker.drain()
    assert _status(client, message_id, woonbron) == "received"  # delivered, not yet acted on
    item = _only_item(client, staff)
    r = client.post(f"/api/v1/inbox/{item['id']}/take-up", headers=staff)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "taken_up"
    assert _status(client, message_id, woonbron) == "taken_up"
    r = client.post(f"/api/v1/inbox/{item['id']}/close", headers=staff)
    assert r.status_code == 200, r.text
    assert _status(client, message_id, woonbron) == "closed"
    r = client.post(f"/api/v1/inbox/{item['id']}/take-up", headers=staff)
    assert r.status_code == 409, r.text
    assert _status(client, message_id, woonbron) == "closed"


def test_closed_without_take_up_is_not_taken_up(ctx, client, worker):
    anna = person(1)
    register(ctx, anna)
    _, woonbron = partner(ctx)
    staff = regisseur(ctx)
    message_id = _send(client, arrears(anna, ref="A-1"), woonbron)
    worker.drain()
    item = _only_item(client, staff)
    assert client.post(f"/api/v1/inbox/{item['id']}/close", headers=staff).status_code == 200
    assert _status(client, message_id, woonbron) == "not_taken_up"


def test_consent_denied_by_the_resident_is_not_taken_up(ctx, client, worker):
    anna = person(2)
    register(ctx, anna)
    _, woonbron = partner(ctx)
    me = resident(ctx, anna)
    message_id = _send(client, nuisance(anna, ref="N-1"), woonbron)
    worker.drain()
    # Held for the resident's answer: the sender only knows it arrived.
    assert _status(client, message_id, woonbron) == "received"
    requests = client.get("/api/v1/me/requests", headers=me).json()
    assert len(requests) == 1
    r = client.post(f"/api/v1/me/requests/{requests[0]['id']}/deny", headers=me)
    assert r.status_code == 200, r.text
    assert _status(client, message_id, woonbron) == "not_taken_up"
    assert client.get("/api/v1/inbox", headers=regisseur(ctx)).json()["total"] == 0


def test_consent_granted_then_taken_up(ctx, client, worker):
    anna = person(2)
    register(ctx, anna)
    _, woonbron = partner(ctx)
    me = resident(ctx, anna)
    staff = regisseur(ctx)
    message_id = _send(client, nuisance(anna, ref="N-1"), woonbron)
    worker.drain()
    request_id = client.get("/api/v1/me/requests", headers=me).json()[0]["id"]
    assert client.post(f"/api/v1/me/requests/{request_id}/approve",
                       headers=me).status_code == 200
    worker.drain()
    assert _status(client, message_id, woonbron) == "received"
    item = _only_item(client, staff)
    assert item["basis"] == "consent"
    client.post(f"/api/v1/inbox/{item['id']}/take-up", headers=staff)
    assert _status(client, message_id, woonbron) == "taken_up"


def test_partner_cannot_read_another_partners_message(ctx, client):
    anna = person(1)
    _, woonbron = partner(ctx, "Woonbron")
    _, trivire = partner(ctx, "Trivire")
    message_id = _send(client, arrears(anna, ref="A-1"), woonbron)
    r = client.get(f"/api/v1/messages/{message_id}", headers=trivire)
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].split(";")[0] == "application/problem+json"
    assert "A-1" not in r.text
    assert client.get("/api/v1/messages/no-such-id", headers=woonbron).status_code == 404
    assert client.get(f"/api/v1/messages/{message_id}", headers=regisseur(ctx)).status_code == 401
    assert _status(client, message_id, woonbron) == "received"


# --- herhaalde melding ------------------------------------------------------------------------


def test_same_tenancy_same_amount_is_linked(ctx, client, worker):
    anna = person(1)
    register(ctx, anna)
    _, woonbron = partner(ctx)
    staff = regisseur(ctx)
    first = _send(client, arrears(anna, ref="A-1", tenancy="HC-1"), woonbron)
    worker.drain()
    second = _send(client, arrears(anna, ref="A-2", tenancy="HC-1"), woonbron)
    assert second != first
    worker.drain()
    item = _only_item(client, staff)
    assert item["repeats"] == 1
    assert _status(client, second, woonbron) == "received"
    client.post(f"/api/v1/inbox/{item['id']}/take-up", headers=staff)
    assert _status(client, first, woonbron) == _status(client, second, woonbron) == "taken_up"
    client.post(f"/api/v1/inbox/{item['id']}/close", headers=staff)
    assert _status(client, first, woonbron) == _status(client, second, woonbron) == "closed"


def test_lower_amount_is_linked(ctx, client, worker):
    anna = person(1)
    register(ctx, anna)
    _, woonbron = partner(ctx)
    _send(client, arrears(anna, ref="A-1", tenancy="HC-1", amount="1250.00"), woonbron)
    worker.drain()
    _send(client, arrears(anna, ref="A-2", tenancy="HC-1", amount="900.00"), woonbron)
    worker.drain()
    item = _only_item(client, regisseur(ctx))
    assert item["repeats"] == 1
    assert item["data"]["amount_eur"] == "1250.00"


def test_grown_amount_is_a_new_item(ctx, client, worker):
    anna = person(1)
    register(ctx, anna)
    _, woonbron = partner(ctx)
    staff = regisseur(ctx)
    first = _send(client, arrears(anna, ref="A-1", tenancy="HC-1", amount="1250.00"), woonbron)
    worker.drain()
    grown = _send(client, arrears(anna, ref="A-2", tenancy="HC-1", amount="1250.01"),
                  woonbron)
    worker.drain()
    page = client.get("/api/v1/inbox", headers=staff).json()
    assert page["total"] == 2
    assert sorted(i["data"]["amount_eur"] for i in page["items"]) == ["1250.00", "1250.01"]
    assert all(i["repeats"] == 0 for i in page["items"])
    newest = next(i for i in page["items"] if i["data"]["amount_eur"] == "1250.01")
    client.post(f"/api/v1/inbox/{newest['id']}/take-up", headers=staff)
    assert _status(client, grown, woonbron) == "taken_up"
    assert _status(client, first, woonbron) == "received"


def test_a_repeat_is_weighed_against_the_newest_open_item_and_loads_only_that_one(
        ctx, client, worker, clock):
    from sqlalchemy import event

    from hub.core.models import InboxItem

    anna = person(1)
    register(ctx, anna)
    _, woonbron = partner(ctx)
    # Arrears that grew each month: an open item a month for one tenancy.
    for month, amount in enumerate(("1000.00", "1100.00", "1200.00")):
        _send(client, arrears(anna, ref=f"M-{month}", tenancy="HC-1", amount=amount), woonbron)
        worker.drain()
        clock.advance(days=30)
    loaded: list[str] = []

    def note(item, _context) -> None:
        loaded.append(item.id)

    event.listen(InboxItem, "load", note)
    try:
        _send(client, arrears(anna, ref="M-3", tenancy="HC-1", amount="1150.00"), woonbron)
        worker.drain()
    finally:
        event.remove(InboxItem, "load", note)
    staff = regisseur(ctx)  # signed now: the clock moved three months
    items = client.get("/api/v1/inbox", headers=staff).json()["items"]
    newest = next(i for i in items if i["data"]["amount_eur"] == "1200.00")
    # Not grown against the newest (1,200): linked to it, though it grew against the others.
    assert len(items) == 3 and newest["repeats"] == 1
    assert loaded == [newest["id"]]


def test_other_tenancy_or_other_partner_is_not_a_repeat(ctx, client, worker):
    anna = person(1)
    register(ctx, anna)
    _, woonbron = partner(ctx, "Woonbron")
    _, trivire = partner(ctx, "Trivire")
    _send(client, arrears(anna, ref="A-1", tenancy="HC-1"), woonbron)
    worker.drain()
    _send(client, arrears(anna, ref="A-2", tenancy="HC-2"), woonbron)
    _send(client, arrears(anna, ref="A-1", tenancy="HC-1"), trivire)
    worker.drain()
    page = client.get("/api/v1/inbox", headers=regisseur(ctx)).json()
    assert page["total"] == 3
    assert all(i["repeats"] == 0 for i in page["items"])


def test_repeat_after_the_item_was_closed_is_a_new_item(ctx, client, worker):
    anna = person(1)
    register(ctx, anna)
    _, woonbron = partner(ctx)
    staff = regisseur(ctx)
    _send(client, arrears(anna, ref="A-1", tenancy="HC-1"), woonbron)
    worker.drain()
    closed = _only_item(client, staff)
    client.post(f"/api/v1/inbox/{closed['id']}/close", headers=staff)
    again = _send(client, arrears(anna, ref="A-2", tenancy="HC-1"), woonbron)
    worker.drain()
    page = client.get("/api/v1/inbox", headers=staff, params={"status": "new"}).json()
    assert page["total"] == 1 and page["items"][0]["id"] != closed["id"]
    assert _status(client, again, woonbron) == "received"


def test_same_tenancy_of_another_resident_in_another_wijk_is_not_a_repeat(ctx, client, worker):
    # Issue 13, item 2: a partner's typo (the same tenancy_ref and amount for another
    # resident) must never link one resident's signal to another resident's item.
    fatima = person(1, postcode="3317AB", huisnummer="12", name="Fatima")
    jan = person(2, postcode="3321CD", huisnummer="4", name="Jan de Vries")
    register(ctx, fatima, jan)
    _, woonbron = partner(ctx)
    krispijn, crabbehof = regisseur(ctx, "krispijn"), regisseur(ctx, "crabbehof", user="kees")
    first = _send(client, arrears(fatima, ref="A-1", tenancy="HC-1"), woonbron)
    worker.drain()
    second = _send(client, arrears(jan, ref="A-2", tenancy="HC-1"), woonbron)
    worker.drain()
    fatimas = _only_item(client, krispijn)
    assert fatimas["repeats"] == 0
    jans = _only_item(client, crabbehof)
    assert jans["repeats"] == 0 and jans["id"] != fatimas["id"]
    client.post(f"/api/v1/inbox/{fatimas['id']}/take-up", headers=krispijn)
    assert _status(client, first, woonbron) == "taken_up"
    assert _status(client, second, woonbron) == "received"


def test_same_tenancy_of_another_resident_in_the_same_wijk_is_not_a_repeat(ctx, client, worker):
    anna, bert = person(1), person(2)
    register(ctx, anna, bert)
    _, woonbron = partner(ctx)
    _send(client, arrears(anna, ref="A-1", tenancy="HC-1"), woonbron)
    worker.drain()
    _send(client, arrears(bert, ref="A-2", tenancy="HC-1"), woonbron)
    worker.drain()
    page = client.get("/api/v1/inbox", headers=regisseur(ctx)).json()
    assert page["total"] == 2
    assert all(i["repeats"] == 0 for i in page["items"])


def test_an_unmatched_signal_is_never_a_repeat(ctx, client, worker):
    # Triage: the hub does not know who it is about, so it cannot be "the same debt
    # of the same resident" as anything else.
    anna = person(1)
    stranger = person(3, name="Onbekend")  # in Krispijn, but not in the registry
    register(ctx, anna)
    _, woonbron = partner(ctx)
    _send(client, arrears(anna, ref="A-1", tenancy="HC-1"), woonbron)
    worker.drain()
    _send(client, arrears(stranger, ref="A-2", tenancy="HC-1"), woonbron)
    _send(client, arrears(stranger, ref="A-3", tenancy="HC-1"), woonbron)
    worker.drain()
    page = client.get("/api/v1/inbox", headers=regisseur(ctx)).json()
    assert page["total"] == 3
    assert all(i["repeats"] == 0 for i in page["items"])
