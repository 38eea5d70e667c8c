"""``hub serve`` (HUB_WORKER_ENABLED=false) with ``hub worker`` beside it on one SQLite file.

Without a broker ``hub worker`` routes the embedded queue in a process of its own,
so the API and the routing use two cores (issue 14). It is woken by every commit
that queues work (a byte on its wake-up socket), not by its poll, and SIGTERM stops
it cleanly, its socket gone.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from hub.core.context import build_context
from hub.core.migrate import upgrade
from hub.core.wakeup import WakeSockets, WorkSignal
from hub.settings import Settings
from tests.transport.processes import HubProcess
from tests.utils import loopback
from tests.utils.builders import arrears, partner, person, register
from tests.utils.waiting import wait_until


def test_a_commit_wakes_a_worker_process_through_its_socket(tmp_path):
    database = str(tmp_path / "hub.sqlite3")
    signal, stop = WorkSignal(), threading.Event()
    listening = WakeSockets(database).listen(signal, stop)
    try:
        (sock,) = Path(f"{database}.wake").iterdir()  # its marker file
        sender = WakeSockets(database)
        sender.notify()
        assert signal.wait(10), "the hint never arrived"
        # A worker that died without cleaning up: its socket file is removed at the
        # next hint, and the others still get theirs.
        stale = Path(f"{database}.wake") / "1-dead"
        stale.touch()
        signal.clear()
        sender.notify()
        assert signal.wait(10)
        assert not stale.exists() and sock.exists()
    finally:
        stop.set()
        listening.join(10)
    assert not sock.exists()  # a worker that stops removes its own
    WakeSockets(str(tmp_path / "never.sqlite3")).notify()  # no worker ever: nothing to do


def test_a_stopping_worker_process_ends_its_socket_thread_at_once(tmp_path, monkeypatch):
    # hub worker's SIGTERM used to wait out the socket's half-second wait for a hint;
    # joining the thread now sends it one. With the wait an hour, only that can end it.
    monkeypatch.setattr(WakeSockets, "idle_seconds", 3600.0)
    database = str(tmp_path / "hub.sqlite3")
    stop = threading.Event()
    listening = WakeSockets(database).listen(WorkSignal(), stop)
    stop.set()
    listening.join(30)
    assert not listening.is_alive(), "join() did not wake the socket's thread"
    assert not list(Path(f"{database}.wake").iterdir())  # its marker removed


def _route_beside_hub_serve(tmp_path: Path, database_url: str) -> None:
    """Three messages through ``hub serve`` (no worker) to ``hub worker``, whose poll is a
    minute: only the wake-up can deliver them in time; SIGTERM then stops it with 0."""
    data_dir = tmp_path / "d"
    ctx = build_context(Settings(data_dir=data_dir, database_url=database_url))
    upgrade(ctx.engine)
    anna = person(41)
    register(ctx, anna)
    _, headers = partner(ctx)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(HUB_ENV="test", HUB_DATA_DIR=str(data_dir), HUB_DATABASE_URL=database_url,
               HUB_WORKER_POLL_SECONDS="60")
    worker = HubProcess(["worker"], env, tmp_path / "worker.log")
    serve = HubProcess(["serve"], {**env, "HUB_WORKER_ENABLED": "false"},
                       tmp_path / "serve.log")
    try:
        worker.start(ready="routing the embedded queue")
        serve.start()
        for n in range(3):
            response = loopback.post(f"{serve.url}/api/v1/messages", headers=headers,
                                     json=arrears(anna, ref=f"two-{n}"), timeout=10)
            assert response.status_code == 202, response.text
        with ctx.engine.connect() as conn:
            def delivered() -> bool:
                # The first delivered, the next two linked to it (the same arrears).
                count = conn.execute(text("SELECT count(*) FROM messages WHERE status IN "
                                          "('delivered', 'linked')")).scalar_one()
                conn.commit()
                return count == 3

            wait_until(delivered, "hub worker did not route what hub serve accepted",
                       timeout=20)
        assert worker.stop() == 0
    finally:
        serve.stop()
        worker.stop()
        ctx.dispose()
    log = (tmp_path / "worker.log").read_text()
    assert anna.name not in log and headers["Authorization"].split()[1] not in log


def test_hub_worker_routes_the_embedded_queue_beside_hub_serve(tmp_path):
    # A deep directory: a socket path there would be longer than an address may be.
    tmp_path = tmp_path / ("deep-" * 12)
    tmp_path.mkdir()
    database = tmp_path / "hub.sqlite3"
    _route_beside_hub_serve(tmp_path, f"sqlite:///{database}")
    assert list(Path(f"{database}.wake").iterdir()) == []  # its marker went with it


@pytest.mark.postgres
def test_hub_worker_on_postgresql_without_a_broker_is_woken_by_notify(tmp_path, postgres_url):
    _route_beside_hub_serve(tmp_path, postgres_url)
