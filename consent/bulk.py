"""One statement, many rows, without SQLAlchemy's per-row parameter building.

``session.execute(insert(table), rows)`` runs one ``executemany``, but on the
way SQLAlchemy builds each row's parameters twice over: ``construct_params``
walks every bind of the compiled statement for each row, then a second pass
applies the type processors by name. On a routed batch (issue 14) that was
about a sixth of the worker's CPU, more than SQLite's own work for the same
rows. :func:`execute_many` compiles the statement once per dialect and set of
keys, keeps each column's bind processor, and hands the driver plain tuples
(or dicts) built with one pass per row: the same SQL text, the same stored
values, the same events for statement counters (``exec_driver_sql`` fires
``before_cursor_execute``), and the consent cache is told of a write to its tables
as the Session's own event would tell it.

It is for the hot path's fixed statements only; anything it cannot do as
SQLAlchemy would (a default computed in Python, a renamed or expanding bind)
goes through ``session.execute`` unchanged, so the rows stored are the same
either way. It lives in the consent package, the lowest layer, because the
registry's decisions and the hub's router both write this way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase

from consent.written import note_write

__all__ = ["execute_many", "insert_many", "prepared"]


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A statement compiled for one dialect and one set of row keys."""

    sql: str
    keys: tuple[str, ...]  # in the order the driver takes them
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, processor)
    positional: bool

    def parameters(self, rows: Sequence[dict[str, Any]]) -> list[Any]:
        """The driver's parameter sets for ``rows``: tuples, or dicts for a named style."""
        get = itemgetter(*self.keys)
        single = len(self.keys) == 1  # itemgetter of one key gives the value, not a tuple
        out: list[Any] = []
        for row in rows:
            value = [get(row)] if single else list(get(row))
            for position, process in self.processors:
                value[position] = process(value[position])
            out.append(tuple(value) if self.positional
                       else dict(zip(self.keys, value, strict=True)))
        return out


_PREPARED: dict[tuple[str, UpdateBase, frozenset[str]], _Prepared | None] = {}
_INSERTS: dict[Table, UpdateBase] = {}


def insert_many(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT ``rows`` (dicts with the same keys) into ``table`` with one statement, in the
    caller's transaction; nothing when ``rows`` is empty."""
    statement = _INSERTS.get(table)
    if statement is None:
        statement = _INSERTS[table] = insert(table)
    execute_many(session, statement, rows)


def execute_many(session: Session, statement: UpdateBase,
                 rows: Sequence[dict[str, Any]]) -> None:
    """Run a fixed INSERT or UPDATE once per row of ``rows`` (dicts with the same keys)
    as one ``executemany``, in the caller's transaction.

    Stores exactly what ``session.execute(statement, rows)`` would; a statement the
    fast way cannot serve exactly (see the module's docstring) is run that way.
    """
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    key = (dialect.name, statement, frozenset(rows[0]))
    try:
        prepared = _PREPARED[key]
    except KeyError:
        prepared = _PREPARED[key] = _prepare(dialect, statement, tuple(rows[0]))
    if prepared is None:
        session.execute(statement, list(rows))
        return
    try:
        parameters = prepared.parameters(rows)
    except Exception as exc:
        # As SQLAlchemy reports a value its type refused (a naive time, say).
        raise StatementError(str(exc), prepared.sql, None, exc) from exc
    # exec_driver_sql passes no Session event: tell the consent cache as the event would.
    note_write(session, statement.table)
    connection.exec_driver_sql(prepared.sql, parameters)


def _prepare(dialect: Dialect, statement: UpdateBase, keys: tuple[str, ...]) -> _Prepared | None:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    names = list(compiled.positiontup or ()) if dialect.positional else list(compiled.binds)
    # Every bind must be a row key, each once, with no renaming, expanding or literal
    # rendering: otherwise SQLAlchemy fills something in per row (a Python-side default,
    # say), and only its own path stores the same row.
    if (sorted(names) != sorted(keys) or compiled.escaped_bind_names
            or compiled.literal_execute_params or compiled.post_compile_params
            or any(compiled.binds[name].expanding for name in names)):
        return None
    processors = []
    for position, name in enumerate(names):
        process = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors.append((position, process))
    return _Prepared(sql=compiled.string, keys=tuple(names), processors=tuple(processors),
                     positional=dialect.positional)


def prepared(dialect_name: str) -> dict[str, bool]:
    """Each statement run so far on ``dialect_name``, by verb and table, and whether it
    is served the fast way (False: through ``session.execute``); for tests and benchmarks."""
    return {f"{'INSERT INTO' if statement.is_insert else 'UPDATE'} {statement.table.name}":
            fast is not None
            for (name, statement, _keys), fast in _PREPARED.items() if name == dialect_name}
