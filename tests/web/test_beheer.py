"""The operator's dashboard counts what happened, per partner, and never shows a person."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.app import create_app
from hub.core.models import OutboxEntry
from hub.core.transport.tasks import mark_dead
from tests.utils.builders import arrears, partner, person, register
from tests.web.conftest import csrf_of

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _row(page: str, name: str) -> list[str]:
    row = re.search(rf"<tr[^>]*><th scope=\"row\">{name}</th>(.*?)</tr>", page, re.S).group(1)
    return re.findall(r"<td>(.*?)</td>", row)


def test_the_dashboard_counts_per_partner_and_replays(ctx, worker, clock):
    with TestClient(create_app(ctx, run_worker=False), raise_server_exceptions=False) as web:
        _, woonbron = partner(ctx, "Woonbron")
        _, trivire = partner(ctx, "Trivire")
        people = [person(i, name=f"Persoon Nummer{i}") for i in range(11, 15)]
        register(ctx, *people)
        ids = [web.post("/api/v1/messages", headers=woonbron,
                        json=arrears(p, ref=f"W-{i}")).json()["id"]
               for i, p in enumerate(people[:3])]
        assert web.post("/api/v1/messages", headers=trivire,
                        json=arrears(people[3], ref="T-1")).status_code == 202
        bad = arrears(people[3], ref="T-2", amount="veel")
        assert web.post("/api/v1/messages", headers=trivire, json=bad).status_code == 422
        with ctx.sessions() as session, session.begin():
            entry = session.scalar(select(OutboxEntry.id).where(
                OutboxEntry.message_id == ids[0]))
            mark_dead(session=session, entry_id=entry, source="embedded", reason="TimeoutError",
                      now=ctx.clock())
        worker.drain()

        csrf = csrf_of(web.get("/inloggen").text)
        web.post("/inloggen", data={"csrf": csrf, "rol": "operator"})
        page = web.get("/beheer").text
        # Kind, last message, from (24 h), to (24 h), refused at the door, dead, not
        # delivered, error rate.
        woon, tri = _row(page, "Woonbron"), _row(page, "Trivire")
        assert (woon[2], woon[4], woon[5]) == ("3", "0", "1")
        assert woon[7] == "33,3%"
        assert (tri[2], tri[4], tri[5]) == ("1", "1", "0")
        assert tri[7] == "50,0%"
        assert "berichten binnen in de laatste 24 uur" in page
        assert all(p.name not in page for p in people)  # counts, never a person

        replay = web.post("/beheer/dode-berichten/1/opnieuw", data={"csrf": csrf_of(page)})
        assert replay.status_code == 200 and "weer in de wachtrij" in replay.text
        assert _row(replay.text, "Woonbron")[5] == "0"
        again = web.post("/beheer/dode-berichten/1/opnieuw", data={"csrf": csrf_of(page)})
        assert again.status_code == 409 and "al opnieuw aangeboden" in again.text
