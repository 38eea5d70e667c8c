"""The one rule for an id in a request: what every id the hub hands out looks like.

Here and not in :mod:`hub.api.deps` so that a plugin's data model can use
:data:`IdField` without importing the web framework (issue 18: a ``hub`` command
that serves no HTTP does not load FastAPI).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

# Every id the hub hands out (UUIDs, Task ids, key ids) fits this; anything else cannot
# name a row, and a NUL byte in it once made PostgreSQL answer 500 (issue 13, item 7).
ID_PATTERN = r"^[A-Za-z0-9_-]+$"
# An id sent in a JSON body.
IdField = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=ID_PATTERN)]
