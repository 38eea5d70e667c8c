"""Builders for the Veilig Thuis tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hub.core.models import Resident
from tests.utils.builders import Person, partner


def veilig_thuis(ctx, name: str = "Veilig Thuis",
                 endpoint: str | None = None) -> tuple[str, dict[str, str]]:
    """Register the Veilig Thuis partner; its id and Authorization header."""
    return partner(ctx, name, kind="veiligthuis", endpoint=endpoint)


def safety_report(who: Person, *, ref: str, kind: str = "handover",
                  description: str = "Zorgen over de veiligheid van de kinderen",
                  **data: Any) -> dict[str, Any]:
    """A ``safety.report`` about ``who``, by BSN (Veilig Thuis knows it)."""
    return {"type": "safety.report", "source_ref": ref, "subject": {"bsn": who.bsn},
            "occurred_at": "2026-11-20T08:00:00+00:00",
            "data": {"kind": kind, "concern": "child_abuse", "case_ref": f"VT-{ref}",
                     "description": description,
                     "contact": {"name": "Medewerker VT", "phone": "0800-2000"}, **data}}


def household_of(ctx, who: Person) -> str:
    """The household id of a registered person."""
    with ctx.sessions() as session:
        return session.scalar(select(Resident.household_id).where(
            Resident.subject == ctx.pseudonyms.subject(who.bsn)))


def send(client, body, headers) -> str:
    """Send one message; its hub id."""
    r = client.post("/api/v1/messages", json=body, headers=headers)
    assert r.status_code == 202, r.text
    return r.json()["id"]
