"""The one rule for an id in a request: what every id the hub hands out looks like.

Here and not in :mod:`hub.api.deps` so that a plugin's data model can use
:data:`IdField` without importing the web framework (issue 18: a ``hub`` command
that serves no HTTP does not load FastAPI).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Annotated

from pydantic import StringConstraints

# Every id the hub hands out (UUIDs, Task ids, key ids) fits this; anything else cannot
# name a row, and a NUL byte in it once made PostgreSQL answer 500 (issue 13, item 7).
ID_PATTERN = r"^[A-Za-z0-9_-]+$"
# An id sent in a JSON body.
IdField = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=ID_PATTERN)]


# Random ids come from the operating system's CSPRNG (os.urandom, as uuid.uuid4 uses),
# read 4 KiB at a time rather than 16 bytes per id: each read is a system call that
# releases the GIL, and on a busy hub the event loop then waits for the group-commit or
# relay thread to hand it back (up to the 5 ms switch interval) once per request
# (issue 14). The bytes are ids, never keys; each is handed out once.
_POOL_BYTES = 4096
_pool_lock = threading.Lock()
_pool = b""
_offset = 0


def random_bytes16() -> bytes:
    """16 bytes from the OS's CSPRNG that no other call in this process gets."""
    global _pool, _offset
    with _pool_lock:
        if _offset + 16 > len(_pool):
            _pool, _offset = os.urandom(_POOL_BYTES), 0
        chunk = _pool[_offset:_offset + 16]
        _offset += 16
    return chunk


def _forget_pool() -> None:
    # A forked child must not hand out the ids its parent holds in the pool.
    global _pool, _offset
    _pool, _offset = b"", 0


os.register_at_fork(after_in_child=_forget_pool)


def new_uuid7() -> str:
    """A new row id: a UUID of version 7 (RFC 9562), spelled as ``str(uuid.UUID)`` spells it.

    Its first 48 bits are the Unix time in milliseconds, the other 74 free bits
    random (from :func:`random_bytes16`). So ids made later sort later, to the
    millisecond, as text and as bytes, and a table's primary-key index (and every
    index that holds the id) grows at its end instead of at a random page (issue 14:
    a million-line batch reached the inbox 1.6× sooner). The id tells when its row
    was made, which the row says anyway. Two ids made in the same millisecond sort
    at random; no caller may read more order into them.
    """
    millis = time.time_ns() // 1_000_000
    raw = bytearray(millis.to_bytes(6, "big") + random_bytes16()[6:])
    raw[6] = (raw[6] & 0x0F) | 0x70  # version 7
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 9562 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
