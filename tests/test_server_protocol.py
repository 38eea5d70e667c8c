"""``hub serve`` parses HTTP with httptools (issue 14): uvicorn picks its C parser when it
is installed (a dependency since then), and h11, the pure-Python one, cost a quarter of
the instructions of an accepted ``POST /api/v1/messages``. Speed is measured in bench/;
this only checks the choice."""

from __future__ import annotations

from uvicorn.config import Config


async def _app(scope, receive, send) -> None:  # pragma: no cover - never called
    """A stand-in ASGI app: only the server's protocol choice is looked at."""


def test_uvicorn_as_hub_serve_runs_it_takes_the_c_http_parser():
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    # hub serve's settings (hub/cli/server.py) leave http at uvicorn's "auto".
    config = Config(_app, log_level="info", access_log=False, log_config=None)
    config.load()
    assert config.http_protocol_class is HttpToolsProtocol, (
        "httptools is missing: pip install -e '.[test]' (pyproject.toml lists it)")
