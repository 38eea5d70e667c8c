"""Builders for the Wmo desk's tests."""

from __future__ import annotations

from typing import Any

from tests.utils.builders import Person, partner


def desk(ctx, name: str = "SDD Drechtsteden",
         endpoint: str | None = "https://wmo.sdd.example/api") -> tuple[str, dict[str, str]]:
    """Register a Wmo desk (kind sdd) with its endpoint; its id and key header."""
    from hub.core.models import Partner

    desk_id, headers = partner(ctx, name, kind="sdd")
    if endpoint is not None:
        with ctx.sessions() as session, session.begin():
            session.get(Partner, desk_id).endpoint = endpoint
    return desk_id, headers


def wmo_request(who: Person, **fields: Any) -> dict[str, Any]:
    """A ``POST /api/v1/wmo/requests`` body for ``who``."""
    return {"bsn": who.bsn, "provision": "01", "reason": "Kan na een heupoperatie het huis "
            "niet meer schoonhouden", "urgency": "normal", "plan_ref": "PLAN-7", **fields}


def decision(who: Person, request_id: str, *, ref: str = "SDD-B-1", **data: Any) -> dict:
    """A ``wmo.decision`` message from the desk about ``who``."""
    return {"type": "wmo.decision", "source_ref": ref, "subject": {"bsn": who.bsn},
            "occurred_at": "2026-11-30T10:00:00+00:00",
            "data": {"request_id": request_id, "outcome": "granted",
                     "product_category": "01", "product_code": "01A01",
                     "product_name": "Huishoudelijke ondersteuning",
                     "volume": {"amount": 3, "unit": "uur", "frequency": "week"},
                     "start_date": "2026-12-07", "end_date": "2027-12-06",
                     "desk_reference": "WMO-2026-0815",
                     "reason": "Onderzoek wijst uit dat hulp nodig is", **data}}


def status(who: Person, request_id: str, *, ref: str = "SDD-S-1", **data: Any) -> dict:
    """A ``wmo.status`` message (in behandeling) from the desk about ``who``."""
    return {"type": "wmo.status", "source_ref": ref, "subject": {"bsn": who.bsn},
            "occurred_at": "2026-11-24T10:00:00+00:00",
            "data": {"request_id": request_id, "status": "in_behandeling",
                     "desk_reference": "WMO-2026-0815", **data}}


DESK_URL = "https://wmo.sdd.example/api"


def desk_server():
    """The desk's own API (respx), answering every request with its reference."""
    import httpx
    import respx

    mock = respx.mock(assert_all_called=False, assert_all_mocked=True)
    route = mock.post(f"{DESK_URL}/wmo/aanvragen").mock(
        return_value=httpx.Response(201, json={"reference": "WMO-2026-0815"}))
    return mock, route
