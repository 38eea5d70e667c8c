"""Errors the core raises for bad input; the API turns them into problem+json (RFC 9457)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with the input: which field (a dotted path), and why."""

    field: str
    reason: str


class HubProblem(Exception):
    """A client error: status, a short title, and the field problems behind it."""

    def __init__(self, status: int, title: str, problems: list[FieldProblem] | None = None,
                 *, headers: dict[str, str] | None = None) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.problems = problems or []
        self.headers = headers or {}

    @property
    def detail(self) -> str:
        """One sentence naming every faulty field and its reason."""
        if not self.problems:
            return self.title
        return "; ".join(f"{p.field}: {p.reason}" for p in self.problems)


def invalid(field: str, reason: str) -> HubProblem:
    """A 422 about one field."""
    return HubProblem(422, "Invalid input", [FieldProblem(field, reason)])


# Pydantic's words for a timestamp ("Input should have timezone info") do not say what
# to send; a partner reads the form instead (issue 15, item 8).
DATETIME_EXPECTED = "must be a date and time with a time zone, like 2026-11-03T09:00:00+01:00"
_REASONS = dict.fromkeys(("timezone_aware", "datetime_type", "datetime_parsing",
                          "datetime_from_date_parsing"), DATETIME_EXPECTED)


def pydantic_problems(exc, prefix: str = "") -> list[FieldProblem]:
    """Turn a pydantic ValidationError into field problems with dotted paths."""
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        path = ".".join(str(p) for p in err["loc"] if p != "__root__")
        if prefix:
            path = f"{prefix}.{path}" if path else prefix
        reason = _REASONS.get(err["type"]) or err["msg"].removeprefix("Value error, ")
        out.append(FieldProblem(path or "body", reason))
    return out
