"""A NUL byte (or any control character) in an id, a query value or an id in a body is a
422 naming the field, on every route — never PostgreSQL's 500 (issue 13, item 7).

The routes are enumerated from the OpenAPI document, so a new route with a path
parameter is covered without a change here; each is called by a caller who may use
it (the authorization matrix's rules), so the request would reach the database.
"""

from __future__ import annotations

import re

import pytest

from tests.security.test_authz_matrix import BODIES, CALLERS, IDS, RULES, World
from tests.utils.builders import partner

# PostgreSQL refuses NUL in text: that is where the 500s came from.
pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
NUL = "abc\x00def"


def _operations(client) -> list[tuple[str, str]]:
    paths = client.get("/openapi.json").json()["paths"]
    return sorted((method.upper(), path) for path, ops in paths.items() for method in ops
                  if "{" in path)


def _caller(world: World, operation: str) -> dict[str, str]:
    if "/fhir/r4" in operation:  # only a GP practice passes the FHIR routes' kind check
        return partner(world.ctx, "Huisartsenpraktijk", kind="huisarts")[1]
    the_rule = RULES[operation]
    allowed = [c for c in CALLERS if the_rule.status_for(c) < 300]
    # A route no caller of the matrix passes with a 2xx (say, 409 for an item that is not
    # in triage) still checks its ids after authorising: any authorised caller will do.
    passing = allowed or [c for c in CALLERS if the_rule.status_for(c) not in (401, 403)]
    return world.headers[passing[0]]


def test_every_path_id_with_a_nul_byte_is_a_422_naming_it(ctx, client, worker):
    world = World(ctx, client, worker)
    operations = _operations(client)
    assert len(operations) >= 15
    failures = []
    for method, template in operations:
        operation = f"{method} {template}"
        headers = _caller(world, operation)
        body = BODIES.get(operation, lambda _w: {})(world)
        for param in re.findall(r"{(\w+)}", template):
            path = template
            for other in re.findall(r"{(\w+)}", template):
                value = NUL if other == param else IDS[other](world)
                path = path.replace(f"{{{other}}}", value.replace("\x00", "%00"))
            extra = dict(body)
            r = client.request(method, path, headers={**headers, **extra.pop("headers", {})},
                               **extra)
            if r.status_code != 422 or param not in r.text:
                failures.append((operation, param, r.status_code, r.text[:120]))
    assert not failures, failures


@pytest.mark.parametrize(("who", "path", "field"), [
    ("regisseur", "/api/v1/inbox?type=abc%00", "type"),
    ("huisarts", "/fhir/r4/Task?owner=abc%00", "owner"),
    ("huisarts", "/fhir/r4/Task?requester=abc%00", "requester"),
    ("operator", "/api/v1/ops/dead-letters?status=open%01", "status"),
    ("resident", "/api/v1/me/consents?anything=%7f", "anything"),
])
def test_a_control_character_in_a_query_value_is_a_422_naming_it(ctx, client, worker, who,
                                                                  path, field):
    world = World(ctx, client, worker)
    headers = (partner(ctx, "Huisartsenpraktijk", kind="huisarts")[1] if who == "huisarts"
               else world.headers[who])
    r = client.get(path, headers=headers)
    assert r.status_code == 422, r.text
    assert field in r.text and "control character" in r.text


@pytest.mark.parametrize("field", ["related_item_id", "partner_id"])
def test_an_id_in_a_body_with_a_nul_byte_is_a_422_naming_it(ctx, client, worker, field):
    world = World(ctx, client, worker)
    body = {**world.vt_report("VT-NUL-1"), field: NUL}
    r = client.post("/api/v1/veiligthuis/reports", json=body,
                    headers=world.headers["regisseur"])
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == [field]


@pytest.mark.parametrize(("method", "path", "field"), [
    ("GET", "/api/v1/ops/dead-letters?offset=9223372036854775808", "offset"),
    ("GET", "/api/v1/ops/dead-letters?offset=2147483648", "offset"),
    ("POST", "/api/v1/ops/dead-letters/4611686018427387904/replay", "dead_letter_id"),
    ("POST", "/api/v1/ops/dead-letters/2147483648/replay", "dead_letter_id"),
])
def test_an_integer_past_the_databases_range_is_a_422_naming_it(ctx, client, worker, method,
                                                                 path, field):
    # Issue 13, item 8: these were 500s (an overflow in the driver).
    world = World(ctx, client, worker)
    r = client.request(method, path, headers=world.headers["operator"])
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == [field]
