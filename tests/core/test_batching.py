"""Batched routing and bulk storage (issue 14): many messages per transaction, set-based.

On both stores (``ctx`` runs each test on SQLite and PostgreSQL). The embedded
worker routes up to ``HUB_ROUTE_BATCH`` messages in one transaction, each in a
savepoint; a CSV chunk is stored with bulk statements.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from pydantic import BaseModel
from sqlalchemy import event, func, select

from consent import bulk
from hub import hookimpl
from hub.core.audit import verify
from hub.core.batch import ingest_batch
from hub.core.models import AuditEvent, DeadLetter, InboxItem, Message, OutboxEntry, Partner
from hub.core.source_refs import open_ref
from hub.core.transport.tasks import run_tasks
from hub.core.types import MessageType
from tests.utils.builders import arrears, nuisance, partner, person, register, resident
from tests.utils.statements import counting

HEADER = "source_ref,name,birthdate,postcode,huisnummer,bsn,amount_eur,months,since,tenancy_ref"


class Poison(BaseModel):
    """Data of a type whose plugin fails on every message."""

    note: str


def _explode(_data):
    raise RuntimeError("plugin bug")


class PoisonPlugin:
    """A partner plugin with a bug: routing its messages raises at the repeat check."""

    @hookimpl
    def wijkhub_message_types(self):
        return [MessageType(name="signal.poison", partner_kinds=("woningcorporatie",),
                            category="wonen", data_model=Poison, topic="een test",
                            repeat_key=_explode)]


class NoAddressPlugin:
    """A partner type whose data has no address: only a BSN can place it in a wijk."""

    @hookimpl
    def wijkhub_message_types(self):
        return [MessageType(name="signal.noaddress", partner_kinds=("woningcorporatie",),
                            category="wonen", data_model=Poison, topic="een test")]


@pytest.fixture
def poison(ctx) -> Iterator[None]:
    """The poison plugin, registered for one test."""
    ctx.plugins.register(PoisonPlugin(), name="poison-batch")
    try:
        yield
    finally:
        ctx.plugins.unregister("poison-batch")


def _consent(client, ctx, who, categories=("wonen", "financieel")) -> str:
    r = client.post("/api/v1/me/consents", headers=resident(ctx, who), json={
        "source_kinds": ["woningcorporatie"], "categories": list(categories),
        "purpose": "hulp"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _post(client, headers, body) -> str:
    r = client.post("/api/v1/messages", json=body, headers=headers)
    assert r.status_code == 202, r.text
    return r.json()["id"]


def _statuses(ctx) -> dict[str, str]:
    with ctx.sessions() as session:
        return {open_ref(ctx, m): m.status for m in session.scalars(select(Message))}


def _entries(ctx) -> dict[str, OutboxEntry]:
    with ctx.sessions() as session:
        rows = session.execute(select(Message, OutboxEntry)
                               .join(OutboxEntry, OutboxEntry.message_id == Message.id)).all()
        return {open_ref(ctx, m): e for m, e in rows}


def test_one_poisoned_message_in_a_batch_of_50_is_retried_alone_while_49_deliver(
        ctx, client, worker, clock, poison):
    _, woonbron = partner(ctx)
    people = [person(7000 + n) for n in range(49)]
    register(ctx, person(6999), *people)
    _consent(client, ctx, person(6999))
    for n, who in enumerate(people[:25]):
        _post(client, woonbron, arrears(who, ref=f"A-{n}"))
    _post(client, woonbron, {"type": "signal.poison", "source_ref": "P-1",
                             "subject": {"bsn": person(6999).bsn},
                             "occurred_at": "2026-11-20T08:00:00+00:00",
                             "data": {"note": "x"}})
    for n, who in enumerate(people[25:], start=25):
        _post(client, woonbron, arrears(who, ref=f"A-{n}"))

    with counting(ctx.engine) as counts:
        assert worker.run_once() == 49
    # All fifty were routed in one transaction (plus one for the poisoned row's failure),
    # not fifty.
    assert counts.commits <= 3, counts.commits
    statuses = _statuses(ctx)
    assert statuses.pop("P-1") == "accepted"
    assert set(statuses.values()) == {"delivered"} and len(statuses) == 49
    with ctx.sessions() as session:
        # Its row is as it came: what its failed turn matched was never written.
        row = session.scalar(select(Message).where(Message.type == "signal.poison"))
        assert (row.wijk, row.household_id, row.item_id, row.match_method) == (
            None, None, None, None)
    poisoned = _entries(ctx)["P-1"]
    assert (poisoned.status, poisoned.attempts, poisoned.last_error) == (
        "pending", 1, "RuntimeError")
    with ctx.sessions() as session:
        # Nothing of the poisoned message's savepoint stayed: no item, no disclosure event.
        assert session.scalar(select(func.count()).select_from(InboxItem)) == 49
        events = session.scalars(select(AuditEvent.data).where(
            AuditEvent.action == "disclosure")).all()
        assert len(events) == 49
        assert verify(session, ctx.keys).first_bad is None

    # Its retries and dead letter behave as for a message routed alone.
    for _ in range(ctx.settings.max_attempts):
        clock.advance(hours=1)
        worker.run_once()
    assert _entries(ctx)["P-1"].status == "dead"


def test_messages_of_one_resident_in_one_batch_are_decided_in_the_order_they_came(
        ctx, client, worker):
    _, woonbron = partner(ctx)
    who = person(7100)
    register(ctx, who)
    _consent(client, ctx, who)
    # The same arrears twice: the first opens an item, the second (not grown) is a
    # herhaalde melding linked to it. In the other order both would be new items.
    _post(client, woonbron, arrears(who, ref="R-1", amount="1250.00", tenancy="HC-1"))
    _post(client, woonbron, arrears(who, ref="R-2", amount="1000.00", tenancy="HC-1"))
    _post(client, woonbron, arrears(who, ref="R-3", amount="1500.00", tenancy="HC-1"))
    with counting(ctx.engine) as counts:
        worker.run_once()
    assert counts.commits == 1
    assert _statuses(ctx) == {"R-1": "delivered", "R-2": "linked", "R-3": "delivered"}


def test_a_revocation_committed_between_two_batches_is_honoured(ctx, client, worker):
    _, woonbron = partner(ctx)
    who = person(7200)
    register(ctx, who)
    grant = _consent(client, ctx, who, categories=("wonen",))
    _post(client, woonbron, nuisance(who, ref="N-1"))
    worker.run_once()
    r = client.post(f"/api/v1/me/consents/{grant}/revoke", headers=resident(ctx, who))
    assert r.status_code == 200, r.text
    _post(client, woonbron, nuisance(who, ref="N-2"))
    worker.run_once()
    assert _statuses(ctx) == {"N-1": "delivered", "N-2": "held"}


def test_a_committed_batch_run_again_has_no_second_effect(ctx, client, worker):
    _, woonbron = partner(ctx)
    people = [person(7300 + n) for n in range(10)]
    register(ctx, *people)
    for n, who in enumerate(people):
        _consent(client, ctx, who)
        _post(client, woonbron, nuisance(who, ref=f"N-{n}"))
    ids = [e.id for e in _entries(ctx).values()]
    assert {o.status for o in run_tasks(ctx, ids).values()} == {"done"}

    def snapshot():
        with ctx.sessions() as session:
            return (session.scalar(select(func.count()).select_from(InboxItem)),
                    session.scalar(select(func.count()).select_from(AuditEvent)),
                    session.scalar(select(func.sum(OutboxEntry.attempts))))

    before = snapshot()
    # A redelivery of the whole window (a worker killed between commit and ack).
    assert {o.status for o in run_tasks(ctx, ids).values()} == {"done"}
    assert snapshot() == before == (10, before[1], 10)


@contextmanager
def _commit_fails_for(ctx, message_id: str) -> Iterator[None]:
    """While the block runs, any commit of a transaction that inserted ``message_id``'s
    inbox item fails: a failure no savepoint sees (a deferred constraint, say)."""

    def mark(conn, cursor, statement, parameters, *_) -> None:
        if statement.startswith("INSERT INTO inbox_items") and message_id in repr(parameters):
            conn.info["bad"] = True

    def refuse(conn) -> None:
        if conn.info.pop("bad", False):
            raise RuntimeError("deferred constraint")

    event.listen(ctx.engine, "before_cursor_execute", mark)
    event.listen(ctx.engine, "commit", refuse)
    try:
        yield
    finally:
        event.remove(ctx.engine, "commit", refuse)
        event.remove(ctx.engine, "before_cursor_execute", mark)


def test_a_batch_whose_commit_fails_is_bisected_so_only_the_bad_row_fails(ctx, client):
    _, woonbron = partner(ctx)
    people = [person(7400 + n) for n in range(6)]
    register(ctx, *people)
    ids = [_post(client, woonbron, arrears(who, ref=f"C-{n}")) for n, who in enumerate(people)]
    bad = ids[4]
    entries = {e.message_id: e.id for e in _entries(ctx).values()}
    with _commit_fails_for(ctx, bad):
        outcomes = run_tasks(ctx, [entries[i] for i in ids])
    assert {entry: o.status for entry, o in outcomes.items()} == {
        entries[i]: "failed" if i == bad else "done" for i in ids}
    assert set(_statuses(ctx).values()) == {"delivered", "accepted"}
    assert list(_statuses(ctx).values()).count("delivered") == 5


def test_a_message_is_logged_delivered_once_and_only_when_its_batch_committed(
        ctx, client, caplog):
    """The routing line says what is true: the rolled-back tries of a bisected batch log
    nothing, the message whose commit failed is never said to be delivered, and each
    other message is said so once, under the id of the request that brought it."""
    _, woonbron = partner(ctx)
    people = [person(7450 + n) for n in range(6)]
    register(ctx, *people)
    ids = [_post(client, woonbron, arrears(who, ref=f"L-{n}")) for n, who in enumerate(people)]
    bad = ids[2]
    with ctx.sessions() as session:
        cids = dict(session.execute(select(Message.id, Message.correlation_id)).all())
    entries = {e.message_id: e.id for e in _entries(ctx).values()}
    caplog.set_level(logging.INFO, logger="hub.core.router")
    with _commit_fails_for(ctx, bad):
        run_tasks(ctx, [entries[i] for i in ids])
    said = [(record.args[0], record.correlation_id) for record in caplog.records
            if record.name == "hub.core.router" and "to inbox item" in record.msg]
    assert sorted(said) == sorted((i, cids[i]) for i in ids if i != bad)


def test_unknown_rows_in_a_batch_are_reported_missing(ctx):
    assert run_tasks(ctx, [987654])[987654].status == "missing"


def test_a_csv_chunk_is_stored_with_bulk_statements_not_row_by_row(ctx):
    partner_id, _ = partner(ctx)
    with ctx.sessions() as session:
        woonbron = session.get(Partner, partner_id)
        session.expunge(woonbron)
    lines = [f"R-{n},Bewoner {n},,3317AB,{n % 900 + 1},,{n % 500 + 10}.00,2,2026-08-01,HC-{n}"
             for n in range(300)]
    # Two repeats of a line (one within the chunk) and one bad line.
    lines += ["R-7,Bewoner 7,,3317AB,8,,17.00,2,2026-08-01,HC-7", "R-x,,,,,,,,,"]
    with counting(ctx.engine) as counts:
        batch = ingest_batch(ctx=ctx, partner=woonbron, lines=[HEADER, *lines],
                             now=ctx.clock())
    assert (batch.total, batch.accepted, batch.duplicates, batch.rejected) == (302, 300, 1, 1)
    # One chunk: one INSERT for the messages, one for their outbox rows, one for errors.
    # On PostgreSQL the messages come by COPY (not a SQLAlchemy statement) into a staging
    # table, and one statement (WITH …) moves them on with their outbox rows.
    postgres = ctx.engine.dialect.name == "postgresql"
    assert counts.statements["INSERT INTO messages"] == (0 if postgres else 1), counts.statements
    assert counts.statements["INSERT INTO outbox"] == (0 if postgres else 1), counts.statements
    assert counts.statements["WITH"] == (1 if postgres else 0), counts.statements
    assert counts.statements["INSERT INTO batch_errors"] == 1, counts.statements
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 300
        assert session.scalar(select(func.count()).select_from(OutboxEntry)) == 300


def test_a_revocation_committed_while_a_batch_waits_for_the_resident_is_honoured(
        ctx, client, worker):
    # The revocation holds the resident's consent lock (and, on SQLite, the write lock)
    # when the batch starts: the batch waits for it, then decides on the revoked state.
    from consent import grants

    _, woonbron = partner(ctx)
    who, other = person(7500), person(7501)
    register(ctx, who, other)
    grant = _consent(client, ctx, who, categories=("wonen",))
    _consent(client, ctx, other, categories=("wonen",))
    for n in range(3):
        _post(client, woonbron, nuisance(who, ref=f"W-{n}"))
        _post(client, woonbron, nuisance(other, ref=f"O-{n}"))
    subject = ctx.pseudonyms.subject(who.bsn)
    ids = [e.id for e in _entries(ctx).values()]
    outcome: dict = {}
    with ctx.sessions() as session, session.begin():
        grants.revoke(session=session, subject=subject, consent_id=grant, now=ctx.clock())
        batch = threading.Thread(target=lambda: outcome.update(run_tasks(ctx, ids)))
        batch.start()
        # Give the batch the chance to run into the lock; it must not finish while the
        # revocation holds it (alive here whether or not it got that far: never flaky).
        batch.join(timeout=0.5)
        assert batch.is_alive()
    batch.join()
    assert {o.status for o in outcome.values()} == {"done"}
    statuses = _statuses(ctx)
    assert {statuses[f"W-{n}"] for n in range(3)} == {"held"}
    assert {statuses[f"O-{n}"] for n in range(3)} == {"delivered"}


def test_a_signal_no_wijk_can_ever_receive_is_dead_lettered_at_once_not_retried(
        ctx, client, worker, clock):
    # A BSN the registry does not know and no address: no wijkteam, not even its
    # triage, can receive it, and retrying changes nothing (an operator replays it
    # once the resident is registered).
    ctx.plugins.register(NoAddressPlugin(), name="noaddress-batch")
    try:
        _, woonbron = partner(ctx)
        who = person(7300)
        register(ctx, person(7301))
        _post(client, woonbron, {"type": "signal.noaddress", "source_ref": "X-1",
                                 "subject": {"bsn": who.bsn},
                                 "occurred_at": "2026-11-20T08:00:00+00:00",
                                 "data": {"note": "x"}})
        _post(client, woonbron, arrears(person(7301), ref="A-1"))
        assert worker.run_once() == 1
    finally:
        ctx.plugins.unregister("noaddress-batch")
    entries = _entries(ctx)
    assert (entries["X-1"].status, entries["X-1"].attempts, entries["X-1"].last_error) == (
        "dead", 1, "RoutingError")
    assert entries["A-1"].status == "done"
    assert _statuses(ctx) == {"X-1": "accepted", "A-1": "delivered"}
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(DeadLetter)) == 1


def test_a_batch_costs_statements_per_table_not_per_message(ctx, client, worker):
    _, woonbron = partner(ctx)
    few, many = [person(7400 + n) for n in range(3)], [person(7500 + n) for n in range(30)]
    register(ctx, *few, *many)
    for n, who in enumerate(few):
        _post(client, woonbron, arrears(who, ref=f"F-{n}"))
    with counting(ctx.engine) as three:
        assert worker.run_once() == 3
    for n, who in enumerate(many):
        _post(client, woonbron, arrears(who, ref=f"M-{n}"))
    with counting(ctx.engine) as thirty:
        assert worker.run_once() == 30
    # Ten times the messages, the same round trips: each table is read with one IN list
    # and written with one statement for the whole batch (the first batch also made
    # the audit chain's head).
    assert thirty.total <= three.total, (three.statements, thirty.statements)
    # The residents come with their households in one select; on PostgreSQL outreach
    # then locks them (FOR UPDATE), while SQLite's write lock, held by the routing
    # transaction from its start, serialises without reading them again.
    assert three.statements["SELECT FROM residents"] == 1, three.statements
    postgres = ctx.engine.dialect.name == "postgresql"
    assert three.statements["SELECT FROM households"] == (1 if postgres else 0), \
        three.statements
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(InboxItem)) == 33
        assert verify(session, ctx.keys).intact


def test_a_batchs_bulk_writes_skip_sqlalchemys_per_row_parameter_building(ctx, client, worker):
    # A column default computed in Python, say, sends a table's writes back through
    # session.execute (correct, but a sixth of a routed batch's CPU again, issue 14).
    _, woonbron = partner(ctx)
    people = [person(7600 + n) for n in range(4)]
    register(ctx, *people)
    for n, who in enumerate(people):
        _post(client, woonbron, arrears(who, ref=f"B-{n}"))
    assert worker.run_once() == 4
    served = bulk.prepared(ctx.engine.dialect.name)
    for table in ("inbox_items", "consent_decisions", "disclosures", "outreach_signals",
                  "outreach_cases"):
        assert served.get(f"INSERT INTO {table}") is True, served
    assert served.get("UPDATE messages") is True, served
    if ctx.engine.dialect.name == "sqlite":  # PostgreSQL appends audit events as one JSON
        assert served.get("INSERT INTO audit_events") is True, served
    # Only the router's own statements: consent.bulk's record is per process, and another
    # test of this process may have run one that must fall back (tests/consent/test_bulk.py).


def test_two_signals_of_one_household_in_one_batch_open_one_outreach_case(ctx, client, worker):
    from hub.core.outreach_models import OutreachCase, OutreachSignal

    _, woonbron = partner(ctx)
    # Two residents at one address: one household.
    one, two = person(7600, huisnummer="12"), person(7601, huisnummer="12")
    register(ctx, one, two)
    _post(client, woonbron, arrears(one, ref="H-1", tenancy="HC-A"))
    _post(client, woonbron, arrears(two, ref="H-2", tenancy="HC-B"))
    with counting(ctx.engine) as counts:
        assert worker.run_once() == 2
    assert counts.commits == 1
    with ctx.sessions() as session:
        # The second signal found the case the first opened in the same, unflushed batch.
        cases = session.scalars(select(OutreachCase)).all()
        assert len(cases) == 1 and cases[0].first_for_household
        assert session.scalar(select(func.count()).select_from(OutreachSignal)) == 2


def test_routing_stores_each_messages_outcome_from_plain_rows_in_one_update(ctx, client):
    from hub.core.message_rows import load_messages
    from hub.core.router import route_messages

    _, woonbron = partner(ctx)
    asked, known = person(7700), person(7701)
    register(ctx, asked, known)
    _consent(client, ctx, known)
    held = _post(client, woonbron, nuisance(asked, ref="H-1"))  # no consent: held
    first = _post(client, woonbron, arrears(known, ref="D-1", amount="900.00", tenancy="T-1"))
    linked = _post(client, woonbron, arrears(known, ref="D-2", amount="800.00", tenancy="T-1"))
    ids = [held, first, linked]
    with counting(ctx.engine) as counts, ctx.sessions() as session, session.begin():
        messages = load_messages(session, ids)
        statuses = route_messages(session=session, ctx=ctx, now=ctx.clock(),
                                  messages=[messages[i] for i in ids])
        assert statuses == {held: "held", first: "delivered", linked: "linked"}
        # Routed as plain rows (issue 14): no Message entity for the ORM to track or flush.
        assert not [o for o in session.identity_map.values() if isinstance(o, Message)]
    assert counts.statements["UPDATE messages"] == 1, counts.statements
    with ctx.sessions() as session:
        rows = {m.id: m for m in session.scalars(select(Message).where(Message.id.in_(ids)))}
        item = session.scalar(select(InboxItem).where(InboxItem.message_id == first))
    subject = ctx.pseudonyms.subject(known.bsn)
    assert (rows[held].status, rows[held].item_id, rows[held].wijk) == ("held", None, "krispijn")
    assert rows[held].request_id is not None
    assert rows[held].subject == ctx.pseudonyms.subject(asked.bsn)
    for message_id in (first, linked):
        row = rows[message_id]
        assert (row.item_id, row.subject, row.household_id, row.wijk, row.match_method) == (
            item.id, subject, item.household_id, "krispijn", "name+address")
        assert row.request_id is None

    # Routed again (a redelivery): finished messages are neither changed nor written.
    with counting(ctx.engine) as again, ctx.sessions() as session, session.begin():
        messages = load_messages(session, [first, linked])
        assert route_messages(session=session, ctx=ctx, now=ctx.clock(),
                              messages=[messages[first], messages[linked]]) == {
            first: "delivered", linked: "linked"}
    assert again.statements["UPDATE messages"] == 0, again.statements


def test_a_batch_seals_its_measures_in_one_call_and_hashes_each_address_once(
        ctx, client, worker, monkeypatch):
    from hub.core.router import route_message

    _, woonbron = partner(ctx)
    people = [person(7800 + n) for n in range(5)]
    register(ctx, *people)
    amounts = {f"S-{n}": f"{100 + n}.00" for n in range(5)}
    for n, who in enumerate(people):
        _post(client, woonbron, arrears(who, ref=f"S-{n}", amount=amounts[f"S-{n}"]))
    seals: list[int] = []
    addresses: list[str] = []
    seal_many, address = ctx.cipher.seal_many, ctx.pseudonyms.address

    def counted_seal_many(documents):
        seals.append(len(documents))
        return seal_many(documents)

    def counted_address(postcode, huisnummer):
        addresses.append(huisnummer)
        return address(postcode, huisnummer)

    monkeypatch.setattr(ctx.cipher, "seal_many", counted_seal_many)
    monkeypatch.setattr(ctx.pseudonyms, "address", counted_address)
    assert worker.run_once() == 5
    # One key set-up for the batch's five measures; one keyed hash per address.
    assert seals == [5]
    assert sorted(addresses) == sorted(p.huisnummer for p in people)
    with ctx.sessions() as session:
        found = {open_ref(ctx, m): ctx.cipher.open(i.measure, context=f"measure:{m.id}")
                 for m, i in session.execute(select(Message, InboxItem).join(
                     InboxItem, InboxItem.message_id == Message.id))}
    assert found == amounts

    # A message routed alone takes the same path: its measure sealed with its context.
    who = person(7810)
    register(ctx, who)
    alone = _post(client, woonbron, arrears(who, ref="S-alone", amount="77.00"))
    with ctx.sessions() as session, session.begin():
        assert route_message(session=session, ctx=ctx, message_id=alone,
                             now=ctx.clock()) == "delivered"
    with ctx.sessions() as session:
        sealed = session.scalar(select(InboxItem.measure).where(InboxItem.message_id == alone))
    assert ctx.cipher.open(sealed, context=f"measure:{alone}") == "77.00"


def test_an_outreach_case_row_holds_every_column_of_its_table():
    from hub.core.outreach import CASE_COLUMNS
    from hub.core.outreach_models import OutreachCase

    # A case opened by a batch is inserted from these fields alone: a new column must be here.
    assert set(CASE_COLUMNS) == set(OutreachCase.__table__.columns.keys())


def test_a_later_batch_joins_the_open_case_with_one_update_and_no_case_entity(
        ctx, client, worker, clock):
    from hub.core.message_rows import load_messages
    from hub.core.outreach import contact_of
    from hub.core.outreach_models import OutreachCase, OutreachSignal
    from hub.core.router import route_messages
    from tests.utils.outreach import END_OF_SUPPLY, creditor_signal

    _, woonbron = partner(ctx)
    _, eneco = partner(ctx, "Eneco", kind="energie")
    who = person(7900)
    register(ctx, who)
    _post(client, woonbron, arrears(who, ref="J-1"))
    with counting(ctx.engine) as first:
        assert worker.run_once() == 1
    assert first.statements["INSERT INTO outreach_cases"] == 1, first.statements
    with ctx.sessions() as session:
        (opened,) = session.scalars(select(OutreachCase)).all()
    clock.advance(days=1)
    notice = _post(client, eneco, creditor_signal(who, type_=END_OF_SUPPLY, ref="E-1",
                                                  phone="06 12345678"))
    with counting(ctx.engine) as later, ctx.sessions() as session, session.begin():
        messages = load_messages(session, [notice])
        assert route_messages(session=session, ctx=ctx, now=ctx.clock(),
                              messages=[messages[notice]]) == {notice: "delivered"}
        # The case was read and joined as a plain row: no entity for the ORM to flush.
        assert not [o for o in session.identity_map.values() if isinstance(o, OutreachCase)]
    assert later.statements["INSERT INTO outreach_cases"] == 0, later.statements
    assert later.statements["UPDATE outreach_cases"] == 1, later.statements
    with ctx.sessions() as session:
        (joined,) = session.scalars(select(OutreachCase)).all()
        assert session.scalar(select(func.count()).select_from(OutreachSignal)) == 2
    # What joining changes was stored; what opening set stayed.
    assert joined.id == opened.id and joined.urgency > opened.urgency
    assert joined.updated_at == clock.now > opened.updated_at
    assert (joined.opened_at, joined.due_at, joined.subject, joined.first_for_household) == (
        opened.opened_at, opened.due_at, opened.subject, True)
    assert contact_of(ctx, joined) == {"phone": "+31612345678"}


def test_the_rows_every_message_adds_have_time_ordered_ids(ctx, client, worker):
    # Version-7 ids (hub.core.ids.new_uuid7): the indexes of these tables grow at their
    # end, not at a random page per row, which is most of a big batch's write cost.
    import uuid

    from consent.tables import consent_decisions
    from hub.core.outreach_models import OutreachCase

    _, woonbron = partner(ctx)
    who = person(7700)
    register(ctx, who)
    _consent(client, ctx, who)
    _post(client, woonbron, arrears(who, ref="V-1"))
    assert worker.run_once() == 1
    with ctx.sessions() as session:
        made = {
            "message": session.scalar(select(Message.id)),
            "item": session.scalar(select(InboxItem.id)),
            "decision": session.scalar(select(consent_decisions.c.id)),
            "case": session.scalar(select(OutreachCase.id)),
        }
    assert {name: uuid.UUID(value).version for name, value in made.items()} == dict.fromkeys(
        made, 7)
