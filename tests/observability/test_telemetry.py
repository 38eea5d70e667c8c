"""The hub's telemetry is its Prometheus metrics and its own logs: FastAPI's native
OpenTelemetry stays off, so a request neither asks OpenTelemetry for its providers
(a cost on every request, issue 14) nor would reach an exporter someone configured
(a request's path holds ids)."""

from __future__ import annotations

from opentelemetry import _logs, metrics, trace

from tests.observability.helpers import sqlite_only
from tests.utils.builders import arrears, partner, person


@sqlite_only
def test_a_request_never_consults_opentelemetry(ctx, client, monkeypatch):
    asked: list[str] = []
    for module, name in ((trace, "get_tracer_provider"), (metrics, "get_meter_provider"),
                         (_logs, "get_logger_provider")):
        real = getattr(module, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            asked.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, name, spy)
    _, auth = partner(ctx)
    assert client.post("/api/v1/messages", json=arrears(person(1), ref="T-1"),
                       headers=auth).status_code == 202
    assert client.get("/healthz").status_code == 200
    assert asked == []
