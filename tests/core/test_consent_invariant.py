"""Property: over random histories of grants, revocations, expiries, answers and
messages, nothing is delivered or shown to the regisseur without a basis that is
valid at that very moment.

The test keeps its own model of the resident's consents (the oracle) and checks
the hub against it after every step, through the public API and the store.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from hub.core.models import InboxItem
from tests.utils.builders import arrears, nuisance, partner, person, regisseur, register, resident

MINIMAL = {"name", "address", "creditor", "amount_eur", "since"}
CATEGORY = {"signal.arrears.rent": "financieel", "signal.nuisance": "wonen"}


@dataclass
class ModelGrant:
    """The oracle's idea of one consent."""

    id: str
    categories: frozenset[str]
    valid_until: datetime | None
    revoked_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        if self.revoked_at is not None and now >= self.revoked_at:
            return False
        return self.valid_until is None or now < self.valid_until


operations = st.lists(st.one_of(
    st.tuples(st.just("grant"), st.sets(st.sampled_from(["financieel", "wonen"]), min_size=1),
              st.one_of(st.none(), st.integers(1, 72))),
    st.tuples(st.just("revoke"), st.integers(0, 5)),
    st.tuples(st.just("send"), st.sampled_from(["signal.arrears.rent", "signal.nuisance"])),
    st.tuples(st.just("answer"), st.booleans()),
    st.tuples(st.just("drain")),
    st.tuples(st.just("advance"), st.integers(1, 48)),
    st.tuples(st.just("read")),
), min_size=1, max_size=14)

_people = itertools.count(50_000)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=operations)
def test_no_delivery_and_no_read_without_a_valid_basis(ctx, client, worker, clock, ops):
    # One fresh resident per example: examples share the hub but never a person.
    who = person(next(_people), name=None)
    register(ctx, who)
    if not hasattr(ctx, "_woonbron"):
        ctx._woonbron = partner(ctx)[1]
    grants: list[ModelGrant] = []
    refs = itertools.count()

    def covered(category: str, now: datetime) -> bool:
        return any(g.active(now) and category in g.categories for g in grants)

    checked: set[str] = set()

    def check_deliveries() -> None:
        """Every item delivered by the last drain had a basis valid when it was delivered."""
        with ctx.sessions() as session:
            items = session.scalars(select(InboxItem).where(
                InboxItem.subject == ctx.pseudonyms.subject(who.bsn))).all()
        for item in items:
            if item.id in checked:
                continue
            checked.add(item.id)
            now = item.delivered_at
            if item.basis == "consent":
                model = next(g for g in grants if g.id == item.basis_ref)
                assert model.active(now) and CATEGORY[item.type] in model.categories
            else:
                assert item.basis == "statute" and item.type == "signal.arrears.rent"
                assert set(item.fields) <= MINIMAL

    for op in ops:
        now = clock()
        # Tokens are fresh per step: the clock may have moved past an earlier one's expiry.
        me, staff = resident(ctx, who), regisseur(ctx)
        if op[0] == "grant":
            until = now + timedelta(hours=op[2]) if op[2] else None
            body = {"recipient": "wijkteam", "source_kinds": ["woningcorporatie"],
                    "categories": sorted(op[1]), "purpose": "hulp bij schulden",
                    "valid_until": until.isoformat() if until else None}
            r = client.post("/api/v1/me/consents", json=body, headers=me)
            assert r.status_code == 201, r.text
            grants.append(ModelGrant(r.json()["id"], frozenset(op[1]), until))
        elif op[0] == "revoke" and grants:
            g = grants[op[1] % len(grants)]
            r = client.post(f"/api/v1/me/consents/{g.id}/revoke", headers=me)
            assert r.status_code == 200, r.text
            if g.revoked_at is None:
                g.revoked_at = now
        elif op[0] == "send":
            build = arrears if op[1] == "signal.arrears.rent" else nuisance
            body = build(who, ref=f"{who.bsn[-6:]}-{next(refs)}")
            if op[1] == "signal.arrears.rent":
                body["data"]["tenancy_ref"] = body["source_ref"]  # never a herhaalde melding
            r = client.post("/api/v1/messages", json=body, headers=ctx._woonbron)
            assert r.status_code == 202, r.text
        elif op[0] == "answer":
            pending = [q for q in client.get("/api/v1/me/requests", headers=me).json()
                       if q["status"] == "pending"]
            if pending:
                verb = "approve" if op[1] else "deny"
                r = client.post(f"/api/v1/me/requests/{pending[0]['id']}/{verb}", headers=me)
                assert r.status_code == 200, r.text
                if op[1]:
                    grants.append(ModelGrant(r.json()["id"],
                                             frozenset({pending[0]["category"]}),
                                             now + timedelta(days=365)))
        elif op[0] == "drain":
            worker.drain()
            check_deliveries()
        elif op[0] == "advance":
            clock.advance(hours=op[1])
        elif op[0] == "read":
            page = client.get("/api/v1/inbox", params={"limit": 1000}, headers=staff).json()
            for item in page["items"]:
                if item["data"].get("name") != who.name:
                    continue
                category = CATEGORY[item["type"]]
                if item["basis"] == "consent":
                    assert covered(category, now), (item, grants)
                else:
                    assert item["type"] == "signal.arrears.rent"
                    assert set(item["data"]) <= MINIMAL
