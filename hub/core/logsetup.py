"""The hub's log output, configured in one place for ``hub serve``, ``hub worker`` and the CLI.

``json`` writes one JSON object per line (python-json-logger) with ``time``,
``level``, ``logger``, ``message`` and ``correlation_id``; ``text`` writes the
same in one readable line. ``HUB_LOG_FORMAT`` chooses; without it production
logs JSON and everything else text.

What a line may hold is the rule of the whole code base, not of this module:
ids and error types, never a BSN, a name, a key or message data.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

import hub.core.correlation  # noqa: F401  (installs the record factory that stamps the id)
from hub.settings import Settings

_HANDLER_NAME = "wijkhub"
JSON_FIELDS = ("asctime", "levelname", "name", "message", "correlation_id")


class TextFormatter(logging.Formatter):
    """One readable line; the correlation id, when one is bound, closes the message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        cid = getattr(record, "correlation_id", None)
        return f"{line} [{cid}]" if cid else line


def json_formatter() -> logging.Formatter:
    """The JSON formatter: fixed field names, ISO-8601 times, exceptions as text."""
    return JsonFormatter(list(JSON_FIELDS), rename_fields={
        "asctime": "time", "levelname": "level", "name": "logger"})


def effective_format(settings: Settings | None) -> str:
    """``json`` or ``text``: the configured format, else JSON in production only."""
    if settings is None:
        return "text"
    if settings.log_format is not None:
        return settings.log_format
    return "json" if settings.env == "production" else "text"


def configure_logging(settings: Settings | None, *, stream: TextIO | None = None) -> None:
    """Send every log record to ``stream`` (stderr) in the configured format.

    Calling it again replaces the hub's handler rather than adding a second one.
    ``settings`` may be None when the configuration itself is broken: then the
    CLI still reports that error, in text.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(json_formatter() if effective_format(settings) == "json"
                         else TextFormatter())
    root.addHandler(handler)
    root.setLevel(settings.log_level if settings is not None else "INFO")
    # Every command upgrades the schema first; alembic's "Context impl …" lines on
    # each run would bury the one line an operator needs. Its warnings still show.
    if root.level > logging.DEBUG:
        logging.getLogger("alembic").setLevel(logging.WARNING)
