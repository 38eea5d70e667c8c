"""Counting what the database is asked: statements, transactions (issue 14).

A listener on the engine's ``before_cursor_execute`` sees every statement
SQLAlchemy sends (an ``executemany`` or a batched multi-row INSERT counts once
per round trip), and ``commit`` every transaction that commits. Used by the
batching tests and by ``bench/costs.py``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import event
from sqlalchemy.engine import Engine


@dataclass
class Counts:
    """Round trips by their first words (``INSERT INTO messages``), and commits."""

    statements: Counter = field(default_factory=Counter)
    commits: int = 0

    @property
    def total(self) -> int:
        """Every statement sent."""
        return sum(self.statements.values())

    def starting(self, prefix: str) -> int:
        """Statements whose text starts with ``prefix`` (case-insensitive)."""
        return sum(n for text, n in self.statements.items()
                   if text.upper().startswith(prefix.upper()))


def _key(statement: str) -> str:
    words = statement.split()
    if not words:
        return ""
    head = words[0].upper()
    if head == "BEGIN":
        return " ".join(words).upper()  # BEGIN, or SQLite's BEGIN IMMEDIATE
    if head in ("INSERT", "DELETE") and len(words) > 2:
        return " ".join([head, words[1].upper(), words[2].strip('"')])
    if head == "UPDATE" and len(words) > 1:
        return f"UPDATE {words[1].strip(chr(34))}"
    if head == "SELECT" and "FROM" in (w.upper() for w in words):
        upper = [w.upper() for w in words]
        return f"SELECT FROM {words[upper.index('FROM') + 1].strip(chr(34))}"
    return head


@contextmanager
def counting(engine: Engine) -> Iterator[Counts]:
    """Count statements and commits on ``engine`` while the block runs."""
    counts = Counts()

    def on_execute(conn, cursor, statement, parameters, context, executemany) -> None:
        counts.statements[_key(statement)] += 1

    def on_commit(conn) -> None:
        counts.commits += 1

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "commit", on_commit)
    try:
        yield counts
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "commit", on_commit)
