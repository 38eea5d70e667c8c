"""``hub household assign`` and ``hub withholdings list``."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select

from hub.cli import main
from hub.core.models import AuditEvent, Household
from tests.plugins.veiligthuis.helpers import household_of, safety_report, send, veilig_thuis
from tests.utils.builders import make_bsn, person, regisseur, register


@pytest.fixture
def hub_env(ctx, monkeypatch):
    """The CLI works on the test's hub."""
    monkeypatch.setenv("HUB_DATA_DIR", str(ctx.settings.data_dir))
    monkeypatch.setenv("HUB_DATABASE_URL", ctx.settings.effective_database_url)
    return ctx


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_assign_designates_audits_and_never_prints_the_bsn(hub_env, client, worker, capsys,
                                                           caplog):
    caplog.set_level(logging.DEBUG)
    who = person(21)
    register(hub_env, who)
    _, vt = veilig_thuis(hub_env)
    send(client, safety_report(who, ref="R-1"), vt)
    worker.drain()
    code, out, err = _run(capsys, "household", "assign", "--bsn", who.bsn, "--user", "anna")
    assert code == 0, err
    shown = json.loads(out)
    assert shown == {"household_id": household_of(hub_env, who), "wijk": "krispijn",
                     "regisseur": "anna", "previous": None, "moved_items": 1}
    assert who.bsn not in out + err
    assert client.get("/api/v1/inbox", headers=regisseur(hub_env, user="anna")
                      ).json()["total"] == 1
    with hub_env.sessions() as session:
        assert session.get(Household, shown["household_id"]).regisseur == "anna"
        event = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "household.designate")).one()
        assert (event.role, event.system) == ("admin", "cli")
        assert who.bsn not in json.dumps(event.data)
    assert who.bsn not in "\n".join(r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("argv", "says"), [
    (["--bsn", "123456789", "--user", "anna"], "--bsn is not a valid BSN"),
    (["--bsn", make_bsn(999), "--user", "anna"], "--bsn: no resident with this BSN"),
    (["--bsn", make_bsn(21), "--user", "an na"], "--user: must be the regisseur's user id"),
])
def test_assign_refuses_bad_input_in_one_line_without_the_bsn(hub_env, capsys, argv, says):
    register(hub_env, person(21))
    code, out, err = _run(capsys, "household", "assign", *argv)
    assert code == 2 and out == ""
    assert err.startswith(f"error: {says}") and err.count("\n") == 1
    assert argv[1] not in err
    with hub_env.sessions() as session:
        assert session.scalars(select(Household.regisseur)).all() == [None]


def test_withholdings_list(hub_env, client, worker, capsys):
    who = person(22)
    register(hub_env, who)
    _, vt = veilig_thuis(hub_env)
    send(client, safety_report(who, ref="R-1"), vt)
    worker.drain()
    code, out, _ = _run(capsys, "withholdings", "list")
    assert code == 0
    listed = json.loads(out)
    assert listed["total"] == 1 and listed["items"][0]["status"] == "active"
    assert listed["items"][0]["reason_code"] == "protect-child-or-victim"
    assert who.bsn not in out and who.name not in out
    code, out, _ = _run(capsys, "withholdings", "list", "--wijk", "crabbehof")
    assert json.loads(out)["total"] == 0
    code, _, err = _run(capsys, "withholdings", "list", "--wijk", "nergens")
    assert code == 2 and "unknown wijk" in err
