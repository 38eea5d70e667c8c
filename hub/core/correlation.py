"""One correlation id follows a message from the request that brought it to its delivery.

The id lives in a context variable: the HTTP middleware (asgi-correlation-id, set up
in :mod:`hub.api.correlation`) binds it for a request,
ingest stores it with the message (``messages.correlation_id``), and routing
binds it again from the stored message, in whichever process routes. Every log
record created while an id is bound carries it as ``record.correlation_id``
(a log-record factory, installed when this module is imported), so a JSON or
text log line names it without each call site passing it along.

An id is logged, so it must never carry personal data: an incoming id is only
taken when it is opaque — 16 to 64 hexadecimal digits, hyphens allowed between
them (a UUID in any spelling, a trace id) — and never when it holds a run of
digits long enough to be a BSN or a phone number. Anything else (a name such as
``Fatima-el-Amrani``, an e-mail address, a word; issue 13, item 11) is replaced
by a new id.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import re
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

import asgi_correlation_id

from hub.core.ids import random_bytes16

MAX_LENGTH = 64
# Hexadecimal only: no letters beyond a-f, so no name or word can be spelled in it.
_OPAQUE = re.compile(r"[0-9A-Fa-f](?:[0-9A-Fa-f-]{14,62})[0-9A-Fa-f]")
# A BSN has 9 digits (8 without its leading zero), a Dutch phone number 10.
_LONG_DIGIT_RUN = re.compile(r"\d{8,}")

# The context variable asgi-correlation-id's middleware sets for each request, so the
# request's id, the stored message's and the worker's are one and the same variable.
_current: contextvars.ContextVar[str | None] = asgi_correlation_id.correlation_id

P = ParamSpec("P")
R = TypeVar("R")


def new_id() -> str:
    """A fresh correlation id (32 hexadecimal characters) that :func:`is_acceptable` takes."""
    while True:
        # About one UUID in a hundred has eight digits in a row: a caller that sends our
        # own id back must not see it replaced.
        cid = random_bytes16().hex()
        if _LONG_DIGIT_RUN.search(cid) is None:
            return cid


def is_acceptable(value: str | None) -> bool:
    """True when ``value`` may be used as a correlation id as given."""
    return (value is not None and _OPAQUE.fullmatch(value) is not None
            and _LONG_DIGIT_RUN.search(value) is None)


def accept_or_new(value: str | None) -> str:
    """``value`` when it is acceptable, otherwise a fresh id."""
    return value if is_acceptable(value) else new_id()


def current() -> str | None:
    """The correlation id bound in this context, if any."""
    return _current.get()


def adopt(value: str | None) -> None:
    """Bind ``value`` in the current context (None unbinds).

    Call it inside a :func:`scoped` function, so the id does not outlive the work
    it belongs to.
    """
    _current.set(value)


@contextlib.contextmanager
def bound(value: str | None) -> Iterator[None]:
    """Bind ``value`` for the ``with`` block; the previous binding comes back after it."""
    token = _current.set(value)
    try:
        yield
    finally:
        _current.reset(token)


def scoped(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` in a copy of the current context: an id it adopts ends with it."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        return contextvars.copy_context().run(func, *args, **kwargs)

    return wrapper


def _install_record_factory() -> None:
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_wijkhub_correlation", False):
        return  # imported twice (reload): one stamp is enough

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.correlation_id = _current.get()
        return record

    factory._wijkhub_correlation = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


_install_record_factory()
