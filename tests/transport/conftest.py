"""Fixtures for the transport: a private RabbitMQ virtual host, and one driver per transport.

A test that stops a broker or a database server gets one of its own
(:class:`PrivateRabbit`, :class:`PrivatePostgres`), so no other test is disturbed
and the fault tests need no serial step.

The ``transport`` fixture runs a test twice, on the embedded queue and on
RabbitMQ, so both are held to the same delivery tests (issue 3). In the
RabbitMQ run the test's app runs the outbox relay (as ``hub serve`` does) and
a :class:`BrokerWorker` consumes on a hub context of its own (as ``hub worker``
does in another process).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest
from sqlalchemy import func, select

from hub.core.context import HubContext, build_context
from hub.core.models import OutboxEntry
from hub.core.transport.broker import parse_broker
from hub.core.transport.consumer import BrokerWorker
from hub.core.transport.tasks import run_task
from hub.core.worker import OutboxWorker
from hub.settings import Settings
from tests.transport.processes import free_port
from tests.utils.services import unavailable
from tests.utils.waiting import PATIENCE_SECONDS, wait_until

RABBIT_HOST = os.environ.get("HUB_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672")
UNFINISHED = ("pending", "sent")


def _rabbitmq_available() -> bool:
    try:
        pika.BlockingConnection(pika.URLParameters(f"{RABBIT_HOST}/%2F")).close()
        return True
    except Exception:
        return False


def rabbitmqctl(*args: str, node: str | None) -> subprocess.CompletedProcess:
    """Run ``rabbitmqctl`` on ``node`` (``None``: the shared broker's); raises when it fails.

    ``node`` has no default, so every call says which node it acts on: the fault
    tests stop only a :class:`PrivateRabbit` node of their own.
    """
    target = [] if node is None else ["-n", node]
    return subprocess.run(["rabbitmqctl", *target, "-q", *args], check=True,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def rabbitmq_server() -> str:
    """The broker's base URL; in CI a missing broker fails the run instead of skipping."""
    if not _rabbitmq_available():
        unavailable(f"RabbitMQ does not answer at {RABBIT_HOST}")
    return RABBIT_HOST


@pytest.fixture(scope="session")
def rabbit_vhost(rabbitmq_server: str) -> Iterator[str]:
    """A virtual host of this test session only, deleted afterwards: parallel runs never meet."""
    if shutil.which("rabbitmqctl") is None:
        unavailable("rabbitmqctl is not installed (needed for a private virtual host)")
    vhost = f"wijkhub-test-{uuid.uuid4().hex[:10]}"
    rabbitmqctl("add_vhost", vhost, node=None)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*", node=None)
        yield vhost
    finally:
        rabbitmqctl("delete_vhost", vhost, node=None)


@pytest.fixture
def broker_url(rabbit_vhost: str) -> str:
    """A broker URL with a prefix of this test only (inside the session's virtual host).

    pika gives up on an AMQP handshake after 15 s; on a loaded CI machine the shared
    broker has answered later than that, which failed a test that was not about it. The
    URL asks for the same patience as every other wait in the tests.
    """
    return (f"{RABBIT_HOST}/{rabbit_vhost}?prefix=t-{uuid.uuid4().hex[:10]}"
            f"&stack_timeout={PATIENCE_SECONDS:.0f}")


@pytest.fixture(params=["embedded", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)])
def transport_name(request: pytest.FixtureRequest) -> str:
    """Which transport the test runs on."""
    return request.param


@pytest.fixture
def settings(tmp_path, database_url: str, transport_name: str,
             request: pytest.FixtureRequest) -> Settings:
    """The usual test settings, plus the broker for the RabbitMQ run; short retry waits."""
    url = request.getfixturevalue("broker_url") if transport_name == "rabbitmq" else ""
    return Settings(env="test", data_dir=tmp_path / "data", database_url=database_url,
                    worker_enabled=False, retry_base_seconds=0.05, max_attempts=3,
                    worker_poll_seconds=0.05, broker_url=url)


class EmbeddedDriver:
    """The embedded queue, driven by the test: drain, moving the fake clock past backoffs."""

    name = "embedded"

    def __init__(self, ctx: HubContext, clock) -> None:
        self.ctx = ctx
        self.worker_ctx = ctx  # one process: the worker shares the API's context
        self.clock = clock
        self.worker = OutboxWorker(ctx)

    def drain(self) -> None:
        """Deliver everything queued, retries included, until nothing is left to do."""
        for _ in range(100):
            self.worker.drain()
            with self.ctx.sessions() as session:
                due = session.scalar(select(func.min(OutboxEntry.next_attempt_at))
                                     .where(OutboxEntry.status == "pending"))
            if due is None:
                return
            self.clock.now = max(self.clock.now, due)
        raise AssertionError("the embedded queue did not drain")

    def redeliver(self, entry_id: int) -> None:
        """Hand a finished row to the worker again, as a crash before the ack would."""
        assert run_task(self.ctx, entry_id).status == "done"

    def wait_for(self, condition, what: str) -> None:
        """In one process everything already happened."""
        assert condition(), what


class RabbitDriver:
    """A ``hub worker`` on its own context in a thread; the app's relay publishes."""

    name = "rabbitmq"

    def __init__(self, ctx: HubContext, clock) -> None:
        self.ctx = ctx
        self.broker = parse_broker(ctx.settings)
        # Its own context, as in another process; plugins shared so test plugins apply.
        self.worker_ctx = build_context(ctx.settings, plugins=ctx.plugins, clock=clock)
        self.restart()

    def restart(self) -> None:
        """Start the worker (again); a running one is stopped first, never orphaned."""
        if getattr(self, "thread", None) is not None and self.thread.is_alive():
            self._stop_worker()
        self.stop = threading.Event()
        self.worker = BrokerWorker(self.worker_ctx, self.broker, self.stop)
        self.thread = threading.Thread(target=self.worker.run, name="test-worker", daemon=True)
        self.thread.start()
        self.wait_for(self.worker.connected.is_set, "the worker did not connect")

    def wait_for(self, condition, what: str, timeout: float = PATIENCE_SECONDS) -> None:
        """Wait until ``condition()`` holds (the broker is asynchronous)."""
        wait_until(condition, what, timeout=timeout)

    def _unfinished(self) -> int:
        with self.ctx.sessions() as session:
            return session.scalar(select(func.count()).select_from(OutboxEntry)
                                  .where(OutboxEntry.status.in_(UNFINISHED)))

    def drain(self) -> None:
        """Wait until every outbox row is done or dead."""
        assert self.ctx.transport is not None, "the app (with its relay) must be running"
        self.wait_for(lambda: self._unfinished() == 0, "RabbitMQ did not drain the outbox")

    def redeliver(self, entry_id: int) -> None:
        """Publish a finished row's task again, as the relay does after a crash."""
        from hub.core.transport.messages import TaskRef, encode
        from hub.core.transport.relay import task_properties

        with self.ctx.sessions() as session:
            entry = session.get(OutboxEntry, entry_id)
        before = self.worker.handled
        conn = pika.BlockingConnection(self.broker.parameters)
        try:
            channel = conn.channel()
            channel.confirm_delivery()
            channel.basic_publish(self.broker.tasks_exchange, f"task.{entry.task}",
                                  encode(TaskRef(outbox_id=entry.id, message_id=entry.message_id,
                                                 task=entry.task)),
                                  task_properties(entry.id, entry.task))
        finally:
            conn.close()
        self.wait_for(lambda: self.worker.handled > before, "the redelivery was not handled")

    def _stop_worker(self) -> None:
        self.stop.set()
        self.worker.wake()
        self.thread.join(timeout=PATIENCE_SECONDS)
        assert not self.thread.is_alive(), "the test's broker worker did not stop"

    def close(self) -> None:
        try:
            self._stop_worker()
        finally:
            self.worker_ctx.dispose()


@pytest.fixture
def transport(transport_name: str, ctx: HubContext, clock, client) -> Iterator:
    """The transport under test, with ``drain()``; the ``client`` app runs its serving side."""
    if transport_name == "embedded":
        yield EmbeddedDriver(ctx, clock)
        return
    driver = RabbitDriver(ctx, clock)
    try:
        yield driver
    finally:
        driver.close()


class PrivatePostgres:
    """A PostgreSQL cluster of one test, on its own port: restarting it harms nobody."""

    def __init__(self, bindir: Path, root: Path, port: int) -> None:
        self.bindir, self.root, self.port = bindir, root, port
        self.data = root / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(self.bindir / "pg_ctl"),
                        "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
                        "-t", "60", *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._pg_ctl("-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                           "-c fsync=off -c max_connections=100", "start")

    def restart(self) -> None:
        """What a failover looks like to the hub: every connection dropped, then back."""
        self._pg_ctl("-m", "fast", "restart")

    def stop(self) -> None:
        self._pg_ctl("-m", "immediate", "stop")


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A throw-away PostgreSQL cluster (initdb as the postgres OS user); fails loudly in CI."""
    bindirs = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    problem = None
    if not bindirs:
        problem = "no PostgreSQL binaries under /usr/lib/postgresql"
    elif os.geteuid() != 0 or shutil.which("runuser") is None:
        problem = "a private cluster needs root and runuser (initdb refuses to run as root)"
    if problem:
        unavailable(f"cannot start a private PostgreSQL: {problem}")
    root = Path(tempfile.mkdtemp(prefix="wijkhub-pg-"))
    shutil.chown(root, "postgres", "postgres")
    server = PrivatePostgres(bindirs[-1].parent, root, free_port())
    try:
        subprocess.run(["runuser", "-u", "postgres", "--", str(server.bindir / "initdb"),
                        "-D", str(server.data), "--auth=trust", "-U", "postgres",
                        "--no-sync"], check=True, capture_output=True, timeout=120)
        server.start()
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"cannot start a private PostgreSQL: {exc.stderr!r}")
    try:
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)


class PrivateRabbit:
    """A RabbitMQ node of one test, beside the shared one: stopping its app harms nobody.

    Own node name, AMQP and distribution ports, data, logs, config and no plugins
    (so the management plugin does not claim port 15672). Every ``rabbitmqctl``
    call names this node with ``-n``.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.node = f"faults-{uuid.uuid4().hex[:8]}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"
        self.process: subprocess.Popen | None = None
        self.start_seconds: float | None = None

    def _env(self) -> dict[str, str]:
        config = self.root / "rabbitmq"  # RabbitMQ adds ".conf"
        config.with_suffix(".conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        (self.root / "enabled_plugins").write_text("[].\n")
        env_file = self.root / "rabbitmq-env.conf"  # not /etc's: that one names the shared node
        env_file.write_text("ERL_EPMD_ADDRESS=127.0.0.1\n")
        return {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONF_ENV_FILE": str(env_file),
            "RABBITMQ_CONFIG_FILE": str(config),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.root / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_PID_FILE": str(self.root / "rabbit.pid"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS":
                "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    def _answers(self) -> bool:
        ping = subprocess.run(["rabbitmq-diagnostics", "-n", self.node, "-q", "ping"],
                              capture_output=True, timeout=120, check=False)
        return ping.returncode == 0

    def _exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def start(self) -> None:
        """Start the node and wait until it answers a ping (a loaded machine may take long)."""
        began = time.monotonic()
        with open(self.root / "server.out", "wb") as out:
            self.process = subprocess.Popen(["rabbitmq-server"], env=self._env(), stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self._answers, f"the private RabbitMQ node {self.node} never answered",
                   stop=self._exited)
        wait_until(self._accepts_amqp, f"{self.node} never accepted an AMQP connection",
                   stop=self._exited)
        self.start_seconds = time.monotonic() - began

    def _accepts_amqp(self) -> bool:
        # A plain TCP probe: the listener opens once the app has booted (pika would log
        # an ERROR for every refused try).
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=5).close()
            return True
        except OSError:
            return False

    def ctl(self, *args: str) -> subprocess.CompletedProcess:
        """``rabbitmqctl -n <this node> ...``."""
        return rabbitmqctl(*args, node=self.node)

    def stop(self) -> None:
        """Stop the node; if it does not stop cleanly, kill the processes this fixture started."""
        if self.process is None:
            return
        try:
            if self.process.poll() is None:
                self.ctl("stop")
                self.process.wait(timeout=PATIENCE_SECONDS)
        except (subprocess.SubprocessError, OSError):
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)  # our own session only
                self.process.wait(timeout=60)


@pytest.fixture
def private_rabbit() -> Iterator[PrivateRabbit]:
    """A throw-away RabbitMQ node, stopped afterwards (also on failure); fails loudly in CI."""
    problem = None
    if shutil.which("rabbitmq-server") is None:
        problem = "rabbitmq-server is not installed"
    elif os.geteuid() != 0:
        problem = "a private RabbitMQ node needs root (the server runs as the rabbitmq user)"
    if problem:
        unavailable(f"cannot start a private RabbitMQ node: {problem}")
    # Not under tmp_path: the server runs as the rabbitmq user, who cannot enter pytest's
    # root-only temporary directories.
    root = Path(tempfile.mkdtemp(prefix="wijkhub-rabbit-"))
    rabbit = pwd.getpwnam("rabbitmq")
    os.chown(root, rabbit.pw_uid, rabbit.pw_gid)
    server = PrivateRabbit(root)
    try:
        try:
            server.start()
        except AssertionError as exc:
            log = (root / "server.out").read_text(errors="replace")[-2000:]
            pytest.fail(f"cannot start a private RabbitMQ node: {exc}\n{log}")
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)
