"""The hooks a Wijkhub plugin can implement.

Every hook is called with keyword arguments by :mod:`hub.core.plugins`, never
directly. A failing implementation of one plugin is reported and skipped; it
does not stop the others.
"""

from __future__ import annotations

from hub import hookspec
from hub.core.types import CsvFormat, MessageType


@hookspec
def wijkhub_message_types() -> list[MessageType]:
    """Called once at start-up. Return the message types this plugin serves.

    Every implementation's list is collected. A type name may be declared by one
    plugin only; the hub refuses to start on a clash.
    """


@hookspec
def wijkhub_csv_formats() -> list[CsvFormat]:
    """Called once at start-up. Return the CSV batch formats this plugin accepts.

    Every implementation's list is collected. The core parses, validates and
    stores the lines; a format only maps one row onto a message.
    """
