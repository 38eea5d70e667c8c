"""A plain ``hub serve`` is safe: no chooser, no development tokens (issue 15, item 1).

Real processes, as an operator starts them: the environment carries no ``HUB_*``
setting except the data directory, unless a test sets the development switch.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from hub.core.mode import DEVELOPMENT_WARNING, SAFE_MODE_WARNING
from tests.utils import loopback

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update({"HUB_DATA_DIR": str(data_dir), **extra})
    return env


def _hub(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hub.cli", *args], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=120, check=False)


@contextmanager
def _serving(env: dict[str, str], log: Path) -> Iterator[str]:
    """``hub serve`` on a free loopback port until /readyz answers; stopped afterwards."""
    port = _free_port()
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "hub.cli", "serve", "--port", str(port)],
                                env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if loopback.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError(f"hub serve did not start: {log.read_text()[-2000:]}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_plain_serve_offers_no_chooser_and_refuses_development_tokens(tmp_path,
                                                                      migrated_data_dir):
    data = migrated_data_dir
    env = _env(data)
    # A token the development issuer would sign on this very data directory (same keys).
    dev_token = _hub(_env(data, HUB_ENV="development"), "token", "operator", "--user", "x")
    assert dev_token.returncode == 0, dev_token.stderr
    with _serving(env, tmp_path / "serve.log") as url:
        page = loopback.get(f"{url}/inloggen").text
        assert "Inloggen als" not in page and "ontwikkelomgeving" not in page
        assert "niet ingesteld" in page
        chooser = loopback.post(f"{url}/inloggen", data={"rol": "operator"})
        assert chooser.status_code in (403, 404)
        refused = loopback.get(f"{url}/api/v1/ops/dead-letters",
                            headers={"Authorization": f"Bearer {dev_token.stdout.strip()}"})
        assert refused.status_code == 401
    log = (tmp_path / "serve.log").read_text()
    assert log.count(SAFE_MODE_WARNING) == 1
    assert "DEVELOPMENT MODE" not in log
    # And the CLI issues no development token either, touching nothing.
    token = _hub(env, "token", "operator", "--user", "x")
    assert token.returncode == 2 and token.stdout == ""
    assert token.stderr.startswith("error:") and "HUB_ENV=development" in token.stderr


def test_development_switch_is_loud_and_loopback_only(tmp_path):
    data = tmp_path / "data"
    env = _env(data, HUB_ENV="development")
    refused = _hub(env, "serve", "--host", "0.0.0.0", "--port", str(_free_port()))
    assert refused.returncode == 2
    assert "only listens on 127.0.0.1" in refused.stderr and "Traceback" not in refused.stderr
    assert not data.exists()  # refused before anything was built
    with _serving(env, tmp_path / "serve.log") as url:
        assert "Inloggen als bewoner" in loopback.get(f"{url}/inloggen").text
    log = (tmp_path / "serve.log").read_text()
    assert log.count(DEVELOPMENT_WARNING.format(env="development")) == 1
    assert SAFE_MODE_WARNING not in log
