"""Which body limit applies: exact routes, never a path suffix (issue 13, items 3 and 4)."""

from __future__ import annotations

import pytest

from hub.api.limits import BodyLimit

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.mark.parametrize(("method", "path"), [
    ("PATCH", "/api/v1/me/consents/batch"),   # any resident token once sent 60 MiB here
    ("PUT", "/api/v1/messages/batch"),
    ("POST", "/api/v1/anything/batch"),
    ("POST", "/batch"),
])
@sqlite_only
def test_only_the_csv_batch_route_takes_a_batch_sized_body(client, ctx, method, path):
    big = b"x" * (ctx.settings.max_body_bytes + 1)
    r = client.request(method, path, content=big, headers={"content-type": "text/csv"})
    assert r.status_code == 413, (r.status_code, r.text[:200])
    assert r.json()["errors"] == [
        {"field": "body", "reason": f"must be at most {ctx.settings.max_body_bytes} bytes"}]


def test_the_limits_by_route():
    limits = BodyLimit(None, max_bytes=10, batch_max_bytes=1000, fhir_max_bytes=5)
    assert limits.limit_for("POST", "/api/v1/messages/batch") == 1000
    assert limits.limit_for("POST", "/api/v1/messages/batch/") == 1000
    assert limits.limit_for("PATCH", "/api/v1/me/consents/batch") == 10
    assert limits.limit_for("POST", "/fhir/r4") == 5
    assert limits.limit_for("POST", "/fhir/r4/Task") == 5
    assert limits.limit_for("POST", "/api/v1/fhir/Consent") == 5
    assert limits.limit_for("POST", "/fhirx") == 10


@sqlite_only
def test_the_batch_route_still_takes_more_than_the_default(client, ctx):
    body = b"x" * (ctx.settings.max_body_bytes + 1)
    r = client.post("/api/v1/messages/batch", content=body, headers={"content-type": "text/csv"})
    assert r.status_code == 401  # past the size check: it is the missing key that is refused
