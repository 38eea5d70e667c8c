"""``hub serve`` routes the embedded queue in a child process (issue 14).

The child is started and watched by ``hub serve``: its counts show on hub serve's
``/metrics``, one that dies is started again (ingest goes on meanwhile and
``/readyz`` says so), and it never outlives hub serve, even a SIGKILLed one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import text

from hub.core.context import build_context
from hub.core.metrics import HubMetrics
from hub.core.migrate import upgrade
from hub.core.transport import worker_process
from hub.settings import Settings
from tests.observability.helpers import samples, value
from tests.transport.processes import HubProcess, hub_env
from tests.utils import loopback
from tests.utils.builders import arrears, partner, person, register
from tests.utils.waiting import wait_until

TOKEN = "scrape-credential-for-the-child-0001"


def on_one_store(test):
    """For a test that needs only a context: one store, no broker, not the package's
    matrix of stores and transports."""
    test = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)(test)
    return pytest.mark.parametrize("transport_name", ["embedded"])(test)


STARTED = re.compile(r"routing process started \(pid (\d+)\)")


def _alive(pid: int) -> bool:
    """Running, not gone and not a zombie waiting for a reaper."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def _children(log: Path) -> list[int]:
    return [int(pid) for pid in STARTED.findall(log.read_text())]


@pytest.fixture
def hub_serve(tmp_path):
    """``hub serve`` on a fresh SQLite file with its routing process, and what to send."""
    data_dir = tmp_path / "data"
    database_url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    ctx = build_context(Settings(data_dir=data_dir, database_url=database_url))
    upgrade(ctx.engine)
    people = [person(6100 + n) for n in range(4)]
    register(ctx, *people)
    _, headers = partner(ctx)
    # A poll of a minute: only the wake-up can route in time.
    env = hub_env(data_dir, database_url, "", HUB_WORKER_PROCESS="true",
                  HUB_WORKER_POLL_SECONDS="60", HUB_METRICS_TOKEN=TOKEN)
    serve = HubProcess(["serve"], env, tmp_path / "serve.log")
    serve.start()
    try:
        yield serve, ctx, people, headers
    finally:
        serve.stop()
        ctx.dispose()


def _send(serve: HubProcess, headers, someone, ref: str) -> None:
    response = loopback.post(f"{serve.url}/api/v1/messages", headers=headers,
                             json=arrears(someone, ref=ref), timeout=10)
    assert response.status_code == 202, response.text


def _routed(ctx) -> int:
    with ctx.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM messages WHERE status = 'delivered'")
                            ).scalar_one()


def _scrape(serve: HubProcess) -> dict:
    return samples(loopback.get(f"{serve.url}/metrics", timeout=10,
                                headers={"Authorization": f"Bearer {TOKEN}"}).text)


def test_the_child_routes_and_its_counts_show_on_hub_serves_metrics(hub_serve):
    serve, ctx, people, headers = hub_serve
    (child,) = _children(serve.log)
    assert _alive(child)
    assert loopback.get(f"{serve.url}/readyz", timeout=5).json() == {
        "status": "ready", "database": "ok", "worker": "ok"}
    for n, someone in enumerate(people[:3]):
        _send(serve, headers, someone, f"P-{n}")
    wait_until(lambda: _routed(ctx) == 3, "the routing process did not route")
    # The child is up and routing: the mode's warning line was still said once, by hub serve.
    assert serve.log.read_text().count("DEVELOPMENT MODE (HUB_ENV=test)") == 1

    def delivered() -> float:
        # Routed in the child: hub serve's own count is 0, the sum shows 3.
        return value(_scrape(serve), "wijkhub_messages_out_total", partner="Woonbron",
                     type="signal.arrears.rent", basis="statute", outcome="delivered")

    assert wait_until(lambda: delivered() == 3, "the child's counts are not on /metrics")
    scraped = _scrape(serve)
    # Counted in hub serve itself, not twice.
    assert value(scraped, "wijkhub_messages_in_total", partner="Woonbron",
                 type="signal.arrears.rent", outcome="accepted") == 3
    assert value(scraped, "wijkhub_receipt_to_inbox_seconds_count",
                 type="signal.arrears.rent", basis="statute") == 3


def test_a_child_that_dies_is_started_again_and_nothing_waits_for_ever(hub_serve):
    import os
    import signal

    serve, ctx, people, headers = hub_serve
    (first,) = _children(serve.log)
    os.kill(first, signal.SIGKILL)
    _send(serve, headers, people[0], "R-1")  # ingest goes on meanwhile
    wait_until(lambda: len(_children(serve.log)) == 2, "the routing process was not restarted")
    assert "routing process ended (exit code -9)" in serve.log.read_text()
    wait_until(lambda: _routed(ctx) == 1, "the new routing process did not route")
    second = _children(serve.log)[1]
    assert second != first and _alive(second)
    wait_until(lambda: loopback.get(f"{serve.url}/readyz", timeout=5).json()["worker"] == "ok",
               "readyz does not see the new routing process")


def test_the_child_never_outlives_hub_serve(hub_serve):
    serve, _ctx, _people, _headers = hub_serve
    (child,) = _children(serve.log)
    serve.kill()  # SIGKILL: hub serve cannot stop it; the socket's end tells it
    wait_until(lambda: not _alive(child), "the routing process outlived hub serve")
    assert "hub serve has ended; stopping after the batch in hand" in serve.log.read_text()


def test_sigterm_stops_hub_serve_and_its_child_cleanly(hub_serve):
    serve, _ctx, _people, _headers = hub_serve
    (child,) = _children(serve.log)
    assert serve.stop() == 0
    assert not _alive(child)
    assert "routing process ended" not in serve.log.read_text()  # no restart while stopping


def test_without_the_child_hub_serve_routes_in_a_thread(tmp_path):
    data_dir = tmp_path / "data"
    database_url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    ctx = build_context(Settings(data_dir=data_dir, database_url=database_url))
    upgrade(ctx.engine)
    anna = person(6200)
    register(ctx, anna)
    _, headers = partner(ctx)
    env = hub_env(data_dir, database_url, "", HUB_WORKER_PROCESS="false")
    serve = HubProcess(["serve"], env, tmp_path / "serve.log").start()
    try:
        assert loopback.get(f"{serve.url}/readyz", timeout=5).json() == {
            "status": "ready", "database": "ok"}
        _send(serve, headers, anna, "T-1")
        wait_until(lambda: _routed(ctx) == 1, "the worker thread did not route")
        assert _children(serve.log) == []
    finally:
        serve.stop()
        ctx.dispose()


@pytest.mark.parametrize(("setting", "cores", "expected"), [
    (None, 2, True), (None, 1, False), (True, 1, True), (False, 8, False)])
def test_the_child_is_the_default_where_there_is_a_second_core(monkeypatch, setting, cores,
                                                                expected):
    monkeypatch.setattr(worker_process.os, "cpu_count", lambda: cores)
    assert worker_process.wanted(Settings(worker_process=setting)) is expected


def test_another_processes_counts_are_added_sample_by_sample():
    from prometheus_client import generate_latest

    serve, child = HubMetrics(), HubMetrics()
    serve.add_source(child.counted_families)
    for metrics in (serve, child, child):
        metrics.message_in(partner="Woonbron", type="signal.arrears.rent", outcome="accepted")
    child.task_failed(task="route", error="RoutingError")
    scraped = samples(generate_latest(serve.exposed()).decode())
    assert value(scraped, "wijkhub_messages_in_total", partner="Woonbron",
                 type="signal.arrears.rent", outcome="accepted") == 3
    assert value(scraped, "wijkhub_task_failures_total", task="route",
                 error="RoutingError") == 1  # only the child has it
    only = samples(generate_latest(
        serve.exposed().restricted_registry(["wijkhub_task_failures_total"])).decode())
    assert {name for name, _ in only} == {"wijkhub_task_failures_total"}


@pytest.mark.parametrize(("broker", "error"), [
    ("", "error: --serve-fd 0 is not a socket; it is for hub serve to set"),
    ("amqp://guest:guest@127.0.0.1:5672/%2F",
     "error: --serve-fd is for hub serve's routing process on the embedded queue; "
     "with HUB_BROKER_URL run hub worker on its own")])
def test_a_misused_serve_fd_is_one_clear_error(tmp_path, broker, error):
    import subprocess
    import sys

    env = hub_env(tmp_path / "data", f"sqlite:///{tmp_path / 'hub.sqlite3'}", broker)
    done = subprocess.run([sys.executable, "-m", "hub.cli", "worker", "--serve-fd", "0"],
                          env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert error in done.stderr and "Traceback" not in done.stderr


@on_one_store
def test_a_child_that_keeps_failing_is_reported_and_tried_again(ctx):
    import sys

    failing = worker_process.WorkerProcess(ctx, [sys.executable, "-c", "raise SystemExit(3)"])
    failing.start()
    try:
        wait_until(lambda: failing.last_exit == 3, "the child's end was not seen")
        assert failing.health() == {"worker": "restarting (exit code 3)"}
        assert failing.families() == []  # nobody to ask: no metrics, no error
        wait_until(lambda: failing.starts >= 2, "the child was not started again")
    finally:
        failing.stop()
    assert failing.pid is None


@on_one_store
def test_a_late_answer_is_dropped_and_answers_stay_in_step(ctx, monkeypatch):
    # A child busy with a long batch answers a scrape after it gave up; that answer must
    # not be taken for the next scrape's.
    import pickle
    import socket
    import struct
    import threading
    from types import SimpleNamespace

    monkeypatch.setattr(worker_process, "ANSWER_SECONDS", 0.2)
    ours, theirs = socket.socketpair()
    sent_late = threading.Event()

    def slow_child() -> None:
        for n, answer in enumerate((["late"], ["in time"])):
            assert theirs.recv(1) == b"m"
            if n == 0:
                threading.Event().wait(0.6)  # longer than the scrape waits
            body = pickle.dumps(answer)
            theirs.sendall(struct.pack(">I", len(body)) + body)
            if n == 0:
                sent_late.set()

    helper = threading.Thread(target=slow_child, daemon=True)
    helper.start()
    process = worker_process.WorkerProcess(ctx)
    process._socket, process._child = ours, SimpleNamespace(pid=1, poll=lambda: None)
    try:
        assert process.families() == []  # gave up waiting
        assert sent_late.wait(10)
        assert process.families() == ["in time"]
    finally:
        helper.join(10)
        ours.close()
        theirs.close()


@on_one_store
def test_a_stopped_routing_process_is_no_longer_asked_for_metrics(ctx, monkeypatch):
    # An app started and stopped again on one context (tests, a reload) leaves no source
    # behind that every later scrape would still call. No child is started here.
    from hub.core.transport.embedded import EmbeddedTransport

    monkeypatch.setattr(worker_process.WorkerProcess, "start", lambda self: None)
    monkeypatch.setattr(worker_process.WorkerProcess, "stop", lambda self: None)
    transport = EmbeddedTransport(ctx, run_worker=True, worker_process=True)
    before = len(ctx.metrics._sources)
    transport.start()
    try:
        assert len(ctx.metrics._sources) == before + 1
    finally:
        transport.stop()
    assert len(ctx.metrics._sources) == before
