"""Files and directories the hub creates for itself are its own: owner-only modes.

The data directory holds the SQLite database (sealed personal data, pseudonyms,
the audit log) and by default the key file; no other local user may read them
(issue 13, item 14). Modes are set at creation; an existing path is left as the
operator made it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def create_private_file(path: Path) -> None:
    """Make sure ``path`` exists; when it is new, it is readable by its owner only (0600).

    SQLite gives its ``-wal`` and ``-shm`` files the mode of the database file, so an
    owner-only database keeps its journal owner-only too (issue 13, item 14: the
    file holds sealed personal data and pseudonyms, never for other local users).
    """
    if path.exists():
        return
    private_dir(path.parent)
    # O_EXCL: when another process created it first, it chose the same mode.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) owner-only (0700); an existing one is kept."""
    if not path.exists():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
