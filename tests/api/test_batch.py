"""POST /api/v1/messages/batch and GET /api/v1/batches/{id}: the monthly arrears CSV."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tests.utils.builders import partner, person, regisseur, register

PROBLEM_JSON = "application/problem+json"
HEADER = "source_ref,name,birthdate,postcode,huisnummer,bsn,amount_eur,months,since,tenancy_ref"
INVALID_BSN = "123456789"  # fails the elfproef
BAD_DATE = "2026-02-30"

ANNA = person(1)  # 3317AB 2, Krispijn
BOB = person(2)  # 3317AB 3, Krispijn

GOOD_LINES = [
    f"R-1,{ANNA.name},,{ANNA.postcode},{ANNA.huisnummer},,1250.00,3,2026-08-01,HC-1",
    f"R-2,{BOB.name},{BOB.birthdate},{BOB.postcode},{BOB.huisnummer},{BOB.bsn},"
    "800.50,2,2026-09-01,HC-2",
]
# (line as sent, the field its error must name, values that must not be echoed)
BAD_LINES = [
    (f"R-3,Carla de Vries,,3317AB,40,{INVALID_BSN},500.00,2,2026-09-01,HC-3", "bsn",
     [INVALID_BSN]),
    ("R-4,Dirk Bos,,3317AB,41,,,2,2026-09-01,HC-4", "amount_eur", []),
    (f"R-5,Eva Smit,,3317AB,42,,500.00,2,{BAD_DATE},HC-5", "since", [BAD_DATE]),
    ("R-6,Frank,3317AB,43", "line", ["Frank"]),
    ("R-7,Gerrit Kok,,1012AB,44,,500.00,2,2026-09-01,HC-7", "postcode", ["1012AB", "1012"]),
]


def _csv(*lines: str) -> bytes:
    return ("\n".join([HEADER, *lines]) + "\n").encode()


def _count(ctx, table: str) -> int:
    with ctx.engine.connect() as conn:
        return conn.execute(text(f"select count(*) from {table}")).scalar_one()


def _stored(ctx) -> tuple[int, int, int]:
    return _count(ctx, "messages"), _count(ctx, "outbox"), _count(ctx, "batches")


def _send(client, body: bytes, headers: dict[str, str], content_type: str = "text/csv"):
    return client.post("/api/v1/messages/batch", content=body,
                       headers={**headers, "Content-Type": content_type})


def _assert_problem(response, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == PROBLEM_JSON
    body = response.json()
    assert field in [e["field"] for e in body.get("errors", [])], body
    assert field in body["detail"], body
    return body


def test_batch_with_good_and_broken_lines(ctx, client, worker):
    register(ctx, ANNA, BOB)
    _, woonbron = partner(ctx)
    # Good and bad lines mixed: the header is line 1, so the lines are 2..8.
    lines = [GOOD_LINES[0], *[b[0] for b in BAD_LINES[:3]], GOOD_LINES[1],
             *[b[0] for b in BAD_LINES[3:]]]
    r = _send(client, _csv(*lines), woonbron)
    assert r.status_code == 202, r.text
    batch_id = r.json()["batch_id"]

    report = client.get(f"/api/v1/batches/{batch_id}", headers=woonbron)
    assert report.status_code == 200, report.text
    batch = report.json()
    assert batch["status"] == "done"
    assert (batch["total"], batch["accepted"], batch["duplicates"], batch["rejected"]) == \
        (7, 2, 0, 5)
    expected = {3: "bsn", 4: "amount_eur", 5: "since", 7: "line", 8: "postcode"}
    assert {(e["line"], e["field"]) for e in batch["errors"]} == set(expected.items())
    by_line = {e["line"]: e for e in batch["errors"]}
    assert "BSN" in by_line[3]["reason"] or "bsn" in by_line[3]["reason"]
    assert "10" in by_line[7]["reason"]  # the expected column count
    for (_line, _field, secrets), error in zip(
            BAD_LINES, [by_line[n] for n in (3, 4, 5, 7, 8)], strict=True):
        assert error["reason"]
        for secret in secrets:
            assert secret not in error["reason"], error
    assert INVALID_BSN not in report.text
    with ctx.engine.connect() as conn:
        assert conn.execute(text("select count(*) from messages where batch_id = :b"),
                            {"b": batch_id}).scalar_one() == 2

    assert worker.drain() == 2
    page = client.get("/api/v1/inbox", headers=regisseur(ctx)).json()
    assert page["total"] == 2
    assert {i["data"]["name"] for i in page["items"]} == {ANNA.name, BOB.name}
    assert all(not i["triage"] for i in page["items"])


def test_same_batch_again_stores_nothing_twice(ctx, client, worker):
    register(ctx, ANNA, BOB)
    _, woonbron = partner(ctx)
    body = _csv(*GOOD_LINES, *[b[0] for b in BAD_LINES])
    first = _send(client, body, woonbron)
    assert first.status_code == 202, first.text
    worker.drain()
    before = _count(ctx, "messages"), _count(ctx, "outbox"), _count(ctx, "inbox_items")
    again = _send(client, body, woonbron)
    assert again.status_code == 202, again.text
    assert again.json()["batch_id"] != first.json()["batch_id"]
    batch = client.get(f"/api/v1/batches/{again.json()['batch_id']}", headers=woonbron).json()
    assert (batch["accepted"], batch["duplicates"], batch["rejected"]) == (0, 2, 5)
    worker.drain()
    after = _count(ctx, "messages"), _count(ctx, "outbox"), _count(ctx, "inbox_items")
    assert after == before == (2, 2, 2)


def test_excel_export_with_bom_and_crlf_is_read(ctx, client):
    _, woonbron = partner(ctx)
    body = ("\ufeff" + "\r\n".join([HEADER, *GOOD_LINES]) + "\r\n").encode()
    r = _send(client, body, woonbron, "text/csv; charset=utf-8")
    assert r.status_code == 202, r.text
    batch = client.get(f"/api/v1/batches/{r.json()['batch_id']}", headers=woonbron).json()
    assert (batch["accepted"], batch["rejected"]) == (2, 0), batch


def test_control_characters_in_a_line_are_refused_per_line(ctx, client):
    _, woonbron = partner(ctx)
    nul = f"R-\x009,{ANNA.name},,{ANNA.postcode},{ANNA.huisnummer},,10.00,1,2026-08-01,HC-9"
    r = _send(client, _csv(GOOD_LINES[0], nul), woonbron)
    assert r.status_code == 202, r.text
    batch = client.get(f"/api/v1/batches/{r.json()['batch_id']}", headers=woonbron).json()
    assert (batch["accepted"], batch["rejected"]) == (1, 1), batch
    assert [(e["line"], e["field"]) for e in batch["errors"]] == [(3, "source_ref")]


def test_wrong_header_is_refused_and_nothing_stored(ctx, client):
    _, woonbron = partner(ctx)
    body = ("source_ref,naam,postcode\n" + "\n".join(GOOD_LINES)).encode()
    r = _send(client, body, woonbron)
    problem = _assert_problem(r, 422, "header")
    assert HEADER in problem["detail"]
    assert _stored(ctx) == (0, 0, 0)


def test_empty_file_is_refused_naming_header(ctx, client):
    _, woonbron = partner(ctx)
    _assert_problem(_send(client, b"", woonbron), 422, "header")
    assert _stored(ctx) == (0, 0, 0)


def test_non_utf8_csv_is_refused(ctx, client):
    _, woonbron = partner(ctx)
    latin1 = (HEADER + "\nR-1,Jérôme Müller,,3317AB,2,,10.00,1,2026-08-01,HC-1\n")
    r = _send(client, latin1.encode("latin-1"), woonbron)
    problem = _assert_problem(r, 422, "body")
    assert "UTF-8" in problem["detail"]
    assert _stored(ctx) == (0, 0, 0)


def test_wrong_content_type_is_415(ctx, client):
    _, woonbron = partner(ctx)
    r = _send(client, _csv(*GOOD_LINES), woonbron, "application/json")
    _assert_problem(r, 415, "content-type")
    assert _stored(ctx) == (0, 0, 0)


def test_batch_needs_a_partner_key(ctx, client):
    partner(ctx)
    r = _send(client, _csv(*GOOD_LINES), {"Authorization": "Bearer whk_wrong"})
    _assert_problem(r, 401, "authorization")
    assert r.headers["www-authenticate"] == "Bearer"
    assert _stored(ctx) == (0, 0, 0)


def test_partner_kind_without_a_batch_format_is_403(ctx, client):
    _, other = partner(ctx, "Evides", kind="evides-test")
    r = _send(client, _csv(*GOOD_LINES), other)
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].split(";")[0] == PROBLEM_JSON
    assert _stored(ctx) == (0, 0, 0)


def test_another_partner_cannot_read_the_batch(ctx, client):
    _, woonbron = partner(ctx, "Woonbron")
    _, trivire = partner(ctx, "Trivire")
    r = _send(client, _csv(*GOOD_LINES, BAD_LINES[0][0]), woonbron)
    batch_id = r.json()["batch_id"]
    other = client.get(f"/api/v1/batches/{batch_id}", headers=trivire)
    assert other.status_code == 404, other.text
    assert other.headers["content-type"].split(";")[0] == PROBLEM_JSON
    assert "errors" not in other.json() or not other.json()["errors"]
    assert client.get(f"/api/v1/batches/{batch_id}", headers=woonbron).status_code == 200
    assert client.get("/api/v1/batches/no-such-batch", headers=woonbron).status_code == 404


def test_unreadable_line_is_reported_and_the_lines_after_it_still_count(ctx, client):
    _, woonbron = partner(ctx)
    huge = f"R-8,{'x' * 200_000},,3317AB,50,,10.00,1,2026-08-01,HC-8"  # beyond csv's field limit
    r = _send(client, _csv(GOOD_LINES[0], huge, GOOD_LINES[1]), woonbron)
    assert r.status_code == 202, r.text
    batch = client.get(f"/api/v1/batches/{r.json()['batch_id']}", headers=woonbron).json()
    assert (batch["total"], batch["accepted"], batch["rejected"]) == (3, 2, 1), batch
    assert [(e["line"], e["field"]) for e in batch["errors"]] == [(3, "line")]
    assert "x" * 50 not in batch["errors"][0]["reason"]


def test_any_source_ref_is_an_ordinary_line(ctx, client):
    """A cell's text never changes how the line is read (no in-band markers)."""
    _, woonbron = partner(ctx)
    line = (f"__csv_error__,{ANNA.name},,{ANNA.postcode},{ANNA.huisnummer},,"
            "1250.00,3,2026-08-01,HC-9")
    response = _send(client, _csv(line), woonbron)
    assert response.status_code == 202, response.text
    batch = client.get(f"/api/v1/batches/{response.json()['batch_id']}", headers=woonbron).json()
    assert (batch["accepted"], batch["rejected"], batch["errors"]) == (1, 0, [])


def test_an_unexpected_error_midway_marks_the_batch_failed_keeping_what_was_stored(
        ctx, client, monkeypatch):
    """The import runs after the 202: an error there is reported on the batch, not lost."""
    import hub.core.batch

    _, woonbron = partner(ctx)
    real = hub.core.batch._import_chunk
    calls = []

    def second_chunk_breaks(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return real(**kwargs)

    monkeypatch.setattr(hub.core.batch, "_import_chunk", second_chunk_breaks)
    monkeypatch.setattr(ctx.settings, "batch_chunk_lines", 1)
    r = _send(client, _csv(*GOOD_LINES), woonbron)
    assert r.status_code == 202, r.text
    batch = client.get(f"/api/v1/batches/{r.json()['batch_id']}", headers=woonbron).json()
    assert (batch["status"], batch["total"], batch["accepted"], batch["lines_done"]) == \
        ("failed", 1, 1, 1)
    assert _count(ctx, "messages") == _count(ctx, "outbox") == 1

    monkeypatch.setattr(hub.core.batch, "_import_chunk", real)
    again = _send(client, _csv(*GOOD_LINES), woonbron)
    batch = client.get(f"/api/v1/batches/{again.json()['batch_id']}", headers=woonbron).json()
    assert (batch["status"], batch["accepted"], batch["duplicates"]) == ("done", 1, 1)
    assert _count(ctx, "messages") == 2


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
def test_any_text_after_the_header_ends_in_a_finished_batch(ctx, client, text):
    if not hasattr(ctx, "_batch_key"):
        ctx._batch_key = partner(ctx)[1]
    r = _send(client, f"{HEADER}\n{text}".encode(), ctx._batch_key)
    assert r.status_code in (202, 422), r.text
    if r.status_code == 202:
        batch = client.get(f"/api/v1/batches/{r.json()['batch_id']}",
                           headers=ctx._batch_key).json()
        assert batch["status"] == "done", batch
        assert batch["total"] == batch["accepted"] + batch["duplicates"] + batch["rejected"]


def test_a_streamed_batch_above_the_limit_is_413_and_nothing_is_stored(ctx):
    import dataclasses

    from fastapi.testclient import TestClient

    from hub.app import create_app

    _, woonbron = partner(ctx)
    small_ctx = dataclasses.replace(
        ctx, settings=ctx.settings.model_copy(update={"max_batch_bytes": 4096}))
    body = _csv(*GOOD_LINES * 40)
    assert len(body) > 4096

    def chunks():  # no Content-Length: counted as it arrives, while it is spooled
        for start in range(0, len(body), 1000):
            yield body[start:start + 1000]

    with TestClient(create_app(small_ctx, run_worker=False),
                    raise_server_exceptions=False) as small:
        r = small.post("/api/v1/messages/batch", content=chunks(),
                       headers={**woonbron, "Content-Type": "text/csv"})
        problem = _assert_problem(r, 413, "body")
        assert "4096" in problem["detail"]
    assert _stored(ctx) == (0, 0, 0)


def test_refused_lines_come_a_page_at_a_time(ctx, client):
    _, woonbron = partner(ctx)
    bad = [f"R-{n},Naam,,3317AB,{n},,veel,2,2026-09-01,HC-{n}" for n in range(1, 13)]
    batch_id = _send(client, _csv(*bad), woonbron).json()["batch_id"]
    url = f"/api/v1/batches/{batch_id}"
    first = client.get(url, params={"errors_limit": 5}, headers=woonbron).json()
    assert (first["rejected"], first["errors_total"], len(first["errors"])) == (12, 12, 5)
    rest = client.get(url, params={"errors_limit": 10, "errors_offset": 5},
                      headers=woonbron).json()
    assert [e["line"] for e in first["errors"] + rest["errors"]] == list(range(2, 14))
    r = client.get(url, params={"errors_limit": 10_001}, headers=woonbron)
    _assert_problem(r, 422, "errors_limit")


def test_repeats_in_and_across_chunks_and_a_bad_line_midway_through_the_route(
        ctx, client, worker, monkeypatch):
    # Chunks of 3 lines (on PostgreSQL each goes in by COPY): R-1 comes back inside the
    # first chunk and R-2 in the third; the bad amount on file line 6 is in the second.
    monkeypatch.setattr(ctx.settings, "batch_chunk_lines", 3)
    register(ctx, ANNA, BOB)
    _, woonbron = partner(ctx)
    line = GOOD_LINES[0].replace("R-1,", "{ref},")
    lines = [line.format(ref=ref) for ref in ("R-1", "R-2", "R-1", "R-3", "R-4", "R-5",
                                              "R-6", "R-2", "R-7")]
    lines[4] = lines[4].replace("1250.00", "veel")
    r = _send(client, _csv(*lines), woonbron)
    assert r.status_code == 202, r.text
    batch = client.get(f"/api/v1/batches/{r.json()['batch_id']}", headers=woonbron).json()
    assert (batch["status"], batch["total"], batch["accepted"], batch["duplicates"],
            batch["rejected"]) == ("done", 9, 6, 2, 1)
    assert [(e["line"], e["field"]) for e in batch["errors"]] == [(6, "amount_eur")]
    # Nothing half stored: every accepted line is one message with one outbox row.
    assert _stored(ctx) == (6, 6, 1)
    assert worker.drain() == 6
    assert _count(ctx, "inbox_items") >= 1
    with ctx.engine.connect() as conn:
        assert conn.execute(text("select count(*) from messages where status = 'accepted'")
                            ).scalar_one() == 0
