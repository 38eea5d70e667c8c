"""``hub serve`` and ``hub worker`` freeze their start-up objects before they serve (issue 14).

A full garbage collection walked every object the process had made at start-up,
80-100 ms with the GIL held, about once a second under load (most of the p99 in
bench/). What it costs is measured in bench/; this checks the promise: garbage is
collected first, what is alive is frozen, and both commands do it before serving.
"""

from __future__ import annotations

import argparse
import gc
import signal
import weakref
from collections.abc import Iterator

import pytest

from hub.cli import common


class _Node:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def thawed(monkeypatch) -> Iterator[None]:
    """Each test starts and ends with nothing frozen (other tests' objects stay collectable),
    and the commands' SIGTERM and SIGINT handlers are not installed in the test process."""
    monkeypatch.setattr(signal, "signal", lambda *_args: None)
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_garbage_is_collected_and_what_lives_is_frozen(thawed) -> None:
    alive, dead = _Node(), _Node()
    gone = weakref.ref(dead)
    del dead
    gc.disable()  # no collection of its own between here and the freeze
    try:
        assert gone() is not None
        common.freeze_startup_objects()
    finally:
        gc.enable()
    assert gone() is None, "garbage of the start was frozen instead of collected"
    assert gc.get_freeze_count() > 0
    assert not any(obj is alive for obj in gc.get_objects()), "a live object is still walked"


def test_hub_serve_freezes_before_it_serves(thawed, tmp_path, monkeypatch) -> None:
    import uvicorn

    from hub.cli import server

    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path))
    frozen_when_serving: list[int] = []
    monkeypatch.setattr(uvicorn, "run",
                        lambda *a, **kw: frozen_when_serving.append(gc.get_freeze_count()))
    assert server.cmd_serve(argparse.Namespace(host="127.0.0.1", port=0)) == 0
    assert frozen_when_serving and frozen_when_serving[0] > 0


def test_hub_worker_freezes_before_it_consumes(thawed, tmp_path, monkeypatch) -> None:
    from hub.cli import worker
    from hub.core.transport import consumer

    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HUB_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    frozen_when_consuming: list[int] = []
    monkeypatch.setattr(consumer.BrokerWorker, "check_connection", lambda self: None)
    monkeypatch.setattr(consumer.BrokerWorker, "run",
                        lambda self: frozen_when_consuming.append(gc.get_freeze_count()))
    assert worker.cmd_worker(argparse.Namespace(prefetch=None, serve_fd=None)) == 0
    assert frozen_when_consuming and frozen_when_consuming[0] > 0
