"""consent.bulk: one executemany without SQLAlchemy's per-row parameter building,
storing exactly what ``session.execute(statement, rows)`` stores (issue 14)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import (
    JSON,
    Column,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from consent import bulk
from consent.tables import UTCDateTime

_META = MetaData()
_THINGS = Table(
    "bulk_things", _META,
    Column("id", String(40), primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("data", JSON(none_as_null=True)),
    Column("amount", Numeric(12, 2)),
    Column("n", Integer),
)
_DEFAULTED = Table(
    "bulk_defaulted", _META,
    Column("id", String(40), primary_key=True),
    Column("label", String(40), nullable=False, default=lambda: "from-python"),
)
_RENAME = (update(_THINGS).where(_THINGS.c.id == bindparam("b_id"))
           .values({_THINGS.c.n: bindparam("b_n"), _THINGS.c.at: bindparam("b_at")}))


def _rows(prefix: str) -> list[dict]:
    # One value of each kind a processor changes on the way in: an aware time in
    # another zone (converted to UTC), JSON (nested, and null), a decimal.
    plus_two = timezone(timedelta(hours=2))
    return [{"id": f"{prefix}{i}", "at": datetime(2026, 12, 7, 9, i, 30, 1234 * i, plus_two),
             "data": {"velden": ["huur", i], "leeg": None} if i % 2 else None,
             "amount": Decimal(f"{i}.5{i}"), "n": i if i != 2 else None}
            for i in range(5)]


@pytest.fixture
def engine(database_url):
    engine = create_engine(database_url)
    _META.create_all(engine)
    yield engine
    engine.dispose()


def _stored(engine, table: Table, prefix: str) -> list[tuple]:
    with engine.connect() as conn:
        rows = conn.execute(select(table).where(table.c.id.startswith(prefix))
                            .order_by(table.c.id)).all()
    return [tuple(row[1:]) for row in rows]


def _statements(engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *_: seen.append(statement))
    return seen


def test_an_insert_stores_what_sqlalchemys_own_executemany_stores(engine) -> None:
    with Session(engine) as session, session.begin():
        session.execute(insert(_THINGS), _rows("sa-"))
    seen = _statements(engine)
    with Session(engine) as session, session.begin():
        bulk.insert_many(session, _THINGS, _rows("fast-"))
    assert _stored(engine, _THINGS, "fast-") == _stored(engine, _THINGS, "sa-")
    assert [s for s in seen if s.startswith("INSERT")] == [
        str(insert(_THINGS).compile(dialect=engine.dialect,
                                    column_keys=list(_rows("x")[0])))]
    stored = _stored(engine, _THINGS, "fast-")
    assert stored[1][0] == datetime(2026, 12, 7, 7, 1, 30, 1234, UTC)
    assert stored[1][1] == {"velden": ["huur", 1], "leeg": None}
    assert stored[0][1] is None  # none_as_null: SQL NULL, not JSON null, as SQLAlchemy does


def test_an_update_with_its_own_bind_names_changes_what_sqlalchemys_own_would(engine) -> None:
    with Session(engine) as session, session.begin():
        session.execute(insert(_THINGS), _rows("sa-") + _rows("fast-"))
    later = datetime(2027, 1, 1, tzinfo=UTC)
    with Session(engine) as session, session.begin():
        session.execute(_RENAME, [{"b_id": f"sa-{i}", "b_n": 10 * i, "b_at": later}
                                  for i in (1, 3)])
    with Session(engine) as session, session.begin():
        bulk.execute_many(session, _RENAME, [{"b_id": f"fast-{i}", "b_n": 10 * i, "b_at": later}
                                             for i in (1, 3)])
    assert _stored(engine, _THINGS, "fast-") == _stored(engine, _THINGS, "sa-")
    assert [row[3] for row in _stored(engine, _THINGS, "fast-")] == [0, 10, None, 30, 4]


def test_a_default_computed_in_python_is_left_to_sqlalchemy(engine) -> None:
    with Session(engine) as session, session.begin():
        bulk.insert_many(session, _DEFAULTED, [{"id": "d-1"}, {"id": "d-2"}])
    assert _stored(engine, _DEFAULTED, "d-") == [("from-python",), ("from-python",)]


def test_a_refused_value_fails_the_statement_as_sqlalchemy_would(engine) -> None:
    naive = [{**_rows("naive-")[0], "at": datetime(2026, 12, 7, 9, 0)}]
    with Session(engine) as session, session.begin():
        bulk.insert_many(session, _THINGS, _rows("ok-"))  # the statement is prepared
    with pytest.raises(StatementError, match="timezone-aware"), \
            Session(engine) as session, session.begin():
        bulk.insert_many(session, _THINGS, naive)
    assert _stored(engine, _THINGS, "naive-") == []


def test_nothing_to_write_sends_nothing(engine) -> None:
    seen = _statements(engine)
    with Session(engine) as session, session.begin():
        bulk.insert_many(session, _THINGS, [])
        bulk.execute_many(session, _RENAME, [])
    assert not [s for s in seen if "bulk_" in s]
