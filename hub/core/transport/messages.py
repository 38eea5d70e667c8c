"""What travels on the broker: a reference to an outbox row, ids only, never message data."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class TaskRef(BaseModel):
    """The body of a task message: which outbox row, for which message, which task."""

    model_config = ConfigDict(extra="forbid")

    outbox_id: int = Field(ge=1)
    message_id: str = Field(min_length=1, max_length=36)
    task: str = Field(min_length=1, max_length=40)


class ConsentChanged(BaseModel):
    """The body of a consent event: the subject's pseudonym, never a BSN."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=64)


class Unparseable(ValueError):
    """A broker message that is not what the hub sends; the text is the reason (no data)."""


def encode(model: BaseModel) -> bytes:
    """The JSON bytes of a broker message."""
    return model.model_dump_json().encode()


def decode_task(body: bytes) -> TaskRef:
    """Parse a task message, or raise :class:`Unparseable` naming what is wrong."""
    return _decode(TaskRef, body)


def decode_consent(body: bytes) -> ConsentChanged:
    """Parse a consent event, or raise :class:`Unparseable`."""
    return _decode(ConsentChanged, body)


def _decode(model: type[BaseModel], body: bytes) -> Any:
    try:
        raw = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise Unparseable(f"body is not JSON ({type(exc).__name__})") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        fields = ", ".join(sorted({".".join(map(str, e["loc"])) or "body"
                                   for e in exc.errors(include_input=False)}))
        raise Unparseable(f"body is not a {model.__name__} (bad fields: {fields})") from None
