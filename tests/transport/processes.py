"""``hub serve`` and ``hub worker`` as child processes, started and killed as in production."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.utils import loopback
from tests.utils.waiting import wait_until


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def hub_env(data_dir: Path, database_url: str, broker_url: str, **extra: str) -> dict[str, str]:
    """The environment of a hub process: its own data dir, database and broker; fast polls.

    The partner rate limit is lifted: these tests retry a 503 every 50 ms while a
    service is down, and would otherwise measure the rate limiter (tested on its own
    in tests/security) instead of the transport.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    # HUB_ENV=test: the tests sign development tokens; the default (production) refuses them.
    env.update({"HUB_ENV": "test", "HUB_DATA_DIR": str(data_dir), "HUB_DATABASE_URL": database_url,
                "HUB_BROKER_URL": broker_url, "HUB_WORKER_POLL_SECONDS": "0.05",
                "HUB_BROKER_RECONNECT_MAX_SECONDS": "1",
                "HUB_PARTNER_RATE_PER_SECOND": "100000", "HUB_PARTNER_RATE_BURST": "100000",
                **extra})
    return env


class HubProcess:
    """One ``hub`` command running in the background, its output in a log file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path,
                 module: str = "hub.cli") -> None:
        self.args, self.env, self.log, self.module = args, env, log, module
        self.proc: subprocess.Popen | None = None
        self.port = free_port() if args[0] == "serve" else None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready: str | None = None) -> HubProcess:
        """Start; for ``serve`` wait until /readyz says ready, else until ``ready`` is logged."""
        offset = self.log.stat().st_size if self.log.exists() else 0
        args = [*self.args, "--port", str(self.port)] if self.port else self.args
        with self.log.open("a") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", self.module, *args],
                                         env=self.env, stdout=out, stderr=subprocess.STDOUT)
        def is_ready() -> bool:
            if self.port:
                try:
                    return loopback.get(f"{self.url}/readyz", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return False
            return ready in self.log.read_text()[offset:]

        try:
            wait_until(is_ready, f"hub {self.args[0]} did not start",
                       stop=lambda: self.proc.poll() is not None)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {self.log.read_text()[-3000:]}") from None
        return self

    def kill(self) -> None:
        """SIGKILL: no warning, no shutdown hook."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int | None:
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode
