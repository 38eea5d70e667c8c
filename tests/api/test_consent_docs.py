"""docs/consent-api.md names every resident route the app serves, so the portal team
never builds against an undocumented endpoint."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "consent-api.md"


def test_every_resident_route_is_documented(client):
    text = DOC.read_text(encoding="utf-8")
    paths = client.get("/openapi.json").json()["paths"]
    routes = [(method.upper(), re.sub(r"\{[^}]+\}", "{id}", path))
              for path, operations in paths.items() if path.startswith("/api/v1/me/")
              for method in operations]
    assert ("PATCH", "/api/v1/me/consents/{id}") in routes
    missing = [f"{m} {p}" for m, p in routes if f"`{m} {p}" not in text]
    assert missing == []
