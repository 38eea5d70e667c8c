"""What travels on the broker: references to outbox rows, ids only, never message data.

A task message names one outbox row (:class:`TaskRef`) or several rows of one task
(:class:`TaskBatch`): the relay publishes the rows one commit queued together as
one message, so a worker routes them in one transaction whatever the number of
workers sharing the queue, and the broker stores, confirms, delivers and acks once
for them all (issue 14). Retries and dead letters name one row each.
"""

from __future__ import annotations

import json
from typing import Any

import pika
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)


class TaskRef(BaseModel):
    """The body of a task message: which outbox row, for which message, which task."""

    model_config = ConfigDict(extra="forbid")

    outbox_id: int = Field(ge=1)
    message_id: str = Field(min_length=1, max_length=36)
    task: str = Field(min_length=1, max_length=40)


#: The most rows one task message names (``HUB_ROUTE_BATCH``'s upper bound).
MAX_BATCH = 1000


class TaskBatch(BaseModel):
    """The body of a task message naming several outbox rows of one task, in queue order."""

    model_config = ConfigDict(extra="forbid")

    task: str = Field(min_length=1, max_length=40)
    rows: list[TaskRef] = Field(min_length=2, max_length=MAX_BATCH)

    @field_validator("rows")
    @classmethod
    def _one_task(cls, rows: list[TaskRef], info: ValidationInfo) -> list[TaskRef]:
        if any(row.task != info.data.get("task") for row in rows):
            raise ValueError("every row must have the batch's task")
        return rows


class ConsentChanged(BaseModel):
    """The body of a consent event: the subject's pseudonym, never a BSN."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=64)


class Unparseable(ValueError):
    """A broker message that is not what the hub sends; the text is the reason (no data)."""


def encode(model: BaseModel) -> bytes:
    """The JSON bytes of a broker message."""
    return model.model_dump_json().encode()


def task_properties(outbox_id: int, task: str, rows: int = 1) -> pika.BasicProperties:
    """Persistent, identified by its (first) outbox row; a message of several rows says
    how many follow it (``outbox:<id>+<n>``). The rows are the consumers' idempotency
    keys, not this id."""
    ident = f"outbox:{outbox_id}" if rows == 1 else f"outbox:{outbox_id}+{rows - 1}"
    return pika.BasicProperties(delivery_mode=2, content_type="application/json",
                                message_id=ident, type=task)


def task_body(refs: list[TaskRef]) -> bytes:
    """The body of a task message for ``refs`` (one task): a :class:`TaskRef` for one
    row, as every hub version sends and reads, a :class:`TaskBatch` for more."""
    if len(refs) == 1:
        return encode(refs[0])
    return encode(TaskBatch(task=refs[0].task, rows=refs))


def decode_tasks(body: bytes) -> list[TaskRef]:
    """Parse a task message into the rows it names, or raise :class:`Unparseable`
    naming what is wrong."""
    raw = _json(body)
    if isinstance(raw, dict) and "rows" in raw:
        return _validate(TaskBatch, raw).rows
    return [_validate(TaskRef, raw)]


def decode_consent(body: bytes) -> ConsentChanged:
    """Parse a consent event, or raise :class:`Unparseable`."""
    return _decode(ConsentChanged, body)


def _decode(model: type[BaseModel], body: bytes) -> Any:
    return _validate(model, _json(body))


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise Unparseable(f"body is not JSON ({type(exc).__name__})") from None


def _validate(model: type[BaseModel], raw: Any) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        fields = ", ".join(sorted({".".join(map(str, e["loc"])) or "body"
                                   for e in exc.errors(include_input=False)}))
        raise Unparseable(f"body is not a {model.__name__} (bad fields: {fields})") from None
