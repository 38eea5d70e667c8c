"""What every benchmark shares: results as JSON, summary statistics, services, processes.

Nothing here measures anything by itself. A benchmark module asks for a hub (or
a bare server) as a real process on a free port of 127.0.0.1, for a fresh
PostgreSQL schema or RabbitMQ virtual host (always removed afterwards, also
when the run fails), and writes what it measured with :func:`write_result`.
"""

from __future__ import annotations

import atexit
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
# Where results go; the smoke tests point this at a temporary directory.
RESULTS = Path(os.environ.get("WIJKHUB_BENCH_RESULTS", ROOT / "bench" / "results"))
POSTGRES_URL = os.environ.get("HUB_TEST_POSTGRES",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
RABBIT_URL = os.environ.get("HUB_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672")
# Worker settings shared by every server measured: one uvicorn process, as `hub serve` runs.
UVICORN = {"log_level": "info", "access_log": False, "log_config": None}


def summary(values: list[float]) -> dict[str, float]:
    """min / median / max of the repetitions of one figure."""
    return {"min": min(values), "median": statistics.median(values), "max": max(values),
            "n": len(values)}


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50 and p99 of latency samples (statistics.quantiles, inclusive method)."""
    if len(samples) < 2:
        value = samples[0] if samples else float("nan")
        return {"p50": value, "p99": value}
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": cuts[49], "p99": cuts[98]}


# Read when a benchmark starts (mark_start; else when this module is imported): read in
# write_result, at the end, it measured the benchmark's own load instead.
_LOAD_AT_START = os.getloadavg()


def mark_start() -> tuple[float, float, float]:
    """Note (and return) the load average as a benchmark starts, for its result file."""
    global _LOAD_AT_START
    _LOAD_AT_START = os.getloadavg()
    return _LOAD_AT_START


def machine() -> dict:
    """What the figures were measured on, and how busy it was at the start and the end."""
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()} {platform.machine()}",
            "load_average_at_start": [round(x, 2) for x in _LOAD_AT_START],
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()]}


def invocation() -> str:
    """The command line that is running, as a person would type it."""
    return " ".join([".venv/bin/python -m bench", *sys.argv[1:]])


def write_result(name: str, *, figures: dict, notes: list[str] | None = None,
                 extra: dict | None = None) -> Path:
    """Write one benchmark's figures to bench/results/NAME.json and return the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "command": invocation(),
               "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
               "machine": machine(), "figures": figures, "notes": notes or [],
               **(extra or {})}
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    print(f"[{name}] written {path}")
    return path


def read_result(name: str) -> dict | None:
    """A benchmark's last written result, or None."""
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- services: a fresh PostgreSQL schema, a fresh RabbitMQ virtual host ---------------

@contextmanager
def postgres_schema(prefix: str = "bench") -> Iterator[str]:
    """A SQLAlchemy URL whose search_path is a fresh schema, dropped afterwards."""
    from sqlalchemy import create_engine, text

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def analyze_like_autovacuum(engine) -> bool:
    """ANALYZE the tables of the engine's schema when its PostgreSQL runs without
    autovacuum; whether it did (never on SQLite, nor with autovacuum on).

    This machine's PostgreSQL has ``autovacuum = off`` (conf.d/90-ci.conf), so no
    table is ever analyzed, and the plans psycopg's prepared statements cached while
    the tables were nearly empty (sequential scans) stay in use as they grow: a
    PostgreSQL hub delivered 999, 723, 452, 486 messages/s in four wrk turns in a
    row, and 769, 893, 879, 957 with an ANALYZE between turns (issue 14). In
    production autovacuum analyzes a table after a tenth of it changed; called
    between turns, outside the timed window, this stands in for it.
    """
    from sqlalchemy import text

    from hub.core.db import autovacuum_off

    if not autovacuum_off(engine):
        return False
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        tables = conn.execute(text("SELECT quote_ident(tablename) FROM pg_tables "
                                   "WHERE schemaname = current_schema()")).scalars().all()
        if tables:
            conn.execute(text(f"ANALYZE {', '.join(tables)}"))
    return True


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, text=True,
                   timeout=120)


# One virtual host per benchmark process, made on first use and deleted when the process
# ends: each ``rabbitmqctl`` call starts an Erlang VM (about 1.5 s of CPU), and a run that
# made and deleted a host per hub, peer and drain spent more time there than measuring.
# Users inside it keep apart by names of their own (:func:`unique_name`).
_vhost: str | None = None
_vhost_lock = threading.Lock()


def _delete_vhost() -> None:
    if _vhost is not None:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", _vhost], capture_output=True,
                       timeout=120, check=False)


@contextmanager
def rabbit_vhost() -> Iterator[str]:
    """An AMQP URL on this process's own virtual host (deleted when the process exits).

    Every user of the host names its exchanges and queues with :func:`unique_name`
    (a hub through ``?prefix=``), so two hubs, a peer and a drain never meet in it.
    """
    global _vhost
    if shutil.which("rabbitmqctl") is None:
        raise RuntimeError("rabbitmqctl is needed to make a private virtual host")
    with _vhost_lock:
        if _vhost is None:
            vhost = f"wijkhub-bench-{uuid.uuid4().hex[:10]}"
            _rabbitmqctl("add_vhost", vhost)
            _vhost = vhost
            atexit.register(_delete_vhost)
            _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    yield f"{RABBIT_URL}/{_vhost}"


def unique_name(kind: str) -> str:
    """``kind-`` and 8 random hex digits: a broker prefix or queue name of one user only."""
    return f"{kind}-{uuid.uuid4().hex[:8]}"


@contextmanager
def scratch_dir(prefix: str = "wijkhub-bench-") -> Iterator[Path]:
    """A temporary directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


# --- processes -------------------------------------------------------------------------

@dataclass
class Server:
    """A child process serving HTTP on 127.0.0.1:port (or a background worker, no port)."""

    args: list[str]
    env: dict[str, str]
    log: Path
    port: int | None = None
    ready_path: str = "/healthz"
    ready_text: str | None = None
    cwd: Path = ROOT  # the code it runs: this tree, or a baseline's (bench/chain.py)
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> Server:
        """Start and wait until it answers ``ready_path`` (or logs ``ready_text``)."""
        with self.log.open("a") as out:
            self.proc = subprocess.Popen([sys.executable, *self.args], env=self.env, cwd=self.cwd,
                                         stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        # One client for the whole wait, without a TLS context (the URL is plain HTTP on
        # loopback): a client per attempt cost ~20 ms of CPU each, taken from the server
        # that is starting.
        with httpx.Client(timeout=2, verify=False, trust_env=False) as http:  # noqa: S501
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if self.port is not None:
                    try:
                        if http.get(self.url + self.ready_path).status_code == 200:
                            return self
                    except httpx.HTTPError:
                        pass
                elif self.ready_text and self.ready_text in self.log.read_text():
                    return self
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.args} did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        """SIGTERM, wait; SIGKILL if it does not stop within 30 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


@contextmanager
def running(*servers: Server) -> Iterator[tuple[Server, ...]]:
    """Start the servers in order; stop them all afterwards, in reverse order."""
    started: list[Server] = []
    try:
        for server in servers:
            started.append(server.start())
        yield servers
    finally:
        for server in reversed(started):
            server.stop()


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any HUB_* setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(extra)
    return env


def cpu_seconds(pids: list[int]) -> float:
    """The CPU (user and system) the processes ``pids`` have used so far (/proc/<pid>/stat);
    a process that has ended counts 0."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def process_tree(pids: list[int]) -> list[int]:
    """``pids`` and every process they started that runs now (``hub serve``'s routing
    process), from /proc/<pid>/task/<tid>/children."""
    found, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        found.append(pid)
        for children in Path(f"/proc/{pid}/task").glob("*/children"):
            try:
                todo.extend(int(child) for child in children.read_text().split())
            except OSError:
                continue  # ended meanwhile
    return found


def machine_busy_seconds() -> float:
    """The CPU every core of this machine has spent neither idle nor waiting for I/O so
    far (/proc/stat): what all processes used, the databases and the load included."""
    # user nice system idle iowait irq softirq steal (guest time is inside user already)
    ticks = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
