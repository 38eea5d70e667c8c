"""Issue 13: every page and route that shows an item, a household or an outbound message,
as a colleague regisseur, the team lead and the designated regisseur, for a
confidential, a held and a revoked item (the household of tests/web/visibility.py).

- the colleague (and the team lead, once a regisseur is designated) never sees the
  confidential report nor an outbound line about it;
- nobody sees the referral held for consent, nor the status sent back about it;
- after the resident revokes, the item delivered on that consent is gone everywhere;
- opening a confidential item, from any page or route, records ``read.confidential``
  with the reason (stored sealed).

``MATRIX`` must name every staff route and page under the paths below, or
:func:`test_every_route_that_shows_items_households_or_outbound_is_in_the_matrix` fails:
a new page that shows an item is tested here before it ships.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.app import create_app
from hub.core.confidential import read_reason
from hub.core.models import AuditEvent, ConfidentialRead
from tests.web.visibility import (
    CONFIDENTIAL_WORDS,
    HELD_WORDS,
    REVOKED_WORDS,
    VIEWERS,
    World,
    build,
    login,
    revoke,
)

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

# The staff routes and pages that can show an item, a household or an outbound message.
SHOWS = re.compile(r"^/api/v1/(inbox|caseload|households|referrals|wmo|veiligthuis|withholdings"
                   r"|outreach)"
                   r"(/|$)|^/werkplek(/|$)")
REASON = "Huisbezoek voorbereiden"


@dataclass(frozen=True)
class Probe:
    """How to ask one route: ``kind`` says what it shows and so what to expect."""

    kind: str  # list | item | action | household | outbound | case | exempt
    call: Callable[..., object] | None = None
    targets: tuple[str, ...] = ()
    why: str = ""
    lists_items: bool = True  # a list or household: links every item it may show
    roles: tuple[str, ...] = ("regisseur", "teamlead")  # the others get 403, whatever it is


def _get(path):
    return lambda c, csrf, x: c.get(path.format(x=x))


def _post_json(path, body=None):
    return lambda c, csrf, x: c.post(path.format(x=x), json=body)


def _post_form(path, form=None):
    return lambda c, csrf, x: c.post(path.format(x=x), data={"csrf": csrf, **(form or {})},
                                     follow_redirects=False)


ITEMS = ("ordinary", "confidential", "revoked", "held")
MATRIX: dict[str, Probe] = {
    "GET /api/v1/inbox": Probe("list", _get("/api/v1/inbox?limit=1000")),
    "GET /api/v1/inbox/{item_id}": Probe("item", _get("/api/v1/inbox/{x}?reason=" + REASON),
                                         ITEMS),
    "POST /api/v1/inbox/{item_id}/open": Probe(
        "item", _post_json("/api/v1/inbox/{x}/open", {"reason": REASON}), ITEMS),
    "POST /api/v1/inbox/{item_id}/take-up": Probe(
        "action", _post_json("/api/v1/inbox/{x}/take-up"), ITEMS),
    "POST /api/v1/inbox/{item_id}/close": Probe(
        "action", _post_json("/api/v1/inbox/{x}/close"), ITEMS),
    "GET /api/v1/households/{household_id}": Probe("household",
                                                   _get("/api/v1/households/{x}"),
                                                   lists_items=False),
    # An outbound route shows its own type (the first target); any other id is 404.
    "GET /api/v1/referrals/poh/{referral_id}": Probe(
        "outbound", _get("/api/v1/referrals/poh/{x}"), ("poh", "status_back", "vt_report"),
        roles=("regisseur",)),
    "GET /api/v1/veiligthuis/reports/{report_id}": Probe(
        "outbound", _get("/api/v1/veiligthuis/reports/{x}"),
        ("vt_report", "status_back", "poh")),
    "GET /werkplek/inbox": Probe("list", _get("/werkplek/inbox")),
    # The caseload lists a viewer's own households (anna's, here) or the unassigned ones
    # (none here): who sees which item in it is tests/api/test_caseload.py; here, no leak.
    "GET /werkplek": Probe("list", _get("/werkplek"), lists_items=False),
    "GET /api/v1/caseload": Probe("list", _get("/api/v1/caseload"), lists_items=False),
    "GET /werkplek/melding/{item_id}": Probe("item", _get("/werkplek/melding/{x}"), ITEMS),
    "POST /werkplek/melding/{item_id}/openen": Probe(
        "item", _post_form("/werkplek/melding/{x}/openen", {"reden": REASON}), ITEMS),
    "POST /werkplek/melding/{item_id}/oppakken": Probe(
        "action", _post_form("/werkplek/melding/{x}/oppakken"), ITEMS),
    "POST /werkplek/melding/{item_id}/afsluiten": Probe(
        "action", _post_form("/werkplek/melding/{x}/afsluiten"), ITEMS),
    "GET /werkplek/huishouden/{household_id}": Probe("household",
                                                     _get("/werkplek/huishouden/{x}")),
    # Issue 16: the outreach worklist and a case show their linked signals through the
    # read path. The case holds the rent signal; the confidential report and the held
    # referral never join one, and nothing of them may show through it. ``lists_items``:
    # whether the answer names the linked item's id (the page does not).
    "GET /api/v1/outreach": Probe("case", _get("/api/v1/outreach")),
    "GET /api/v1/outreach/{case_id}": Probe("case", _get("/api/v1/outreach/{x}")),
    "GET /werkplek/vroegsignalering": Probe("case", _get("/werkplek/vroegsignalering"),
                                            lists_items=False),
    "POST /api/v1/outreach/{case_id}/attempts": Probe(
        "exempt", why="an attempt (a write; 404 like GET for a case the caller cannot see)"),
    "POST /api/v1/outreach/{case_id}/close": Probe("exempt", why="closing (a write)"),
    "POST /api/v1/outreach/{case_id}/notify": Probe(
        "exempt", why="NotifyNL text (a write; the case read of GET first)"),
    "POST /werkplek/vroegsignalering/{case_id}/poging": Probe(
        "exempt", why="the attempt form (calls the API's write above)"),
    "POST /werkplek/vroegsignalering/{case_id}/afsluiten": Probe(
        "exempt", why="the close form (calls the API's write above)"),
    # The plan (issue 17) shows no item; it is the household's, so another wijk's is 404.
    "GET /api/v1/households/{household_id}/plan": Probe(
        "household", _get("/api/v1/households/{x}/plan"), lists_items=False),
    "GET /werkplek/huishouden/{household_id}/plan": Probe(
        "household", _get("/werkplek/huishouden/{x}/plan"), lists_items=False),
    # Attaching a triage item: an item the viewer may not see stays untouched (404).
    "POST /api/v1/inbox/{item_id}/attach": Probe(
        "action", _post_json("/api/v1/inbox/{x}/attach", {"bsn": "111222333"}), ITEMS),
    "GET /werkplek/melding/{item_id}/koppelen": Probe(
        "action", _get("/werkplek/melding/{x}/koppelen"), ITEMS),
    "POST /werkplek/melding/{item_id}/koppelen": Probe(
        "action", _post_form("/werkplek/melding/{x}/koppelen", {"bsn": "111222333"}), ITEMS),
    "GET /api/v1/withholdings": Probe("list", _get("/api/v1/withholdings"),
                                      lists_items=False),
    # Writes: they show nothing of an item the caller could not see already.
    "POST /api/v1/households/{household_id}/regisseur": Probe(
        "exempt", why="designation (a write; rules in tests/plugins/veiligthuis)"),
    "POST /api/v1/referrals/poh": Probe("exempt", why="a new referral (a write)"),
    "PUT /api/v1/households/{household_id}/plan": Probe(
        "exempt", why="a new plan version (a write; answers with the plan, no item)"),
    "POST /werkplek/huishouden/{household_id}/plan": Probe(
        "exempt", why="a new plan version (a write; redirects to the plan)"),
    "POST /api/v1/households/{household_id}/plan/agreements/{agreement_id}/state": Probe(
        "exempt", why="an agreement's state (a write; answers with the plan, no item)"),
    "POST /api/v1/veiligthuis/reports": Probe("exempt", why="a new report (a write)"),
    "POST /api/v1/wmo/requests": Probe("exempt", why="a new Wmo request (a write)"),
    "POST /api/v1/withholdings/{withholding_id}/review": Probe(
        "exempt", why="a team lead's review (a write; ids and dates only)"),
    # The Wmo desk's worklist lives in the sdd plugin's own table and is the wijk's by
    # design (legal terms to chase); it holds no item of another partner.
    "GET /api/v1/wmo/requests": Probe("exempt", why="the sdd plugin's wijk worklist"),
    "GET /api/v1/wmo/requests/{wmo_request_id}": Probe("exempt",
                                                       why="the sdd plugin's wijk worklist"),
}


def _routes(routes):
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes)
        else:
            yield route


def test_every_route_that_shows_items_households_or_outbound_is_in_the_matrix(ctx):
    app = create_app(ctx, run_worker=False)
    operations = {f"{method} {route.path}" for route in _routes(app.routes)
                  if isinstance(route, APIRoute) and SHOWS.match(route.path)
                  for method in route.methods if method != "HEAD"}
    assert operations, "no routes found"
    missing = sorted(operations - set(MATRIX))
    stale = sorted(set(MATRIX) - operations)
    assert not missing, f"add these to MATRIX in {__name__}: {missing}"
    assert not stale, f"MATRIX names routes that no longer exist: {stale}"


@pytest.fixture
def clients(ctx) -> Iterator[dict[str, TestClient]]:
    """One client per viewer (API header and screen session both set) and one to build."""
    app = create_app(ctx, run_worker=False)
    made = {name: TestClient(app, raise_server_exceptions=False)
            for name in ("builder", *VIEWERS)}
    for client in made.values():
        client.__enter__()
    try:
        yield made
    finally:
        for client in made.values():
            client.__exit__(None, None, None)


@pytest.fixture
def world(ctx, clients, worker) -> World:
    made = build(ctx, clients["builder"], worker)
    return made


def _sessions(ctx, clients, world) -> dict[str, str]:
    csrf = {}
    for user, role in VIEWERS.items():
        csrf[user] = login(clients[user], ctx, user=user, role=role)
        clients[user].headers.update(world.api[user])
    return csrf


def _target_id(world: World, target: str) -> str:
    return {"ordinary": world.ordinary_id, "confidential": world.confidential_id,
            "revoked": world.revoked_id, "held": world.held_message_id,
            "poh": world.poh_referral_id, "vt_report": world.vt_report_id,
            "status_back": world.status_back_ids[0]}[target]


def _may_see(target: str, user: str, revoked: bool) -> bool:
    """The rule under test: who may see what (the module docstring)."""
    if target in ("ordinary",):
        return True
    if target == "revoked":
        return not revoked
    if target in ("confidential", "vt_report", "poh"):
        return user == "anna"
    return False  # held, and the status back about it


def _text(answer) -> str:
    return answer.text


def _check(ctx, clients, world, *, revoked: bool) -> list[str]:
    """Ask every route of MATRIX as every viewer; the list of what went wrong."""
    csrf = _sessions(ctx, clients, world)
    wrong: list[str] = []
    never = {user: HELD_WORDS + (REVOKED_WORDS if revoked else ())
             + (CONFIDENTIAL_WORDS if user != "anna" else ()) for user in VIEWERS}
    item_ids = {t: _target_id(world, t) for t in ITEMS}
    for operation, probe in MATRIX.items():
        if probe.kind == "exempt":
            assert probe.why, operation
            continue
        for user in VIEWERS:
            client = clients[user]
            answers = []
            if probe.kind in ("list", "household"):
                answer = probe.call(client, csrf[user], world.household_id)
                answers.append(answer)
                if answer.status_code == 200 and probe.lists_items:
                    for target, ident in item_ids.items():
                        shown = ident in answer.text
                        if shown != _may_see(target, user, revoked) and target != "held":
                            wrong.append(f"{operation} as {user}: {target} shown={shown}")
            elif probe.kind == "case":
                # Every reader of the wijk sees the case (a colleague regisseur too): the
                # ordinary signal shows through it, nothing else (the ``never`` words).
                answer = probe.call(client, csrf[user], world.case_id)
                answers.append(answer)
                if answer.status_code != 200:
                    wrong.append(f"{operation} as {user}: {answer.status_code}")
                elif probe.lists_items and world.ordinary_id not in answer.text:
                    wrong.append(f"{operation} as {user}: the case's signal is missing")
                for target in ("confidential", "revoked", "held"):
                    if probe.lists_items and _target_id(world, target) in answer.text:
                        wrong.append(f"{operation} as {user}: shows {target} through a case")
            elif probe.kind == "action":
                # Only where the viewer may not see the item: it must stay untouched.
                for target in probe.targets:
                    if _may_see(target, user, revoked):
                        continue
                    answer = probe.call(client, csrf[user], _target_id(world, target))
                    answers.append(answer)
                    if answer.status_code not in (403, 404):
                        wrong.append(f"{operation} as {user} on {target}: "
                                     f"{answer.status_code}")
            else:  # item, outbound
                for target in probe.targets:
                    answer = probe.call(client, csrf[user], _target_id(world, target))
                    answers.append(answer)
                    own = probe.kind == "item" or target == probe.targets[0]
                    expected = 200 if own and _may_see(target, user, revoked) else 404
                    if VIEWERS[user] not in probe.roles:
                        expected = 403
                    if answer.status_code != expected:
                        wrong.append(f"{operation} as {user} on {target}: "
                                     f"{answer.status_code}, expected {expected}")
            for answer in answers:
                if answer.status_code >= 500:
                    wrong.append(f"{operation} as {user}: {answer.status_code}")
                leaked = [w for w in never[user] if w in _text(answer)]
                if leaked:
                    wrong.append(f"{operation} as {user}: shows {leaked}")
    return wrong


def test_each_viewer_sees_only_what_they_may_on_every_route(ctx, clients, world):
    wrong = _check(ctx, clients, world, revoked=False)
    assert not wrong, "\n".join(wrong)


def test_after_revocation_the_item_is_gone_from_every_route(ctx, clients, world):
    revoke(ctx, clients["builder"], world)
    wrong = _check(ctx, clients, world, revoked=True)
    assert not wrong, "\n".join(wrong)


def test_opening_the_confidential_item_anywhere_records_the_reason(ctx, clients, world):
    csrf = _sessions(ctx, clients, world)
    anna = clients["anna"]
    ways = [p for p in MATRIX.values() if p.kind == "item"]
    for probe in ways:
        assert probe.call(anna, csrf["anna"], world.confidential_id).status_code == 200
    with ctx.sessions() as session:
        events = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "read.confidential")).all()
        reads = {r.id: read_reason(ctx, r) for r in session.scalars(select(ConfidentialRead))}
    # The page GET asks for the reason and shows nothing: no read there.
    opened = [p for p in ways if p.call is not MATRIX["GET /werkplek/melding/{item_id}"].call]
    assert len(events) == len(opened) == 3
    for event in events:
        assert (event.actor, event.data["item_id"]) == ("anna", world.confidential_id)
        assert reads[event.data["read_id"]] == REASON
        assert REASON not in str(event.data)
