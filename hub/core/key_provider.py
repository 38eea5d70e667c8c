"""Where key documents come from: a file, the environment, or (later) a KMS.

A provider hands out the key document (the JSON shape of ``keys.json``) and,
where it can, stores a changed one. The :class:`~hub.core.keys.KeyRing` asks
its provider whether the source changed, so a running process learns a key
that ``hub keys rotate`` added without a restart. A KMS implements the same
three methods: ``read``, ``changed`` and ``write``.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from hub.core.files import private_dir


class KeysReadOnly(RuntimeError):
    """The key source cannot be changed by the hub (``HUB_KEYS``, a KMS without write)."""


class KeyProvider(Protocol):
    """A source of the key document."""

    description: str
    writable: bool

    def read(self) -> dict[str, Any]:
        """The key document as it is now."""

    def changed(self) -> bool:
        """Cheap: whether the source may differ from what :meth:`read` last returned."""

    def write(self, document: dict[str, Any]) -> None:
        """Replace the key document, or raise :class:`KeysReadOnly`."""

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold off other writers for a read-modify-write (rotation, retirement)."""


def parse_json(text: str, source: str) -> dict[str, Any]:
    """Parse a key document's JSON without ever quoting it in the error."""
    from hub.core.keys import KeyError_

    try:
        return json.loads(text)
    except ValueError:
        # Not the decoder's message: it may quote the key material around the error.
        raise KeyError_(f"{source}: key document is not valid JSON") from None


class EnvKeyProvider:
    """Keys from ``HUB_KEYS`` (containers, secret stores). Fixed for the life of the process."""

    description = "HUB_KEYS"
    writable = False

    def __init__(self, text: str) -> None:
        self._text = text

    def __repr__(self) -> str:
        return "EnvKeyProvider()"

    def read(self) -> dict[str, Any]:
        """The document from the environment as the process started with it."""
        return parse_json(self._text, "HUB_KEYS")

    def changed(self) -> bool:
        """The environment of a running process does not change."""
        return False

    def write(self, document: dict[str, Any]) -> None:
        """Refused: the operator changes the secret store and restarts (see the README)."""
        raise KeysReadOnly("keys come from HUB_KEYS; change the secret there and restart "
                           "the hub's processes (README, 'Keys and encryption')")

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Nothing to lock: nothing is written."""
        yield


class FileKeyProvider:
    """Keys in a JSON file with owner-only permissions, created with fresh keys on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = str(path)
        self.writable = True
        self._seen: tuple[int, int, int] | None = None

    def __repr__(self) -> str:
        return f"FileKeyProvider({str(self.path)!r})"

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        # A replaced file has a new inode even when size and mtime look the same.
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _create_if_missing(self) -> None:
        from hub.core.keys import new_key_document

        if self.path.exists():
            return
        private_dir(self.path.parent)
        # O_EXCL: two processes starting at once must not each write their own keys.
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        with os.fdopen(fd, "w") as fh:
            json.dump(new_key_document(), fh)

    def read(self) -> dict[str, Any]:
        """The document in the file; a new file with fresh keys if there is none."""
        self._create_if_missing()
        seen = self._stat()
        document = parse_json(self.path.read_text(), str(self.path))
        self._seen = seen
        return document

    def changed(self) -> bool:
        """Whether the file was replaced since the last read (one ``stat``)."""
        return self._stat() != self._seen

    def write(self, document: dict[str, Any]) -> None:
        """Replace the file atomically: a reader sees the old document or the new, never half."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(document, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """An exclusive lock on a sidecar file, so two rotations never lose a key."""
        private_dir(self.path.parent)
        fd = os.open(self.path.with_name(f".{self.path.name}.lock"),
                     os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def key_provider(keys_file: Path) -> KeyProvider:
    """``HUB_KEYS`` when set, else the file: the one rule for where keys come from."""
    from_env = os.environ.get("HUB_KEYS")
    if from_env:
        return EnvKeyProvider(from_env)
    return FileKeyProvider(keys_file)
