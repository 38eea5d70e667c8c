"""The net behind the input checks: a value no column type can bind is a 422, not a 500."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import StatementError

from hub.api import problems


def _client() -> TestClient:
    app = FastAPI()
    problems.install(app)

    @app.get("/overflow")
    def overflow():
        # As SQLAlchemy raises it when a bind processor overflows (a date past year 9999).
        raise StatementError("bind", "INSERT …", {}, OverflowError("date value out of range"))

    @app.get("/other")
    def other():
        raise StatementError("bind", "INSERT …", {}, TypeError("not a date"))

    return TestClient(app, raise_server_exceptions=False)


def test_an_unbindable_date_is_refused_as_invalid_input():
    r = _client().get("/overflow")
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"] == [{"field": "body", "reason": "holds a date or number outside "
                                   "the range the hub can store"}]
    assert "INSERT" not in r.text


def test_any_other_statement_error_stays_a_server_error():
    # Only the overflow is the client's; a type error is the hub's own bug.
    r = _client().get("/other")
    assert r.status_code == 500 and "INSERT" not in r.text
