"""Process-wide state a test may change, put back after it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def logging_restored() -> Iterator[None]:
    """Restore the root logger's handlers and level after the block.

    A test that runs the CLI in-process (``main([...])``) configures logging with a
    handler on the stream ``capsys`` gave it; that stream is closed after the test, and
    every later log line, from any thread (the outbox relay's "outbox relay stopped"
    among them), printed "Logging error: I/O operation on closed file".
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(level)
