"""Fixtures: a hub per test on SQLite and on PostgreSQL, each with its own fresh database.

A test that uses ``ctx`` starts from a copy of a migrated template
(``tests/utils/databases.py``); every other test gets an empty database, so the
migration tests still run the migrations from zero.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from hub.app import create_app
from hub.core import correlation
from hub.core.context import HubContext, build_context
from hub.core.migrate import upgrade
from hub.core.plugins import load_plugins
from hub.core.worker import OutboxWorker
from hub.settings import Settings
from tests.utils import databases
from tests.utils.builders import FakeClock
from tests.utils.isolation import logging_restored
from tests.utils.services import unavailable

PG_SERVER = os.environ.get("HUB_TEST_POSTGRES",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# Argon2 at its production cost makes every partner() in a test take ~0.1 s of CPU;
# tests hash partner keys with the cheapest parameters argon2 allows.
CHEAP_KEY_HASHING = {"partner_key_time_cost": 1, "partner_key_memory_kib": 8,
                     "partner_key_parallelism": 1}


# The hub's own background threads: none may outlive the test that started it (a relay
# left running logs into a closed capture stream and publishes into the next test).
HUB_THREADS = {"outbox-relay", "outbox-worker", "test-worker", "metrics-server",
               "sqlite-checkpoint"}


def _postgres_available() -> bool:
    try:
        engine = create_engine(PG_SERVER)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL server URL; in CI a missing server fails the run instead of skipping.

    The first use in a session also drops what crashed earlier runs on this host left.
    """
    if not _postgres_available():
        unavailable(f"PostgreSQL does not answer at {PG_SERVER}")
    databases.drop_leftovers(PG_SERVER)
    return PG_SERVER


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str) -> str:
    """The migrated template database for this tree's migrations (built once per server)."""
    return databases.postgres_template(postgres_server)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file, made once per test process."""
    return databases.sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture
def migrated_data_dir(tmp_path, sqlite_template: Path) -> Path:
    """A data directory for ``hub`` commands run as processes, its SQLite database already
    at head (a copy of the template): each command then skips the migrations from zero,
    a second or more of every first command. For tests not about migrating."""
    data_dir = tmp_path / "hubdata"
    data_dir.mkdir()
    databases.sqlite_copy(sqlite_template, data_dir / "hub.sqlite3")
    return data_dir


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A URL whose search_path is a fresh, empty schema, dropped after the test."""
    schema = databases.unique_name()
    admin = create_engine(postgres_server)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{postgres_server}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_copies(postgres_server: str, postgres_template: str) -> Iterator:
    """This process's copies of the template, reused test after test, dropped at the end."""
    copies = databases.PostgresCopies(postgres_server, postgres_template)
    try:
        yield copies
    finally:
        copies.close()


@pytest.fixture
def migrated_postgres_url(postgres_copies) -> Iterator[str]:
    """A URL of a database equal to the migrated template, emptied again after the test."""
    name, url = postgres_copies.take()
    try:
        yield url
    finally:
        postgres_copies.give_back(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """Every store test runs twice: on SQLite (the embedded default) and on PostgreSQL.

    The database is the test's own. When the test uses ``ctx`` it is already
    migrated (a copy of the template, so ``ctx``'s ``upgrade()`` finds nothing to
    do); otherwise it is empty.
    """
    migrated = "ctx" in request.fixturenames
    if request.param == "sqlite":
        path = tmp_path / "hub.sqlite3"
        if migrated:
            return databases.sqlite_copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    if migrated:
        return request.getfixturevalue("migrated_postgres_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture(autouse=True)
def no_hub_thread_outlives_its_test() -> Iterator[None]:
    """Fail a test that leaves one of the hub's background threads running; put the
    logging configuration back (a handler on a closed capture stream broke later logs)."""
    before = set(threading.enumerate())
    with logging_restored():
        yield
    left = [t.name for t in threading.enumerate()
            if t not in before and t.name in HUB_THREADS and t.is_alive()]
    assert not left, f"background threads outlived the test: {left}"


@pytest.fixture(autouse=True)
def no_correlation_id_outlives_its_test() -> Iterator[None]:
    """Fail the test that leaves a correlation id bound in the test's own context.

    Routing adopts each message's id; code that does so outside a scoped function leaks
    the id into everything the process logs next (and, in the tests, into whichever test
    runs next on that worker, which then fails instead of the one at fault).
    """
    with correlation.bound(None):
        yield
        leaked = correlation.current()
    assert leaked is None, "a correlation id outlived the work it belonged to"


@pytest.fixture
def clock() -> FakeClock:
    """Time under the test's control."""
    return FakeClock()


# The tests' Settings before data_dir and database_url, by the HUB_* environment they
# were read from: reading ~100 fields from the environment costs ~20 ms, for every test.
_BASE_SETTINGS: dict[tuple[tuple[str, str], ...], Settings] = {}


def _base_settings() -> Settings:
    environment = tuple(sorted((k, v) for k, v in os.environ.items()
                               if k.upper().startswith("HUB_")))
    base = _BASE_SETTINGS.get(environment)
    if base is None:
        base = _BASE_SETTINGS[environment] = Settings(
            env="test", worker_enabled=False, retry_base_seconds=1.0, max_attempts=3,
            # The fake clock stands still, so a bucket would never refill.
            partner_rate_burst=1_000_000, **CHEAP_KEY_HASHING)
    return base


@pytest.fixture
def settings(tmp_path, database_url: str) -> Settings:
    """Settings for a hub in a temporary data directory, worker driven by the test.

    A copy of settings read once per HUB_* environment (a test that sets HUB_* before
    asking for this fixture gets settings read with it): both fields it sets are plain
    values, and what derives from them are properties.
    """
    return _base_settings().model_copy(update={"data_dir": tmp_path / "data",
                                               "database_url": database_url})


@pytest.fixture
def ctx(settings: Settings, clock: FakeClock) -> Iterator[HubContext]:
    """A migrated hub with the installed plugins (the built-in partners)."""
    context = build_context(settings, plugins=load_plugins(), clock=clock)
    # A copy of the template is at head already; skipping the no-op saves ~0.1 s a test.
    if not databases.is_migrated_copy(settings.database_url):
        upgrade(context.engine)
    try:
        yield context
    finally:
        context.dispose()


@pytest.fixture
def client(ctx: HubContext) -> Iterator[TestClient]:
    """An HTTP client on the hub's app (no background worker: tests drain explicitly)."""
    with TestClient(create_app(ctx, run_worker=False), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def worker(ctx: HubContext) -> OutboxWorker:
    """The embedded queue's worker; call ``worker.drain()`` to deliver what is queued."""
    return OutboxWorker(ctx)


@pytest.fixture
def client_factory() -> Iterator:
    """Make HTTP clients for hubs a test builds itself; closed after the test."""
    clients: list[TestClient] = []

    def make(context: HubContext) -> TestClient:
        client = TestClient(create_app(context, run_worker=False), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def worker_for():
    """Make a worker for a hub a test builds itself."""
    return OutboxWorker


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The serial step (``pytest -m serial``) with no serial test to run passes.

    pytest exits 5 when nothing was collected; for the serial step of the README's test
    command that only means this tree has no test that stops a shared service.
    """
    if (exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED
            and session.config.option.markexpr.strip() == "serial"):
        session.exitstatus = pytest.ExitCode.OK


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The serial step (``pytest -m serial``) imports only the test modules that name the mark.

    Collecting the whole suite to deselect it costs the serial step ~10 s, alone on the
    machine after the parallel step; a module that never writes ``serial`` holds no
    serial test (the mark is set in the module, never added by a hook here).
    """
    if config.option.markexpr.strip() != "serial" or not collection_path.is_file():
        return None
    if not (collection_path.name.startswith("test_") and collection_path.suffix == ".py"):
        return None
    return "serial" not in collection_path.read_text(encoding="utf-8")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests on the session's real hub and Chromium stay on one xdist worker; slow ones go first.

    With ``--dist loadgroup`` they share one browser and one served hub instead of one
    per worker (each Chromium costs hundreds of MB and seconds to start).

    xdist hands out tests in this order (its largest group first), so the tests that
    start real servers (``slow``: the benchmarks, the README walk, the crash tests) are
    moved to the front, in pytest-randomly's order among themselves: started first, they
    spread over the workers while the short tests fill the gaps, instead of one of them
    starting last and keeping the run going alone (issue 18).
    """
    for item in items:
        if {"browser", "web_hub"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("web"))
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable
