"""Builders and checks shared by the tests of the arrears partners (energie, zorgverzekeraar)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from tests.utils.builders import Person, regisseur

PROBLEM_JSON = "application/problem+json"
SUBJECT_COLUMNS = ("source_ref", "name", "birthdate", "postcode", "huisnummer", "bsn")


def signal(who: Person, *, type_: str, ref: str, reference: str, amount: str = "312.40",
           **data: Any) -> dict[str, Any]:
    """An arrears message of ``type_`` about ``who``, by name and address, with contact details."""
    return {"type": type_, "source_ref": ref,
            "subject": {"name": who.name, "postcode": who.postcode,
                        "huisnummer": who.huisnummer},
            "occurred_at": "2026-11-20T08:00:00+00:00",
            "data": {"amount_eur": amount, "months": 4, "since": "2026-07-01",
                     reference: f"K-{who.huisnummer}",
                     "address": {"postcode": who.postcode, "huisnummer": who.huisnummer},
                     "phone": "06 12345678", "email": "Bewoner@Example.NL", **data}}


def csv_body(header: tuple[str, ...], *rows: dict[str, str]) -> bytes:
    """A CSV batch: ``header`` and one line per row (missing cells empty)."""
    lines = [",".join(header), *(",".join(row.get(c, "") for c in header) for row in rows)]
    return ("\n".join(lines) + "\n").encode()


def csv_row(who: Person, ref: str, reference: str, **over: str) -> dict[str, str]:
    """The cells of one batch line about ``who``."""
    return {"source_ref": ref, "name": who.name, "postcode": who.postcode,
            "huisnummer": who.huisnummer, "amount_eur": "99.95", "months": "2",
            "since": "2026-09-01", reference: f"K-{who.huisnummer}", **over}


def send_batch(client, body: bytes, headers: dict[str, str]):
    """POST a CSV batch as the partner of ``headers``."""
    return client.post("/api/v1/messages/batch", content=body,
                       headers={**headers, "Content-Type": "text/csv"})


def count(ctx, table: str) -> int:
    """Rows in ``table``."""
    with ctx.engine.connect() as conn:
        return conn.execute(text(f"select count(*) from {table}")).scalar_one()


def stored(ctx) -> tuple[int, int, int]:
    """Messages, outbox rows and batches stored: all zero after a refusal."""
    return count(ctx, "messages"), count(ctx, "outbox"), count(ctx, "batches")


def problem(response, status: int, field: str) -> dict[str, Any]:
    """The problem+json body of ``response``, checked to name ``field``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == PROBLEM_JSON
    body = response.json()
    assert field in [e["field"] for e in body.get("errors", [])], body
    return body


def not_echoed(body: dict[str, Any], *values: str) -> None:
    """A refusal names the field and the reason, never the value (it may be personal data)."""
    said = json.dumps(body)
    for value in values:
        assert value not in said, (value, body)


def inbox(client, ctx) -> list[dict[str, Any]]:
    """The regisseur's inbox items."""
    page = client.get("/api/v1/inbox", headers=regisseur(ctx))
    assert page.status_code == 200, page.text
    return page.json()["items"]
