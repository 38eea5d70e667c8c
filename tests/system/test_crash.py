"""Kill the serving process with SIGKILL mid-stream: every accepted message lands once.

A partner keeps sending; when the hub is gone it retries the same source_ref
until it gets a receipt, as a real partner would. After a restart the inbox must
hold exactly one item per accepted message: none lost, none doubled.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from hub.core.context import build_context
from hub.core.migrate import upgrade
from hub.settings import Settings
from tests.utils import loopback
from tests.utils.builders import arrears, partner, person
from tests.utils.waiting import wait_until

pytestmark = pytest.mark.slow

MESSAGES = 240
KILL_AFTER = (80, 160)  # kill when this many receipts have come back (a third, two thirds)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``hub serve`` as a child process, started and killed like in production."""

    def __init__(self, data_dir: Path, database_url: str, log: Path) -> None:
        self.port = _free_port()
        self.env = {**os.environ, "HUB_ENV": "test", "HUB_DATA_DIR": str(data_dir),
                    "HUB_DATABASE_URL": database_url, "HUB_WORKER_POLL_SECONDS": "0.05"}
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hub.cli", "serve", "--port", str(self.port)],
                env=self.env, stdout=out, stderr=subprocess.STDOUT)
        def ready() -> bool:
            try:
                return loopback.get(f"{self.url}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            wait_until(ready, "hub did not start", stop=lambda: self.proc.poll() is not None)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {self.log.read_text()[-2000:]}") from None

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _send_until_accepted(client: httpx.Client, body: dict, headers: dict,
                         restart) -> str:
    """Send one message; on a dropped connection restart the hub and send it again."""
    for _ in range(50):
        try:
            response = client.post("/api/v1/messages", json=body, headers=headers, timeout=10)
        except httpx.TransportError:
            restart()
            continue
        assert response.status_code == 202, response.text
        return response.json()["id"]
    raise AssertionError("message never accepted")


def test_sigkill_mid_stream_loses_and_doubles_nothing(tmp_path, database_url):
    data_dir = tmp_path / "data"
    ctx = build_context(Settings(data_dir=data_dir, database_url=database_url))
    upgrade(ctx.engine)
    _, headers = partner(ctx)

    server = Server(data_dir, database_url, tmp_path / "hub.log")
    server.start()
    kills = 0

    def restart() -> None:
        server.stop()
        server.start()

    accepted: dict[str, str] = {}
    started = time.monotonic()
    try:
        with httpx.Client(base_url=server.url) as client:
            for n in range(MESSAGES):
                if len(accepted) in KILL_AFTER and kills < len(KILL_AFTER):
                    server.kill()  # no warning, no shutdown hook: SIGKILL
                    kills += 1
                # Unregistered people: triage by address, delivered minimal by statute.
                body = arrears(person(10_000 + n), ref=f"crash-{n}", tenancy=f"T-{n}")
                client.base_url = server.url
                accepted[f"crash-{n}"] = _send_until_accepted(client, body, headers, restart)
        # Let the restarted hub drain everything that was accepted.
        with ctx.engine.connect() as conn:
            def drained() -> bool:
                pending = conn.execute(text(
                    "select count(*) from outbox where status = 'pending'")).scalar_one()
                conn.commit()
                return pending == 0

            wait_until(drained, "the restarted hub did not drain the outbox")
            rows = conn.execute(text("select message_id from inbox_items")).scalars().all()
            dead = conn.execute(text(
                "select count(*) from outbox where status = 'dead'")).scalar_one()
    finally:
        server.stop()
        ctx.dispose()

    delivered = set(rows)
    lost = set(accepted.values()) - delivered
    doubled = len(rows) - len(delivered)
    print(f"\ncrash test ({database_url.split(':')[0]}): sent={MESSAGES} "
          f"accepted={len(set(accepted.values()))} delivered={len(delivered)} "
          f"lost={len(lost)} doubled={doubled} dead={dead} kills={kills} "
          f"seconds={time.monotonic() - started:.1f}")
    assert kills == len(KILL_AFTER)
    assert len(set(accepted.values())) == MESSAGES
    assert lost == set()
    assert doubled == 0
    assert delivered == set(accepted.values())
    assert dead == 0
    # The server's own log of the whole run holds no name and no key.
    server_log = (tmp_path / "hub.log").read_text()
    assert "Bewoner" not in server_log
    assert headers["Authorization"].split()[1] not in server_log
