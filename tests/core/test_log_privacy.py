"""Privacy is the product: no BSN, name, key or message data in any log line."""

from __future__ import annotations

import logging

from tests.utils.builders import arrears, nuisance, partner, person, regisseur, register, resident


def test_a_full_flow_logs_no_personal_data_or_secrets(ctx, client, worker, caplog):
    caplog.set_level(logging.DEBUG)
    anna = person(4242, name="Annemarie Zwijnenburg")
    register(ctx, anna)
    _, woonbron = partner(ctx)
    me, staff = resident(ctx, anna), regisseur(ctx)
    secrets_used = [anna.bsn, anna.name, woonbron["Authorization"].split()[1],
                    me["Authorization"].split()[1], staff["Authorization"].split()[1],
                    "Geluidsoverlast in de avond", "HC-"]
    client.post("/api/v1/messages", json=arrears(anna, ref="L-1", by_bsn=True), headers=woonbron)
    client.post("/api/v1/messages", json=nuisance(anna, ref="L-2"), headers=woonbron)
    client.post("/api/v1/messages", json={**arrears(anna, ref="L-3"), "subject": {
        "bsn": anna.bsn[:-1] + "0"}}, headers=woonbron)  # a bad BSN: its error is logged?
    worker.drain()
    for request in client.get("/api/v1/me/requests", headers=me).json():
        client.post(f"/api/v1/me/requests/{request['id']}/approve", headers=me)
    worker.drain()
    page = client.get("/api/v1/inbox", headers=staff).json()
    assert page["total"] == 2  # the flow really ran: arrears and nuisance delivered
    logged = "\n".join(record.getMessage() + str(record.args or "") for record in caplog.records)
    assert logged, "the flow should have logged something"
    for secret in secrets_used:
        assert secret not in logged, f"a log line holds {secret[:3]}..."


def test_json_log_lines_hold_no_personal_data_even_via_the_correlation_header(
        ctx, client, worker, caplog):
    # Every formatted JSON line (message, correlation id, any extra field), not only the
    # messages: a BSN sent as X-Correlation-ID must never reach a log.
    from hub.core.logsetup import json_formatter

    caplog.set_level(logging.DEBUG)
    anna = person(4243, name="Willemijn Verschoor")
    register(ctx, anna)
    _, woonbron = partner(ctx)
    for ref, cid in (("J-1", anna.bsn), ("J-2", f"ref-{anna.bsn}"), ("J-3", "06-12345678")):
        r = client.post("/api/v1/messages", json=arrears(anna, ref=ref, by_bsn=True),
                        headers={**woonbron, "X-Correlation-ID": cid})
        assert r.status_code == 202
        assert anna.bsn not in r.headers["X-Correlation-ID"]
    client.post("/api/v1/messages", json=nuisance(anna, ref="J-4"), headers=woonbron)
    worker.drain()
    formatter = json_formatter()
    lines = [formatter.format(record) for record in caplog.records]
    assert any('"correlation_id": "' in line for line in lines), "ids should be logged"
    logged = "\n".join(lines)
    for secret in (anna.bsn, anna.name, "Willemijn", woonbron["Authorization"].split()[1],
                   "Geluidsoverlast in de avond", "HC-", ctx.pseudonyms.subject(anna.bsn)):
        assert secret not in logged, f"a JSON log line holds {secret[:3]}..."
