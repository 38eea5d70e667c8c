"""The hub's mode: production unless switched, safe mode without an issuer, dev on loopback only."""

from __future__ import annotations

import logging

import pytest

from hub.core.mode import UnsafeListen, announce, check_listen, is_loopback
from hub.settings import Settings


def test_the_default_is_production(monkeypatch):
    monkeypatch.delenv("HUB_ENV", raising=False)
    assert Settings().env == "production"


@pytest.mark.parametrize(("settings", "expected"), [
    ({"env": "production"}, "safe mode: no identity provider configured"),
    ({"env": "development"}, "DEVELOPMENT MODE (HUB_ENV=development)"),
    ({"env": "test"}, "DEVELOPMENT MODE (HUB_ENV=test)"),
    ({"env": "production", "oidc_issuer": "https://login.example.nl"}, None),
])
def test_one_line_per_start(settings, expected, caplog):
    with caplog.at_level(logging.WARNING, logger="hub.mode"):
        line = announce(Settings(**settings))
    if expected is None:
        assert line is None and not caplog.records
    else:
        assert line.startswith(expected) and "\n" not in line
        assert [r.getMessage() for r in caplog.records] == [line]


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("0.0.0.0", False), ("::", False), ("192.168.1.5", False),
    ("hub.example.nl", False),
])
def test_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_development_refuses_other_addresses_production_does_not():
    with pytest.raises(UnsafeListen, match=r"only listens on 127\.0\.0\.1"):
        check_listen(Settings(env="development"), "0.0.0.0", what="--host")
    check_listen(Settings(env="development"), "127.0.0.1", what="--host")
    check_listen(Settings(env="production"), "0.0.0.0", what="--host")
