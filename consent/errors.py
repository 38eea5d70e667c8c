"""Errors the registry raises; the hub maps them to HTTP answers."""

from __future__ import annotations


class ConsentError(ValueError):
    """Input the registry refuses; ``field`` names the input, ``reason`` says why.

    The hub turns this into a 422 response. The reason is plain English for
    developers; the resident-facing texts live in :mod:`consent.explain`.
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class IdempotencyConflict(ConsentError):
    """An idempotency key used before with another request or by another actor (409).

    The answer must not reveal what the key was first used for.
    """


class NotFound(LookupError):
    """Nothing with that id exists for this subject (the hub answers 404).

    Deliberately the same whether the id belongs to another resident or to
    nobody, so the answer reveals nothing about other residents.
    """


class ConsentNotFound(NotFound):
    """No consent with that id belongs to this subject."""


class RequestNotFound(NotFound):
    """No consent request with that id belongs to this subject."""
