"""GET /metrics: counts per partner, type, basis and outcome; queue gauges; no person in it."""

from __future__ import annotations

import dataclasses

from pydantic import SecretStr
from sqlalchemy import select

from hub.core.models import InboxItem, Message, OutboxEntry
from hub.core.source_refs import open_ref
from tests.observability.helpers import samples, sqlite_only, value
from tests.utils.builders import (
    arrears,
    nuisance,
    operator,
    partner,
    person,
    regisseur,
    register,
    resident,
)

ANNA = person(5101, name="Annemarie Zwijnenburg")
BOB = person(5102, name="Bartholomeus Oosterhuis")
CSV_HEADER = "source_ref,name,birthdate,postcode,huisnummer,bsn,amount_eur,months,since,tenancy_ref"
ARREARS = "signal.arrears.rent"
NUISANCE = "signal.nuisance"


def scrape(client, ctx) -> tuple[str, dict]:
    r = client.get("/metrics", headers=operator(ctx))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return r.text, samples(r.text)


def test_a_realistic_run_is_counted_per_partner_type_basis_and_outcome(ctx, client, worker,
                                                                       clock):
    register(ctx, ANNA, BOB)
    _, woonbron = partner(ctx)
    sent = [
        arrears(ANNA, ref="M-1", by_bsn=True),       # statute, minimal
        arrears(BOB, ref="M-2"),                     # statute, matched by name and address
        nuisance(ANNA, ref="M-3"),                   # no basis: held, the resident is asked
    ]
    for body in sent:
        assert client.post("/api/v1/messages", json=body, headers=woonbron).status_code == 202
    assert client.post("/api/v1/messages", json=sent[0], headers=woonbron).status_code == 202
    bad_bsn = {**arrears(ANNA, ref="M-4"), "subject": {"bsn": ANNA.bsn[:-1] + "0"}}
    made_up_type = {**arrears(ANNA, ref="M-5"), "type": BOB.bsn}  # a label must never echo it
    assert client.post("/api/v1/messages", json=bad_bsn, headers=woonbron).status_code == 422
    assert client.post("/api/v1/messages", json=made_up_type,
                       headers=woonbron).status_code == 422
    assert client.post("/api/v1/messages", content=b"{not json", headers={
        **woonbron, "Content-Type": "application/json"}).status_code == 422
    batch = "\n".join([
        CSV_HEADER,
        f"B-1,{BOB.name},,{BOB.postcode},{BOB.huisnummer},,300.00,1,2026-10-01,HC-B",
        f"B-2,{ANNA.name},,{ANNA.postcode},{ANNA.huisnummer},{ANNA.bsn[:-1]}0,1,1,2026-10-01,X",
    ])
    assert client.post("/api/v1/messages/batch", content=batch.encode(), headers={
        **woonbron, "Content-Type": "text/csv"}).status_code == 202

    clock.advance(seconds=3)  # routed three seconds after receipt
    worker.drain()
    me = resident(ctx, ANNA)
    (request,) = client.get("/api/v1/me/requests", headers=me).json()
    assert client.post(f"/api/v1/me/requests/{request['id']}/approve",
                       headers=me).status_code == 200
    clock.advance(hours=2)  # the nuisance waited two hours for the resident's answer
    worker.drain()
    # The same arrears again, not grown: a herhaalde melding, linked to the open item.
    repeat = arrears(ANNA, ref="M-6", by_bsn=True)
    assert client.post("/api/v1/messages", json=repeat, headers=woonbron).status_code == 202
    worker.drain()

    text, scraped = scrape(client, ctx)

    def msg_in(type_: str, outcome: str) -> float:
        return value(scraped, "wijkhub_messages_in_total", partner="Woonbron", type=type_,
                     outcome=outcome)

    assert msg_in(ARREARS, "accepted") == 4  # M-1, M-2, M-6 and batch line B-1
    assert msg_in(NUISANCE, "accepted") == 1
    assert msg_in(ARREARS, "duplicate") == 1
    assert msg_in(ARREARS, "rejected") == 2  # the bad BSN, and batch line B-2
    assert msg_in("unknown", "rejected") == 2  # the made-up type and the unreadable body

    def decisions(type_: str, basis: str, outcome: str) -> float:
        return value(scraped, "wijkhub_decisions_total", type=type_, basis=basis,
                     outcome=outcome)

    assert decisions(ARREARS, "statute", "deliver_minimal") == 4
    assert decisions(NUISANCE, "none", "hold") == 1
    assert decisions(NUISANCE, "consent", "deliver_full") == 1

    def out(type_: str, basis: str, outcome: str) -> float:
        return value(scraped, "wijkhub_messages_out_total", partner="Woonbron", type=type_,
                     basis=basis, outcome=outcome)

    assert out(ARREARS, "statute", "delivered") == 3
    assert out(ARREARS, "statute", "linked") == 1
    assert out(NUISANCE, "consent", "delivered") == 1

    def latency(suffix: str, type_: str, basis: str, **le: str) -> float:
        return value(scraped, f"wijkhub_receipt_to_inbox_seconds_{suffix}", type=type_,
                     basis=basis, **le)

    assert latency("count", ARREARS, "statute") == 4
    assert latency("bucket", ARREARS, "statute", le="2.5") == 1  # M-6 routed at once
    assert latency("bucket", ARREARS, "statute", le="5.0") == 4  # the others after 3 s
    assert latency("bucket", NUISANCE, "consent", le="3600.0") == 0
    assert latency("bucket", NUISANCE, "consent", le="14400.0") == 1  # 2 h 3 s
    assert value(scraped, "wijkhub_queue_depth") == 0
    assert value(scraped, "wijkhub_dead_letters") == 0
    assert value(scraped, "wijkhub_store_up") == 1

    # Never a label (or anything else in the exposition) that identifies a person.
    with ctx.sessions() as session:
        messages = session.scalars(select(Message)).all()
        items = session.scalars(select(InboxItem)).all()
    assert len(items) == 4
    personal = [ANNA.bsn, BOB.bsn, ANNA.bsn[:-1] + "0", ANNA.name, BOB.name, "Annemarie",
                "Zwijnenburg", ANNA.postcode, "HC-", ctx.pseudonyms.subject(ANNA.bsn)]
    personal += [m.id for m in messages] + [open_ref(ctx, m) for m in messages]
    personal += [i.id for i in items] + [i.household_id for i in items if i.household_id]
    for secret in personal:
        assert secret not in text, f"/metrics shows {secret[:4]}..."


@sqlite_only
def test_metrics_need_an_operator_or_the_scrape_token(ctx, client):
    r = client.get("/metrics")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "authorization"
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/metrics", headers=regisseur(ctx)).status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    assert client.get("/metrics", headers=operator(ctx)).status_code == 200


@sqlite_only
def test_the_scrape_token_opens_metrics_and_nothing_else(ctx, client_factory):
    token = "prometheus-scrape-credential-0123456789"
    scraped_ctx = dataclasses.replace(
        ctx, settings=ctx.settings.model_copy(update={"metrics_token": SecretStr(token)}))
    client = client_factory(scraped_ctx)
    r = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert "wijkhub_queue_depth" in r.text
    assert client.get("/metrics", headers={
        "Authorization": f"Bearer {token[:-1]}X"}).status_code == 401
    # It is no operator token: the operator's other endpoints stay closed to it.
    assert client.get("/api/v1/inbox", headers={
        "Authorization": f"Bearer {token}"}).status_code == 401


@sqlite_only
def test_openmetrics_is_served_when_asked_for(ctx, client):
    r = client.get("/metrics", headers={**operator(ctx),
                                        "Accept": "application/openmetrics-text"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/openmetrics-text")
    assert r.text.rstrip().endswith("# EOF")


def test_dead_letters_and_queue_depth_are_counted_in_the_store(ctx, client, worker, clock):
    register(ctx, ANNA)
    _, woonbron = partner(ctx)
    assert client.post("/api/v1/messages", json=arrears(ANNA, ref="D-1"),
                       headers=woonbron).status_code == 202
    with ctx.sessions() as session, session.begin():
        message_id = session.scalars(select(Message.id)).one()
        # Work no handler knows: every attempt fails, then it is dead-lettered.
        session.add(OutboxEntry(message_id=message_id, task="unknown-task", status="pending",
                                attempts=0, next_attempt_at=clock(), created_at=clock(),
                                updated_at=clock()))
    _, before = scrape(client, ctx)
    assert value(before, "wijkhub_queue_depth") == 2
    clock.advance(seconds=90)
    _, waiting = scrape(client, ctx)
    assert value(waiting, "wijkhub_queue_oldest_age_seconds") == 90

    worker.drain()  # routes D-1; the unknown task fails once and waits
    _, after_one = scrape(client, ctx)
    assert value(after_one, "wijkhub_queue_depth") == 1
    assert value(after_one, "wijkhub_task_failures_total", task="unknown-task",
                 error="LookupError") == 1
    for seconds in (1, 2):  # the backoff of the fixture's settings; max_attempts=3
        clock.advance(seconds=seconds)
        worker.drain()
    _, after = scrape(client, ctx)
    assert value(after, "wijkhub_queue_depth") == 0
    assert value(after, "wijkhub_dead_letters") == 1
    assert value(after, "wijkhub_task_failures_total", task="unknown-task",
                 error="LookupError") == 3


@sqlite_only
def test_a_rolled_back_routing_counts_nothing(ctx, client, worker, clock, monkeypatch):
    # A routing that fails after its decision is rolled back and retried: the decision
    # must be counted once, when it commits, not once per attempt.
    register(ctx, ANNA)
    _, woonbron = partner(ctx)
    assert client.post("/api/v1/messages", json=arrears(ANNA, ref="R-1"),
                       headers=woonbron).status_code == 202
    real = ctx.plugins.catalog.type(ARREARS)
    monkeypatch.setitem(ctx.plugins.catalog.types, ARREARS,
                        dataclasses.replace(real, repeat_key=_explode))
    worker.drain()
    monkeypatch.setitem(ctx.plugins.catalog.types, ARREARS, real)
    _, failed = scrape(client, ctx)
    assert value(failed, "wijkhub_decisions_total", type=ARREARS, basis="statute",
                 outcome="deliver_minimal") == 0
    assert value(failed, "wijkhub_task_failures_total", task="route", error="RuntimeError") == 1
    clock.advance(seconds=1)
    worker.drain()
    _, routed = scrape(client, ctx)
    assert value(routed, "wijkhub_decisions_total", type=ARREARS, basis="statute",
                 outcome="deliver_minimal") == 1
    assert value(routed, "wijkhub_messages_out_total", partner="Woonbron", type=ARREARS,
                 basis="statute", outcome="delivered") == 1


def _explode(_data):
    raise RuntimeError("a plugin bug")


@sqlite_only
def test_each_hub_has_its_own_registry(ctx, client, settings, clock):
    from hub.core.context import build_context

    other = build_context(settings, clock=clock)
    try:
        ctx.metrics.message_in(partner="Woonbron", type=ARREARS, outcome="accepted")
        _, scraped = scrape(client, ctx)
        assert value(scraped, "wijkhub_messages_in_total", partner="Woonbron", type=ARREARS,
                     outcome="accepted") == 1
        assert other.metrics.registry.get_sample_value(
            "wijkhub_messages_in_total",
            {"partner": "Woonbron", "type": ARREARS, "outcome": "accepted"}) is None
    finally:
        other.dispose()


@sqlite_only
def test_requests_are_counted_per_route_template_never_per_path(ctx, client):
    _, woonbron = partner(ctx)
    looked_up = "3f1e2d4c-0000-4000-8000-5101aa000001"
    assert client.get(f"/api/v1/messages/{looked_up}", headers=woonbron).status_code == 404
    assert client.get(f"/no/such/{ANNA.bsn}").status_code == 404
    assert client.request("BREW", "/healthz").status_code == 405
    text, scraped = scrape(client, ctx)
    assert value(scraped, "wijkhub_http_requests_total", method="GET",
                 route="/api/v1/messages/{message_id}", status="404") == 1
    assert value(scraped, "wijkhub_http_requests_total", method="GET", route="unmatched",
                 status="404") == 1
    assert value(scraped, "wijkhub_http_requests_total", method="other", route="/healthz",
                 status="405") == 1
    assert value(scraped, "wijkhub_http_request_duration_seconds_count", method="GET",
                 route="/api/v1/messages/{message_id}") == 1
    assert looked_up not in text and ANNA.bsn not in text
