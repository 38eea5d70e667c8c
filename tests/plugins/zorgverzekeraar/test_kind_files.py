"""A fifth kind of fixed-cost partner, added by a municipality in a file, without Python."""

from __future__ import annotations

from pathlib import Path

import pytest

import plugins.fixedcosts
from hub.core.arrears import KindFileError, load_kind_file
from hub.core.context import build_context
from hub.core.migrate import upgrade
from hub.core.plugins import load_plugins
from tests.plugins.arrears import csv_body, csv_row, send_batch, signal
from tests.utils.builders import partner, person, register

TELECOM = """
kind = "telecom"
reference = "contract_ref"
feedback = "feedback.arrears.telecom"

[labels]
contract_ref = "contractnummer"

[[signals]]
type = "signal.arrears.telecom"
title = "Achterstand telefoonrekening"
topic = "achterstand op de telefoonrekening"
"""
ANNA = person(51)


@pytest.fixture
def telecom_hub(tmp_path, settings, clock, monkeypatch):
    """A hub with a municipality's own kind in ``HUB_ARREARS_KINDS_DIR``."""
    kinds = tmp_path / "kinds"
    kinds.mkdir()
    (kinds / "telecom.toml").write_text(TELECOM, encoding="utf-8")
    monkeypatch.setenv("HUB_ARREARS_KINDS_DIR", str(kinds))
    # The plugin reads its files once, when it loads: load them again for this hub.
    monkeypatch.setattr(plugins.fixedcosts, "KINDS", plugins.fixedcosts.load_kinds())
    context = build_context(settings, plugins=load_plugins(), clock=clock)
    upgrade(context.engine)
    try:
        yield context
    finally:
        context.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_kind_in_a_file_takes_json_and_csv_and_asks_consent_without_a_policy_entry(
        telecom_hub, client_factory, worker_for):
    ctx = telecom_hub
    client, worker = client_factory(ctx), worker_for(ctx)
    register(ctx, ANNA)
    _, telecom = partner(ctx, "Bel Goedkoop", kind="telecom")
    r = client.post("/api/v1/messages", headers=telecom, json=signal(
        ANNA, type_="signal.arrears.telecom", ref="T-1", reference="contract_ref"))
    assert r.status_code == 202, r.text
    fmt = ctx.plugins.catalog.csv_format_for("telecom")
    batch = send_batch(client, csv_body(fmt.header, csv_row(ANNA, "T-2", "contract_ref")),
                       telecom)
    assert batch.status_code == 202, batch.text
    worker.drain()
    # No [types."signal.arrears.telecom"] in the policy: no statute, so the resident is asked.
    with ctx.sessions() as session:
        from hub.core.models import InboxItem

        assert session.query(InboxItem).count() == 0


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kind.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "said"), [
    (TELECOM.replace('kind = "telecom"', 'kind = "Tele Com"'), "kind.toml: kind:"),
    (TELECOM.replace("[labels]\ncontract_ref", "[labels]\nother"),
     "kind.toml: labels: no Dutch label for contract_ref"),
    (TELECOM.replace('title = "', 'titel = "'), "kind.toml: signals.0.title: Field required"),
    (TELECOM + "[[", "kind.toml: not valid TOML"),
    (TELECOM.replace('type = "signal.arrears.telecom"', 'type = "arrears"'),
     "kind.toml: signals.0.type"),
])
def test_a_broken_kind_file_names_the_file_and_the_key(tmp_path, text, said):
    with pytest.raises(KindFileError) as raised:
        load_kind_file(_write(tmp_path, text))
    assert str(raised.value).startswith(said), str(raised.value)


def test_the_built_in_health_insurer_file_is_valid_and_fully_labelled():
    (kind,) = plugins.fixedcosts.load_kinds(extra_dir=Path("/nonexistent"))
    assert kind.kind == "zorgverzekeraar"
    assert set(kind.fields) <= set(kind.all_labels)
