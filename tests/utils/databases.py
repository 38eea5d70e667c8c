"""Migrated template databases for the tests: migrate once, copy per test.

Running the eleven-and-counting migrations for every test was most of the
suite's time. Instead each store gets a template that ``upgrade()`` built
(its ``alembic_version`` row included, so a test's own ``upgrade()`` on a copy
is a no-op), keyed by a hash of the migration files: a branch that adds or
edits a migration gets a fresh template by itself.

- SQLite: a migrated file per test process, copied per test.
- PostgreSQL: a template database ``wijkhub_tpl_<hash>`` made once per server
  (an advisory lock keeps parallel workers and parallel runs from building it
  twice), cloned with ``CREATE DATABASE … TEMPLATE``. ``DROP DATABASE`` forces
  a checkpoint on PostgreSQL 15 (1.5–7.8 s per drop on the shared 2-core
  machine), so a copy is not dropped after its test: it is emptied
  (every table the template holds empty is emptied with the append-only
  triggers switched off, sequences restarted) and, if its schema still equals the template's, handed
  to the process's next test. A copy whose schema a test changed is dropped.
  The copies of a process are dropped when its session ends.

The names of per-test databases and schemas carry this host and the creating
process id, so a session can drop the leftovers of crashed runs without
touching a run that is still going (a colleague's, or another xdist worker's).

Templates of other migration sets (an older tree's, another branch's) would pile
up, one per hash. Every session notes on its template when it last used it (a
comment on the database); a template of another hash that no session has used for
``STALE_AFTER`` is dropped by the next session, under the build lock, so a run
that starts on it at that moment either sees it gone and builds it again or has
marked it used first. A template made before these notes counts from its creation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import socket
import uuid
from importlib import resources
from pathlib import Path

from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from hub.core.db import make_engine
from hub.core.migrate import upgrade

PREFIX = "wijkhub_t_"
TEMPLATE_PREFIX = "wijkhub_tpl_"
# One key for every template build on the server: building is rare, waiting is cheap.
_BUILD_LOCK = 0x57696A6B  # "Wijk"
# A template of another migration set that no session used for this long is dropped.
STALE_AFTER = dt.timedelta(hours=24)
_USED = "wijkhub test template, last used "
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]
_NAME = re.compile(rf"^{PREFIX}{_HOST}_(\d+)_[0-9a-f]+$")


# URLs handed out as copies of a template: ``ctx`` need not run ``upgrade()`` on them.
_COPIES: set[str] = set()


def is_migrated_copy(url: str) -> bool:
    """Whether ``url`` is a copy of this tree's template (so already at head)."""
    return url in _COPIES


def migrations_key() -> str:
    """A short hash of every file that decides what ``upgrade()`` builds."""
    root = Path(str(resources.files("hub") / "migrations"))
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".mako"}:
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def unique_name() -> str:
    """A name for a per-test database or schema: this host, this process, random."""
    return f"{PREFIX}{_HOST}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _admin(server: str) -> Engine:
    return create_engine(server, isolation_level="AUTOCOMMIT")


def _with_database(server: str, name: str) -> str:
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def drop_leftovers(server: str) -> None:
    """Drop the databases and schemas of test processes on this host that no longer run."""
    admin = _admin(server)
    try:
        with admin.connect() as conn:
            databases = conn.execute(text(
                "SELECT datname FROM pg_database WHERE datname LIKE :p"),
                {"p": f"{PREFIX}%"}).scalars().all()
            schemas = conn.execute(text(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE :p"),
                {"p": f"{PREFIX}%"}).scalars().all()
            for name in databases:
                match = _NAME.match(name)
                if match and not _process_alive(int(match.group(1))):
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            for name in schemas:
                match = _NAME.match(name)
                if match and not _process_alive(int(match.group(1))):
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    finally:
        admin.dispose()


def postgres_template(server: str) -> str:
    """The name of the migrated template database for this tree's migrations; built once."""
    name = f"{TEMPLATE_PREFIX}{migrations_key()}"
    admin = _admin(server)
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _BUILD_LOCK})
            try:
                exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                      {"n": name}).first()
                if not exists:
                    _build_template(conn, server, name)
                _mark_used(conn, name)
                drop_stale_templates(conn, keep=name)
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _BUILD_LOCK})
    finally:
        admin.dispose()
    return name


def _mark_used(conn, name: str) -> None:
    # Server time, so that every machine and run compares the same clock.
    now = conn.execute(text("SELECT now()")).scalar_one()
    conn.execute(text(f"COMMENT ON DATABASE \"{name}\" IS '{_USED}{now.isoformat()}'"))


def drop_stale_templates(conn, *, keep: str) -> list[str]:
    """Drop the templates (and half-built ones) of other migration sets unused for a day.

    Call it holding the build lock (``postgres_template`` does): a session marks its
    template used under the same lock. Returns the names dropped.
    """
    pattern = {"p": TEMPLATE_PREFIX.replace("_", "\\_") + "%"}
    try:
        # An untagged template (made before these notes) counts from its creation.
        rows = conn.execute(text(
            "SELECT datname, shobj_description(oid, 'pg_database'), now(), "
            "(pg_stat_file('base/' || oid || '/PG_VERSION', true)).modification "
            "FROM pg_database WHERE datname LIKE :p"), pattern).all()
    except DBAPIError:  # pg_stat_file is for superusers: then untagged ones stay
        rows = conn.execute(text(
            "SELECT datname, shobj_description(oid, 'pg_database'), now(), NULL "
            "FROM pg_database WHERE datname LIKE :p"), pattern).all()
    dropped = []
    for datname, comment, now, created in rows:
        if datname in (keep, f"{keep}_build"):
            continue
        used = (dt.datetime.fromisoformat(comment.removeprefix(_USED))
                if comment and comment.startswith(_USED) else created)
        if used is None or now - used < STALE_AFTER:
            continue  # in use lately, or its age is unknown: not ours to judge
        conn.execute(text(f'ALTER DATABASE "{datname}" WITH IS_TEMPLATE false'))
        conn.execute(text(f'DROP DATABASE IF EXISTS "{datname}" WITH (FORCE)'))
        dropped.append(datname)
    return dropped


def _build_template(conn, server: str, name: str) -> None:
    # Built under another name and renamed when complete: a crash mid-build leaves
    # no half-migrated template behind under the real name.
    building = f"{name}_build"
    conn.execute(text(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)'))
    conn.execute(text(f'CREATE DATABASE "{building}"'))
    engine = make_engine(_with_database(server, building))
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    conn.execute(text(f'ALTER DATABASE "{building}" RENAME TO "{name}"'))
    # Nobody connects to the template by accident: CREATE DATABASE needs it idle.
    conn.execute(text(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false'))


def drop_postgres_database(server: str, name: str) -> None:
    """Drop a per-test database, ending any connection a test left open."""
    admin = _admin(server)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


_FINGERPRINT = text("""
SELECT md5(string_agg(item, '|' ORDER BY item)) FROM (
  SELECT 'n:' || nspname AS item FROM pg_namespace
   WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'
  UNION ALL
  SELECT 'c:' || n.nspname || '.' || c.relname || ':' || c.relkind::text || ':' || a.attname || ':'
         || format_type(a.atttypid, a.atttypmod) || ':' || a.attnotnull
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
   WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
  UNION ALL
  SELECT 'i:' || schemaname || '.' || indexname || ':' || indexdef FROM pg_indexes
   WHERE schemaname NOT LIKE 'pg\\_%' AND schemaname <> 'information_schema'
  UNION ALL
  SELECT 't:' || tgrelid::regclass::text || '.' || tgname || ':' || tgenabled::text || ':'
         || md5(pg_get_triggerdef(oid)) FROM pg_trigger WHERE NOT tgisinternal
  UNION ALL
  SELECT 'k:' || conrelid::regclass::text || '.' || conname || ':'
         || md5(pg_get_constraintdef(oid)) FROM pg_constraint WHERE connamespace NOT IN
         (SELECT oid FROM pg_namespace WHERE nspname LIKE 'pg\\_%'
             OR nspname = 'information_schema')
  UNION ALL
  SELECT 'f:' || p.proname || ':' || md5(p.prosrc) FROM pg_proc p
    JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
  UNION ALL
  SELECT 'v:' || version_num FROM alembic_version
) AS items
""")


_RESETTER = "wijkhub-tests-reset"


class PostgresCopies:
    """This process's copies of the template: handed out one per test, emptied and reused."""

    def __init__(self, server: str, template: str) -> None:
        self.server = server
        self.template = template
        self._admin = _admin(server)
        self._free: list[str] = []
        self._all: list[str] = []
        self._tables: list[str] | None = None
        self._sequences: list[tuple[str, int]] = []
        self._fingerprint: str | None = None
        # One connection per copy, kept from test to test: a new connection loads the
        # catalog again (the reset and the fingerprint cost 40 ms on a fresh one, 15 ms on
        # a kept one). The reset ends every other connection to the copy, not this one.
        self._engines: dict[str, Engine] = {}

    def take(self) -> tuple[str, str]:
        """A database equal to the template: its name and URL."""
        if self._free:
            name = self._free.pop()
        else:
            name = unique_name()
            with self._admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
            self._all.append(name)
            if self._fingerprint is None:
                self._learn(name)
        url = _with_database(self.server, name)
        _COPIES.add(url)
        return name, url

    def _learn(self, name: str) -> None:
        # A fresh copy is the template: what is empty there is emptied after each test.
        engine = create_engine(_with_database(self.server, name), poolclass=NullPool)
        try:
            with engine.connect() as conn:
                tables = conn.execute(text(
                    "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) "
                    "FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'")).scalars().all()
                self._tables = [t for t in tables
                                if conn.execute(text(f"SELECT NOT EXISTS (SELECT FROM {t})"))
                                .scalar_one()]
                # A table the migrations fill (seed rows) cannot be emptied: no reuse then.
                if len(self._tables) != len(tables):
                    self._tables = None
                self._sequences = [tuple(row) for row in conn.execute(text(
                    "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), "
                    "start_value FROM pg_sequences WHERE schemaname = 'public'"))]
                self._fingerprint = conn.execute(_FINGERPRINT).scalar_one()
        finally:
            engine.dispose()

    def give_back(self, name: str) -> None:
        """Empty the database for the next test, or drop it when its schema was changed."""
        if self._tables is not None and self._reset(name):
            self._free.append(name)
            return
        self._all.remove(name)
        engine = self._engines.pop(name, None)
        if engine is not None:
            engine.dispose()
        drop_postgres_database(self.server, name)

    def _engine(self, name: str) -> Engine:
        engine = self._engines.get(name)
        if engine is None:
            engine = self._engines[name] = create_engine(
                _with_database(self.server, name), pool_size=1, max_overflow=0, pool_pre_ping=True,
                connect_args={"application_name": _RESETTER})
        return engine

    def _reset(self, name: str) -> bool:
        with self._admin.connect() as conn:  # what the test left connected goes
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :n AND pid <> pg_backend_pid() "
                              "AND application_name <> :keeper"),
                         {"n": name, "keeper": _RESETTER})
        try:
            with self._engine(name).connect() as conn:
                # One round trip for the whole reset (about 45 statements; one by one they
                # cost 60 ms a test): without parameters psycopg sends them as one script.
                with conn.begin():
                    conn.exec_driver_sql(self._reset_script())
                return conn.execute(_FINGERPRINT).scalar_one() == self._fingerprint
        except Exception:
            return False

    def _reset_script(self) -> str:
        assert self._tables is not None
        statements = [
            # Replica mode skips the append-only triggers, which also refuse TRUNCATE.
            "SET LOCAL session_replication_role = replica",
            "SET LOCAL lock_timeout = '30s'",
            # DELETE, not TRUNCATE: a few rows each, and TRUNCATE makes new files for
            # every table and index (0.6-1.3 s against 0.05-0.07 s, measured).
            *(f"DELETE FROM {table}" for table in self._tables),
            *("SELECT setval('{}', {}, false)".format(sequence.replace("'", "''"), int(start))
              for sequence, start in self._sequences),
        ]
        return ";\n".join(statements)

    def close(self) -> None:
        """Drop every copy this process made."""
        try:
            for engine in self._engines.values():
                engine.dispose()
            for name in self._all:
                drop_postgres_database(self.server, name)
        finally:
            self._admin.dispose()


def sqlite_template(directory: Path) -> Path:
    """A migrated SQLite file in ``directory`` (one per test process)."""
    path = directory / f"template-{migrations_key()}.sqlite3"
    if not path.exists():
        building = directory / f"{path.name}.build"
        engine = make_engine(f"sqlite:///{building}")
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        building.rename(path)
    return path


def sqlite_copy(template: Path, target: Path) -> str:
    """A copy of the migrated SQLite template at ``target``, as a URL."""
    shutil.copyfile(template, target)
    url = f"sqlite:///{target}"
    _COPIES.add(url)
    return url
