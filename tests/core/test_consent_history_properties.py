"""Property: over random histories of grants, changes, revocations, expiries, answers,
representatives, messages and replays:

- nothing is delivered, and nothing is shown to the regisseur, without a basis
  valid at that very moment (a consent as scoped *at that moment*, or the statute);
- a representative acts only within their capacity and their period (a parent
  only while the resident is a minor), and every answer the API gives them is
  the one the oracle predicts;
- a revocation is never undone: not by revoking again, approving an answered
  request again, re-posting an earlier message, or putting every message of the
  resident back on the queue.

The test keeps its own model (the oracle) and checks the hub against it after
every step, through the public API and the store.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from consent import registry
from hub.core.ingest import enqueue
from hub.core.models import Disclosure, InboxItem, Message
from hub.core.representatives import add_representative
from tests.utils.builders import arrears, nuisance, partner, person, regisseur, register, resident

MINIMAL = {"name", "address", "creditor", "amount_eur", "since"}
# The statute's minimal fields per type: the four fixed-cost partners (issue 16) send
# the resident's phone and e-mail too, which the newer two may pass without consent.
STATUTE = {"signal.arrears.rent": MINIMAL,
           "signal.arrears.energy": MINIMAL | {"phone", "email"},
           "signal.end_of_supply.energy": MINIMAL | {"phone", "email", "end_of_supply_date"},
           "signal.arrears.health_insurance": MINIMAL | {"phone", "email"}}
CATEGORY = {"signal.nuisance": "wonen", **dict.fromkeys(STATUTE, "financieel")}
# Who sends each type (partner kind), and its own reference field.
SENDER = {"signal.arrears.rent": ("woningcorporatie", "tenancy_ref"),
          "signal.nuisance": ("woningcorporatie", None),
          "signal.arrears.energy": ("energie", "customer_ref"),
          "signal.end_of_supply.energy": ("energie", "customer_ref"),
          "signal.arrears.health_insurance": ("zorgverzekeraar", "policy_ref")}
BOTH = frozenset({"financieel", "wonen"})
CAPACITY = {"self": BOTH, "parent": BOTH, "bewind": frozenset({"financieel"}),
            "mentor": frozenset({"wonen"})}  # as far as these two categories go
ACTORS = st.sampled_from(["self", "parent", "bewind", "mentor"])
CATS = st.sets(st.sampled_from(sorted(BOTH)), min_size=1).map(frozenset)


@dataclass
class ModelGrant:
    """The oracle's idea of one consent: its scope over time, its end, its revocation."""

    id: str
    history: list[tuple[datetime, frozenset[str]]]
    valid_until: datetime | None
    revoked_at: datetime | None = None

    def scope(self, at: datetime) -> frozenset[str]:
        """The categories in force at ``at`` (the newest change not after it)."""
        current = frozenset()
        for since, cats in self.history:
            if since <= at:
                current = cats
        return current

    def ended(self, at: datetime) -> bool:
        if self.revoked_at is not None and at >= self.revoked_at:
            return True
        return self.valid_until is not None and at >= self.valid_until

    def covers(self, category: str, at: datetime) -> bool:
        return not self.ended(at) and category in self.scope(at)


@dataclass
class ModelRep:
    """The oracle's idea of one representation."""

    id: str
    valid_until: datetime | None
    ended_at: datetime | None = None

    def in_force(self, at: datetime) -> bool:
        if self.ended_at is not None and at >= self.ended_at:
            return False
        return self.valid_until is None or at < self.valid_until


@dataclass
class World:
    grants: list[ModelGrant] = field(default_factory=list)
    reps: dict[str, ModelRep] = field(default_factory=dict)
    answered: list[str] = field(default_factory=list)
    granted: list[dict] = field(default_factory=list)
    sent: list[dict] = field(default_factory=list)
    checked: set[str] = field(default_factory=set)


operations = st.lists(st.one_of(
    st.tuples(st.just("grant"), ACTORS, CATS, st.one_of(st.none(), st.integers(1, 72))),
    st.tuples(st.just("change"), ACTORS, st.integers(0, 5), CATS),
    st.tuples(st.just("revoke"), ACTORS, st.integers(0, 5)),
    st.tuples(st.just("send"), st.sampled_from(sorted(CATEGORY))),
    st.tuples(st.just("answer"), ACTORS, st.booleans()),
    st.tuples(st.just("end_rep"), st.sampled_from(["parent", "bewind", "mentor"])),
    st.tuples(st.just("replay"),
              st.sampled_from(["revoke", "approve", "requeue", "resend", "regrant"]),
              st.integers(0, 5)),
    st.tuples(st.just("drain")),
    st.tuples(st.just("advance"), st.integers(1, 40)),
    st.tuples(st.just("read")),
    # Weighted: a message followed by the worker, and a resident revoking, are
    # what make a history bite.
    st.tuples(st.just("revoke"), st.just("self"), st.integers(0, 5)),
    st.tuples(st.just("revoke"), st.just("self"), st.integers(0, 5)),
    st.tuples(st.just("send_drain"), st.sampled_from(sorted(CATEGORY))),
    st.tuples(st.just("send_drain"), st.sampled_from(sorted(CATEGORY))),
), min_size=4, max_size=20)

_people = itertools.count(60_000)


def _setup(ctx, clock, minor_days: int, mentor_hours: int):
    now = clock()
    # Turns 18 a few days from now: the parent's say ends during the history.
    # The 18th birthday starts at midnight Dutch time: count days from the Dutch date.
    turns_18 = (now.astimezone(ZoneInfo("Europe/Amsterdam")) + timedelta(days=minor_days)).date()
    if (turns_18.month, turns_18.day) == (2, 29):
        turns_18 += timedelta(days=1)  # 18 years earlier had no 29 February
    who = dataclasses.replace(person(next(_people)),
                              birthdate=turns_18.replace(year=turns_18.year - 18).isoformat())
    others = {name: person(next(_people)) for name in ("parent", "bewind", "mentor")}
    register(ctx, who, *others.values())
    world = World()
    with ctx.sessions() as session, session.begin():
        for name, capacity, until in (("parent", "parent", None),
                                      ("bewind", "bewindvoerder", None),
                                      ("mentor", "mentor", now + timedelta(hours=mentor_hours))):
            rep = add_representative(session=session, ctx=ctx, bsn=who.bsn,
                                     representative_bsn=others[name].bsn, capacity=capacity,
                                     valid_from=now, valid_until=until, recorded_by="anna",
                                     reference="test", now=now)
            world.reps[name] = ModelRep(rep.id, rep.valid_until)
    return who, others, world


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=operations, minor_days=st.integers(1, 3), mentor_hours=st.integers(1, 60))
def test_consent_histories_with_representatives_and_replays(ctx, client, worker, clock, ops,
                                                             minor_days, mentor_hours):
    who, others, world = _setup(ctx, clock, minor_days, mentor_hours)
    subject = ctx.pseudonyms.subject(who.bsn)
    if not hasattr(ctx, "_senders"):
        ctx._senders = {kind: partner(ctx, f"Partner {kind}", kind=kind)[1]
                        for kind in ("woningcorporatie", "energie", "zorgverzekeraar")}
    refs = itertools.count()

    def headers(actor: str):
        """Fresh token (the clock moves), and on_behalf_of for a representative."""
        if actor == "self":
            return resident(ctx, who), {}
        return resident(ctx, others[actor]), {"on_behalf_of": world.reps[actor].id}

    def may_act(actor: str, now: datetime) -> bool:
        return actor == "self" or world.reps[actor].in_force(now)

    def check_deliveries() -> None:
        """Every item delivered since the last check had a basis valid when it was delivered."""
        with ctx.sessions() as session:
            items = session.scalars(select(InboxItem).where(InboxItem.subject == subject)).all()
            disclosures = session.scalars(select(Disclosure).where(
                Disclosure.subject == subject)).all()
        for item in items:
            if item.id in world.checked:
                continue
            world.checked.add(item.id)
            at = item.delivered_at
            event(f"delivered on {item.basis}")
            if item.basis == "consent":
                model = next(g for g in world.grants if g.id == item.basis_ref)
                assert model.covers(CATEGORY[item.type], at), (item.type, model, at)
            else:
                assert item.basis == "statute" and item.type in STATUTE
                assert set(item.fields) <= STATUTE[item.type]
        for d in disclosures:
            # Checked once, when new: a revocation at the same instant, later in the
            # history, must not make an earlier disclosure look unlawful.
            if f"d{d.id}" in world.checked:
                continue
            world.checked.add(f"d{d.id}")
            if d.basis == "consent":
                model = next(g for g in world.grants if g.id == d.basis_ref)
                assert model.covers(CATEGORY[d.message_type], d.at)

    def check_revocations_hold() -> None:
        """No revoked consent carries a visible item, and the hub still calls it revoked."""
        revoked = {g.id: g for g in world.grants if g.revoked_at is not None}
        if not revoked:
            return
        with ctx.sessions() as session:
            carried = session.scalars(select(InboxItem.id).where(
                InboxItem.subject == subject, InboxItem.hidden.is_(False),
                InboxItem.basis == "consent", InboxItem.basis_ref.in_(revoked))).all()
            assert carried == []
            for g in registry.list_grants(session=session, subject=subject):
                if g.id in revoked:
                    assert g.status is registry.GrantStatus.REVOKED
                    assert g.revoked_at == revoked[g.id].revoked_at

    # Every history starts with something to lose: a consent with a delivery on it,
    # and a delivery on the statute; the random part then changes, revokes, replays.
    prelude = [("grant", "self", BOTH, None), ("send_drain", "signal.nuisance"),
               ("send_drain", "signal.arrears.rent"),
               ("send_drain", "signal.end_of_supply.energy")]
    for op in [*prelude, *ops]:
        now = clock()
        if op[0] == "grant":
            _, actor, cats, hours = op
            until = now + timedelta(hours=hours) if hours else None
            me, on = headers(actor)
            body = {"source_kinds": ["woningcorporatie", "energie", "zorgverzekeraar"],
                    "categories": sorted(cats),
                    "purpose": "hulp", "valid_until": until.isoformat() if until else None}
            key = f"{who.bsn}-{len(world.granted)}-{actor}"
            r = client.post("/api/v1/me/consents", json=body, params=on,
                            headers={**me, "Idempotency-Key": key})
            expected = 201 if may_act(actor, now) and cats <= CAPACITY[actor] else 403
            assert r.status_code == expected, (op, r.text)
            event(f"grant by {actor}: {expected}")
            if expected == 201:
                world.grants.append(ModelGrant(r.json()["id"], [(now, cats)], until))
                world.granted.append({"body": body, "key": key, "id": r.json()["id"],
                                      "actor": actor})
        elif op[0] in ("change", "revoke") and world.grants:
            actor, g = op[1], world.grants[op[2] % len(world.grants)]
            me, on = headers(actor)
            if op[0] == "change":
                r = client.patch(f"/api/v1/me/consents/{g.id}",
                                 json={"categories": sorted(op[3])}, headers=me, params=on)
            else:
                r = client.post(f"/api/v1/me/consents/{g.id}/revoke", headers=me, params=on)
            if not may_act(actor, now):
                expected = 403
            elif not g.scope(now) <= CAPACITY[actor]:
                expected = 404  # outside the capacity it is not even shown to exist
            elif op[0] == "revoke":
                expected = 200
            elif g.ended(now):
                expected = 409
            elif not op[3] <= CAPACITY[actor]:
                expected = 403
            else:
                expected = 200
            assert r.status_code == expected, (op, g, r.text)
            event(f"{op[0]} by {actor}: {expected}")
            if expected == 200 and op[0] == "change":
                g.history.append((now, op[3]))
            elif expected == 200 and not g.ended(now):
                g.revoked_at = now
                event("revoked")
        elif op[0] in ("send", "send_drain"):
            kind, reference = SENDER[op[1]]
            build = nuisance if reference is None else arrears
            body = build(who, ref=f"{who.bsn[-6:]}-{next(refs)}")
            if reference is not None:
                body["type"] = op[1]
                body["data"].pop("tenancy_ref")
                body["data"][reference] = body["source_ref"]  # never a herhaalde melding
                body["data"].update(phone="0612345678", email="bewoner@example.nl")
            if op[1] == "signal.end_of_supply.energy":
                body["data"]["end_of_supply_date"] = "2027-01-15"
            r = client.post("/api/v1/messages", json=body, headers=ctx._senders[kind])
            assert r.status_code == 202, r.text
            world.sent.append({"body": body, "id": r.json()["id"], "kind": kind})
            if op[0] == "send_drain":
                worker.drain()
                check_deliveries()
        elif op[0] == "answer":
            _, actor, yes = op
            me, on = headers(actor)
            r = client.get("/api/v1/me/requests", headers=me, params=on)
            if not may_act(actor, now):
                assert r.status_code == 403, r.text
                continue
            pending = [q for q in r.json() if q["status"] == "pending"]
            assert all(q["category"] in CAPACITY[actor] for q in r.json())
            if pending:
                q = pending[0]
                r = client.post(f"/api/v1/me/requests/{q['id']}/{'approve' if yes else 'deny'}",
                                headers=me, params=on)
                assert r.status_code == 200, r.text
                world.answered.append(q["id"])
                if yes:
                    world.grants.append(ModelGrant(r.json()["id"],
                                                   [(now, frozenset({q["category"]}))],
                                                   now + timedelta(days=365)))
        elif op[0] == "end_rep":
            rep = world.reps[op[1]]
            with ctx.sessions() as session, session.begin():
                registry.end_representation(session=session, representation_id=rep.id, now=now)
            if rep.ended_at is None:
                rep.ended_at = now
        elif op[0] == "replay":
            kind, n = op[1], op[2]
            me, _ = headers("self")
            revoked = [g for g in world.grants if g.revoked_at is not None]
            if kind == "revoke" and revoked:
                g = revoked[n % len(revoked)]
                r = client.post(f"/api/v1/me/consents/{g.id}/revoke", headers=me)
                assert r.status_code == 200 and r.json()["status"] == "revoked", r.text
            elif kind == "approve" and world.answered:
                rid = world.answered[n % len(world.answered)]
                r = client.post(f"/api/v1/me/requests/{rid}/approve", headers=me)
                assert r.status_code == 409, r.text
            elif kind == "requeue":
                with ctx.sessions() as session, session.begin():
                    for mid in session.scalars(select(Message.id).where(
                            Message.subject == subject)):
                        enqueue(session=session, message_id=mid, now=now)
            elif kind == "regrant" and any(g["actor"] == "self" for g in world.granted):
                # The client retries an earlier grant: the same consent, nothing new,
                # and if it was revoked since, it stays revoked. Only the resident's own:
                # a representative's grant retried by the resident is another request
                # (its fingerprint names the representation), rightly a 409.
                own = [g for g in world.granted if g["actor"] == "self"]
                earlier = own[n % len(own)]
                r = client.post("/api/v1/me/consents", json=earlier["body"],
                                headers={**me, "Idempotency-Key": earlier["key"]})
                assert r.status_code == 201 and r.json()["id"] == earlier["id"], r.text
            elif kind == "resend" and world.sent:
                earlier = world.sent[n % len(world.sent)]
                r = client.post("/api/v1/messages", json=earlier["body"],
                                headers=ctx._senders[earlier["kind"]])
                assert r.status_code == 202 and r.json()["id"] == earlier["id"], r.text
        elif op[0] == "drain":
            worker.drain()
            check_deliveries()
        elif op[0] == "advance":
            clock.advance(hours=op[1])
        elif op[0] == "read":
            page = client.get("/api/v1/inbox", params={"limit": 1000},
                              headers=regisseur(ctx)).json()
            for item in page["items"]:
                if item["data"].get("name") != who.name:
                    continue
                category = CATEGORY[item["type"]]
                if item["basis"] == "consent":
                    assert any(g.covers(category, now) for g in world.grants), (item, world)
                else:
                    assert item["type"] in STATUTE
                    assert set(item["data"]) <= STATUTE[item["type"]]
        check_revocations_hold()

    # The version history never shows anything after a revocation.
    with ctx.sessions() as session:
        for g in world.grants:
            versions = registry.list_versions(session=session, subject=subject, consent_id=g.id)
            assert [v.version for v in versions] == list(range(1, len(versions) + 1))
            statuses = [v.status.value for v in versions]
            if "revoked" in statuses:
                assert statuses.index("revoked") == len(statuses) - 1
