"""Configuration: the statute switch, and clear refusals of incoherent settings."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from consent.policy import load_policy
from hub.core.coherence import ConfigurationError, check_policy_matches_plugins
from hub.core.context import build_context
from hub.core.migrate import upgrade
from hub.core.plugins import load_plugins
from tests.utils.builders import arrears, partner, person, regisseur, register, resident


def test_early_signalling_switched_off_holds_arrears(settings, clock, client_factory, worker_for):
    settings.statute_early_signalling = False
    ctx = build_context(settings, clock=clock)
    upgrade(ctx.engine)
    try:
        client = client_factory(ctx)
        anna = person(7)
        register(ctx, anna)
        _, woonbron = partner(ctx)
        assert client.post("/api/v1/messages", json=arrears(anna, ref="off-1"),
                           headers=woonbron).status_code == 202
        worker_for(ctx).drain()
        assert client.get("/api/v1/inbox", headers=regisseur(ctx)).json()["total"] == 0
        requests = client.get("/api/v1/me/requests", headers=resident(ctx, anna)).json()
        assert [r["category"] for r in requests] == ["financieel"]
    finally:
        ctx.dispose()


def test_policy_and_plugin_must_agree_on_category(tmp_path):
    text = (tmp_path / "policy.toml")
    text.write_text('[types."signal.nuisance"]\ncategory = "financieel"\n')
    with pytest.raises(ConfigurationError, match=r'types\."signal\.nuisance"\.category'):
        check_policy_matches_plugins(load_policy(text), load_plugins().catalog)


def _hub(args: list[str], tmp_path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hub.cli", *args], capture_output=True,
                          text=True, timeout=60,
                          env={**os.environ, "HUB_DATA_DIR": str(tmp_path / "data"), **env})


@pytest.mark.parametrize(("env", "expected"), [
    ({"HUB_DATABASE_URL": "mysql://root@localhost/x"}, "HUB_DATABASE_URL"),
    ({"HUB_POLICY_FILE": "POLICY"}, "statute"),
    ({"HUB_ENV": "staging"}, "HUB_ENV"),
])
def test_bad_configuration_is_one_clear_line(tmp_path, env, expected):
    if env.get("HUB_POLICY_FILE") == "POLICY":
        broken = tmp_path / "policy.toml"
        broken.write_text('[types."signal.arrears.rent"]\ncategory = "financieel"\n'
                          'statute = "nope"\n')
        env = {"HUB_POLICY_FILE": str(broken)}
    result = _hub(["db", "upgrade"], tmp_path, **env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert expected in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error:")
