"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, select, text

from hub.core.db import all_metadata, make_engine
from hub.core.migrate import HEAD, alembic_config, stored_revisions, upgrade
from hub.core.models import Household

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on an empty database (a fresh schema on PostgreSQL)."""
    eng = make_engine(database_url)
    try:
        yield eng
    finally:
        eng.dispose()


def model_tables() -> set[str]:
    return {name for metadata in all_metadata() for name in metadata.tables}


def schema_differences(engine: Engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True})
        return compare_metadata(context, all_metadata())


def head(engine: Engine) -> str:
    script = ScriptDirectory.from_config(alembic_config(engine.url.render_as_string()))
    return script.get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_an_empty_database_differs_from_the_models(engine):
    # The comparison below can fail: on an empty database it sees every table missing.
    missing = {diff[1].name for diff in schema_differences(engine) if diff[0] == "add_table"}
    assert missing == model_tables()


def test_upgraded_schema_matches_the_models(engine):
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) == model_tables() | {"alembic_version"}
    assert schema_differences(engine) == []
    assert current_revision(engine) == head(engine)


def test_upgrading_twice_is_a_no_op(engine):
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(Household.__table__.insert().values(
            id="h-1", address_key="k-1", wijk="krispijn"))
    before = {name: inspect(engine).get_columns(name) for name in model_tables()}
    upgrade(engine)
    after = {name: inspect(engine).get_columns(name) for name in model_tables()}
    assert [str(c) for c in before.values()] == [str(c) for c in after.values()]
    assert current_revision(engine) == head(engine)
    with engine.connect() as conn:
        assert conn.execute(select(Household.id)).scalars().all() == ["h-1"]
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    assert schema_differences(engine) == []


def test_the_head_upgrade_trusts_is_alembics_head(engine):
    # Moving HEAD on is part of adding a migration: otherwise upgrade() would take the
    # slow path for ever on a database at the new head (and this test says why).
    assert head(engine) == HEAD, "a migration was added: set hub.core.migrate.HEAD to it"


def test_a_database_at_head_is_recognised_without_loading_alembic(engine):
    assert stored_revisions(engine) == set()  # never migrated: no alembic_version table
    upgrade(engine)
    assert stored_revisions(engine) == {HEAD}
    url = engine.url.render_as_string(hide_password=False)
    check = ("import sys; from hub.core.db import make_engine; "
             "from hub.core.migrate import upgrade; "
             f"upgrade(make_engine({url!r})); print('alembic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                         cwd=REPO, timeout=120, check=True)
    assert out.stdout.strip() == "False"


def test_a_database_behind_head_is_still_upgraded(engine):
    from alembic import command

    upgrade(engine)
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "-1")
    assert stored_revisions(engine) not in (set(), {HEAD})
    upgrade(engine)  # the newest migration again, through Alembic
    assert stored_revisions(engine) == {HEAD}
    assert schema_differences(engine) == []


def test_hub_db_upgrade_command(tmp_path, database_url, engine):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    environ.update({"HUB_DATA_DIR": str(tmp_path / "data"), "HUB_DATABASE_URL": database_url})
    for _ in range(2):  # the second run finds nothing to do
        result = subprocess.run([sys.executable, "-m", "hub.cli", "db", "upgrade"],
                                capture_output=True, text=True, env=environ, cwd=REPO,
                                timeout=120)
        assert result.returncode == 0, result.stderr
        assert "database is up to date" in result.stdout
    assert current_revision(engine) == head(engine)
    assert schema_differences(engine) == []


def test_hub_db_upgrade_on_the_embedded_default(tmp_path):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    environ["HUB_DATA_DIR"] = str(tmp_path / "data")
    result = subprocess.run([sys.executable, "-m", "hub.cli", "db", "upgrade"],
                            capture_output=True, text=True, env=environ, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    database = tmp_path / "data" / "hub.sqlite3"
    assert database.exists()
    eng = make_engine(f"sqlite:///{database}")
    try:
        assert schema_differences(eng) == []
        assert current_revision(eng) == head(eng)
    finally:
        eng.dispose()


def _plan(ctx, statement) -> str:
    with ctx.engine.connect() as conn:
        sql = str(statement.compile(conn, compile_kwargs={"literal_binds": True}))
        if ctx.engine.dialect.name == "sqlite":
            return " ".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
        # The test's tables are nearly empty, where a scan is cheapest; forbid it to see
        # whether the index can answer at all.
        conn.exec_driver_sql("SET enable_seqscan = off")
        return " ".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {sql}"))


def test_the_start_up_data_steps_ask_their_partial_indexes_not_the_tables(ctx):
    # Every command and every start asks whether rows from before migrations 0012 and
    # 0021 still wait (migration 0022): without the indexes, a read of the whole messages
    # table each time.
    from hub.core.residents import first_unkeyed
    from hub.core.source_refs import first_unsealed

    assert "ix_messages_unsealed_ref" in _plan(ctx, first_unsealed())
    assert "ix_residents_unkeyed_name" in _plan(ctx, first_unkeyed())


def test_a_start_with_nothing_left_to_convert_takes_no_write_transaction(ctx):
    # Every command runs both steps; on SQLite a write transaction is the database's one
    # write lock, which a start with nothing to do must not take from a running hub.
    from sqlalchemy import event

    from hub.core.residents import key_all_legacy_names
    from hub.core.source_refs import seal_all_legacy_refs

    writes: list[bool] = []

    def begun(conn) -> None:
        if not conn.get_execution_options().get("read_only"):
            writes.append(True)

    event.listen(ctx.engine, "begin", begun)
    try:
        assert (seal_all_legacy_refs(ctx), key_all_legacy_names(ctx)) == (0, 0)
    finally:
        event.remove(ctx.engine, "begin", begun)
    assert writes == []
