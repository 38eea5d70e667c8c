"""A hub to measure, as real processes: ``hub serve`` (and ``hub worker`` on RabbitMQ).

The ways the hub is deployed:

* ``embedded`` — SQLite (WAL) in a temporary data directory, ``hub serve`` as it
  starts by default: on two cores or more the outbox worker runs in its child
  process (``HUB_WORKER_PROCESS``), else in a thread;
* ``embedded+worker`` — the same store, ``hub serve`` without a worker and
  ``hub worker`` processes beside it, started by hand;
* ``postgres+rabbitmq`` — a fresh PostgreSQL schema, a private RabbitMQ virtual
  host; ``hub serve`` runs the API and the outbox relay, ``hub worker`` processes
  (one unless asked for more) consume and route.

The hub is seeded before it starts: the wijk map's Krispijn residents the load
messages are about, and one housing corporation whose API key (hashed with the
hub's default argon2 parameters: real auth) is handed to the load tool. The
only setting changed from the defaults is the per-partner rate limit, lifted so
that the benchmark measures the hub and not its limiter.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.common import (
    ROOT,
    Server,
    clean_env,
    free_port,
    postgres_schema,
    rabbit_vhost,
    scratch_dir,
    unique_name,
)

#: embedded: one ``hub serve`` (API, and its worker: a child process on two cores or more)
#: on SQLite; embedded+worker: on
#: SQLite too, ``hub serve`` with HUB_WORKER_ENABLED=false and ``hub worker`` processes
#: beside it (README: "Two processes on one machine"); postgres+rabbitmq: ``hub serve``
#: (API and relay) and ``hub worker`` consumers.
MODES = ("embedded", "embedded+worker", "postgres+rabbitmq")
# The residents a hub is seeded with, whom the load's messages talk about in turn. The
# benchmarks' smoke tests seed fewer (WIJKHUB_BENCH_RESIDENTS): seeding 500 costs seconds
# per hub, and the smoke tests check that a benchmark runs, not its figures.
RESIDENTS = int(os.environ.get("WIJKHUB_BENCH_RESIDENTS", "500"))
LIFTED_RATE_LIMIT = {"HUB_PARTNER_RATE_PER_SECOND": "1000000",
                     "HUB_PARTNER_RATE_BURST": "1000000"}
WORKER_READY = "worker consuming from"
EMBEDDED_WORKER_READY = "worker: routing the embedded queue"


@dataclass
class Hub:
    """A seeded, running hub: where to send, with which key, and where it stores."""

    mode: str
    url: str
    api_key: str
    database_url: str
    data_dir: Path
    serve: Server
    workers: list[Server]

    @property
    def worker(self) -> Server | None:
        """The first ``hub worker`` process (None in embedded mode)."""
        return self.workers[0] if self.workers else None

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def regisseur_token(self) -> str:
        """A development bearer token of a Krispijn regisseur (the hub's own issuer)."""
        from hub.core.context import build_context
        from hub.core.identity import issue_token
        from hub.settings import Settings

        ctx = build_context(Settings(env="test", data_dir=self.data_dir,
                                     database_url=self.database_url))
        try:
            return issue_token(ctx, role="regisseur", user="anna", wijk="krispijn")
        finally:
            ctx.dispose()


def resident_seed(n: int) -> int:
    """The builder seed of the n-th resident the load talks about (1-based, distinct houses)."""
    return n % RESIDENTS + 1


def seed_under(code: Path, data_dir: Path, database_url: str) -> str:
    """:func:`seed` run by the code in ``code`` (a baseline's tree: its own migrations)."""
    out = subprocess.run(
        [sys.executable, "-c", "import sys; from pathlib import Path; from bench.hubs import "
         "seed; print(seed(Path(sys.argv[1]), sys.argv[2]))", str(data_dir), database_url],
        cwd=code, env=clean_env(PYTHONPATH=str(code)), capture_output=True, text=True,
        timeout=600, check=False)
    if out.returncode:
        raise RuntimeError(f"seeding under {code} failed:\n{out.stderr[-3000:]}")
    return out.stdout.strip().splitlines()[-1]


def seed(data_dir: Path, database_url: str, residents: int = RESIDENTS) -> str:
    """Migrate, register ``residents`` Krispijn residents and a housing corporation; its key."""
    from hub.core.context import build_context
    from hub.core.migrate import upgrade
    from hub.settings import Settings
    from tests.utils.builders import partner, person, register

    ctx = build_context(Settings(data_dir=data_dir, database_url=database_url))
    try:
        upgrade(ctx.engine)
        register(ctx, *(person(n) for n in range(1, residents + 1)))
        _, headers = partner(ctx)
    finally:
        ctx.dispose()
    return headers["Authorization"].removeprefix("Bearer ")


@contextmanager
def database(mode: str, data_dir: Path) -> Iterator[str]:
    """The database URL of a mode (PostgreSQL: a fresh schema, dropped afterwards)."""
    if mode.startswith("embedded"):
        yield f"sqlite:///{(data_dir / 'hub.sqlite3').resolve()}"
    else:
        with postgres_schema("bench_hub") as url:
            yield url


@contextmanager
def hub(mode: str, *, workers: int = 1, code: Path | None = None,
        **settings: str) -> Iterator[Hub]:
    """A seeded hub in ``mode``, running until the block ends; then everything is removed.

    ``workers``: how many ``hub worker`` processes route (not in ``embedded``, whose
    worker runs inside ``hub serve``). ``code``: another tree of the hub to run
    (a baseline unpacked by ``bench.chain.baseline``), seeded and served by its own code.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    if workers < 1:
        raise ValueError("workers must be at least 1")
    with ExitStack() as stack:
        tmp = stack.enter_context(scratch_dir())
        data_dir = tmp / "data"
        database_url = stack.enter_context(database(mode, data_dir))
        broker_url = (f"{stack.enter_context(rabbit_vhost())}?prefix={unique_name('bench')}"
                      if mode == "postgres+rabbitmq" else "")
        if mode == "embedded+worker":
            settings = {"HUB_WORKER_ENABLED": "false", **settings}
        key = seed(data_dir, database_url) if code is None else \
            seed_under(code, data_dir, database_url)
        # HUB_ENV=test: the benchmark signs development tokens (refused in production).
        env = clean_env(HUB_ENV="test", HUB_DATA_DIR=str(data_dir), HUB_DATABASE_URL=database_url,
                        HUB_BROKER_URL=broker_url,
                        **LIFTED_RATE_LIMIT, **settings)
        if code is not None:
            env["PYTHONPATH"] = str(code)
        cwd = code or ROOT
        port = free_port()
        serve = Server(["-m", "hub.cli", "serve", "--port", str(port)], env, tmp / "serve.log",
                       port=port, ready_path="/readyz", cwd=cwd)
        serve.start()
        stack.callback(serve.stop)
        started: list[Server] = []
        for n in range(workers if mode != "embedded" else 0):
            worker = Server(["-m", "hub.cli", "worker"], env, tmp / f"worker-{n}.log",
                            ready_text=WORKER_READY if broker_url else EMBEDDED_WORKER_READY,
                            cwd=cwd)
            worker.start()
            stack.callback(worker.stop)
            started.append(worker)
        yield Hub(mode=mode, url=serve.url, api_key=key, database_url=database_url,
                  data_dir=data_dir, serve=serve, workers=started)


def arrears_body(run: str, n: int) -> dict:
    """A valid ``signal.arrears.rent`` about a registered resident; unique per (run, n).

    The same shape as bench/wrk_post.lua builds, so the Python and wrk loads send alike.
    """
    s = resident_seed(n)
    house = str(s % 900 + 1)
    return {"type": "signal.arrears.rent", "source_ref": f"{run}-{n}",
            "subject": {"name": f"Bewoner {s}", "postcode": "3317AB", "huisnummer": house},
            "occurred_at": "2026-11-20T08:00:00+00:00",
            "data": {"amount_eur": "1250.00", "months": 3, "since": "2026-08-01",
                     "tenancy_ref": f"T{run}-{n}",
                     "address": {"postcode": "3317AB", "huisnummer": house}}}
