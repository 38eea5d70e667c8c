"""``hub representatives add | list | end``: recording who may act for a resident."""

from __future__ import annotations

import dataclasses
import json

import pytest

from hub.cli import main
from tests.utils.builders import person, register


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


def test_add_list_and_end(hub_env, capsys):
    anna, bewind = person(501), person(502)
    register(hub_env, anna, bewind)
    code, out, _ = _run(capsys, "representatives", "add", "--bsn", anna.bsn,
                        "--representative-bsn", bewind.bsn, "--capacity", "bewindvoerder",
                        "--recorded-by", "Anna de Vries", "--reference", "C/10/123456")
    assert code == 0
    added = json.loads(out)
    assert (added["capacity"], added["ended_at"], added["reference"]) == (
        "bewindvoerder", None, "C/10/123456")
    assert anna.bsn not in out and bewind.bsn not in out  # ids and capacity only
    code, out, _ = _run(capsys, "representatives", "list", "--bsn", anna.bsn)
    assert code == 0 and [r["id"] for r in json.loads(out)] == [added["id"]]
    code, out, _ = _run(capsys, "representatives", "end", added["id"])
    assert code == 0 and json.loads(out)["ended_at"] is not None
    code, out, _ = _run(capsys, "representatives", "list", "--bsn", anna.bsn)
    assert json.loads(out)[0]["ended_at"] is not None  # kept on record


def test_a_parent_only_for_a_minor(hub_env, capsys):
    adult, parent = person(503), person(504)
    child = dataclasses.replace(person(505), birthdate="2016-02-29")
    register(hub_env, adult, parent, child)
    code, _, err = _run(capsys, "representatives", "add", "--bsn", adult.bsn,
                        "--representative-bsn", parent.bsn, "--capacity", "parent",
                        "--recorded-by", "x", "--reference", "y")
    assert code == 2 and err == "error: capacity: the resident is an adult: no parent or guardian\n"
    code, out, _ = _run(capsys, "representatives", "add", "--bsn", child.bsn,
                        "--representative-bsn", parent.bsn, "--capacity", "parent",
                        "--recorded-by", "x", "--reference", "y")
    assert code == 0
    # Born on 29 February: 18 on 1 March 2034, midnight Dutch time.
    assert json.loads(out)["valid_until"] == "2034-02-28T23:00:00+00:00"


@pytest.mark.parametrize(("args", "message"), [
    (["--bsn", "123"], "is not a valid BSN"),
    (["--until", "2027-01-01"], "--until must include a time zone"),
    (["--bsn", "UNREGISTERED"], "not in the resident registry"),
])
def test_add_refuses_with_one_line(hub_env, capsys, args, message):
    anna, other = person(506), person(507)
    register(hub_env, anna)
    base = {"--bsn": anna.bsn, "--representative-bsn": other.bsn, "--capacity": "mentor",
            "--recorded-by": "x", "--reference": "y"}
    given = dict(zip(args[::2], args[1::2], strict=True))
    if given.get("--bsn") == "UNREGISTERED":
        given["--bsn"] = person(508).bsn
    argv = [part for key, value in {**base, **given}.items() for part in (key, value)]
    code, _, err = _run(capsys, "representatives", "add", *argv)
    assert code == 2 and err.startswith("error: ") and message in err
    assert len(err.splitlines()) == 1


def test_end_an_unknown_representation(hub_env, capsys):
    code, _, err = _run(capsys, "representatives", "end", "nope")
    assert code == 2 and "no representation with id 'nope'" in err
