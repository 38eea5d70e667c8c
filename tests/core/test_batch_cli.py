"""``hub batch import FILE --partner NAME``: progress bar, summary, and resuming after a kill."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from hub.cli import main
from tests.utils.waiting import wait_until

HEADER = "source_ref,name,birthdate,postcode,huisnummer,bsn,amount_eur,months,since,customer_ref"
CHEAP_KEYS = {"HUB_PARTNER_KEY_TIME_COST": "1", "HUB_PARTNER_KEY_MEMORY_KIB": "8",
              "HUB_PARTNER_KEY_PARALLELISM": "1"}


def _write(path: Path, count: int, *, bad: dict[int, str] | None = None) -> Path:
    bad = bad or {}
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(HEADER + "\n")
        for n in range(count):
            fh.write(bad.get(n, f"E-{n},Klant Geheim{n},,3317AB,{n % 900 + 1},,"
                                f"{n % 500 + 10}.00,2,2026-08-01,EV-{n}") + "\n")
    return path


@pytest.fixture
def hub_dir(migrated_data_dir, monkeypatch, capsys) -> Path:
    """A data directory with the partner Evides, for commands run in this process."""
    data = migrated_data_dir
    monkeypatch.setenv("HUB_DATA_DIR", str(data))
    for name, value in CHEAP_KEYS.items():
        monkeypatch.setenv(name, value)
    assert main(["partner", "add", "--name", "Evides", "--kind", "evides",
                 "--endpoint", "https://evides.example/api"]) == 0
    capsys.readouterr()
    return data


def _db(data: Path) -> sqlite3.Connection:
    return sqlite3.connect(data / "hub.sqlite3")


def _stored(data: Path) -> tuple[int, int, int]:
    with _db(data) as conn:
        return conn.execute("select (select count(*) from messages), "
                            "(select count(distinct source_ref) from messages), "
                            "(select count(*) from outbox)").fetchone()


def test_import_shows_a_progress_bar_and_prints_the_counts(hub_dir, tmp_path, capsys):
    path = _write(tmp_path / "evides.csv", 40)
    assert main(["batch", "import", str(path), "--partner", "Evides"]) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert (summary["status"], summary["total"], summary["accepted"], summary["rejected"]) == \
        ("done", 40, 40, 0)
    # stderr is not a terminal here: the bar is still drawn, and holds counts only.
    assert "signal.arrears.water" in err and "40/40" in err and "100%" in err
    assert "Geheim" not in err and "EV-" not in err
    assert _stored(hub_dir) == (40, 40, 40)


def test_the_same_file_again_imports_nothing(hub_dir, tmp_path, capsys):
    path = _write(tmp_path / "evides.csv", 12)
    main(["batch", "import", str(path), "--partner", "Evides"])
    first = json.loads(capsys.readouterr().out)
    assert main(["batch", "import", str(path), "--partner", "Evides"]) == 0
    out, err = capsys.readouterr()
    again = json.loads(out)
    assert again["batch_id"] == first["batch_id"] and again["imported_before"] is True
    assert (again["total"], again["accepted"], again["duplicates"]) == (12, 12, 0)
    assert "imported before" in err
    assert _stored(hub_dir) == (12, 12, 12)


def test_refused_lines_are_listed_by_line_and_column_and_exit_1(hub_dir, tmp_path, capsys):
    path = _write(tmp_path / "evides.csv", 5, bad={
        1: "E-1,Klant Geheim1,,3317AB,2,,veel,2,2026-08-01,EV-1",
        3: "E-3,Klant Geheim3,,3317AB"})
    assert main(["batch", "import", str(path), "--partner", "Evides", "--no-progress"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["rejected"] == 2
    assert "line 3: amount_eur" in err and "line 5: line has 4 columns" in err
    assert "veel" not in err and "Geheim" not in err


@pytest.mark.parametrize(("content", "message"), [
    (b"source_ref,naam\nE-1,x\n", "header"),
    ((HEADER + "\nE-1,J\xe9r\xf4me,,3317AB,1,,1.00,1,2026-08-01,EV-1\n").encode("latin-1"),
     "UTF-8"),
    (b"", "empty"),
])
def test_a_bad_file_is_refused_in_one_line_and_nothing_stored(hub_dir, tmp_path, capsys,
                                                            content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    assert main(["batch", "import", str(path), "--partner", "Evides"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert _stored(hub_dir) == (0, 0, 0)
    with _db(hub_dir) as conn:
        assert conn.execute("select count(*) from batches").fetchone() == (0,)


def test_an_unknown_partner_is_refused(hub_dir, tmp_path, capsys):
    path = _write(tmp_path / "evides.csv", 2)
    assert main(["batch", "import", str(path), "--partner", "Vitens"]) == 2
    assert "no partner named 'Vitens'" in capsys.readouterr().err


@pytest.mark.slow
def test_killed_halfway_and_started_again_every_line_is_stored_once(hub_dir, tmp_path):
    # Large enough that the kill lands mid-file: the import runs at several thousand
    # lines a second (3,000 lines were sometimes done before the kill arrived).
    lines = 12_000
    path = _write(tmp_path / "evides.csv", lines)
    env = {**os.environ, "HUB_DATA_DIR": str(hub_dir), "HUB_BATCH_CHUNK_LINES": "50",
           **CHEAP_KEYS}
    command = [sys.executable, "-m", "hub.cli", "batch", "import", str(path),
               "--partner", "Evides"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
    try:
        def a_quarter_done() -> bool:
            with _db(hub_dir) as conn:
                row = conn.execute("select lines_done from batches").fetchone()
            return bool(row) and row[0] > lines // 4

        # Stops waiting when the import ends on its own: the assertion below says so.
        with contextlib.suppress(AssertionError):
            wait_until(a_quarter_done, "the import did not get a quarter done",
                       stop=lambda: process.poll() is not None)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL, "the import finished before it was killed"
    with _db(hub_dir) as conn:
        (at_kill, status) = conn.execute("select lines_done, status from batches").fetchone()
    assert status == "running" and lines // 4 < at_kill < lines
    stored_at_kill = _stored(hub_dir)
    assert stored_at_kill[0] == stored_at_kill[1] == at_kill - 1  # whole chunks only

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600,
                           check=False)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    print(f"\nkilled after line {at_kill} of {lines + 1}; second run: {summary}")
    assert summary["resumed_after_line"] == at_kill
    assert (summary["status"], summary["total"], summary["accepted"], summary["duplicates"],
            summary["rejected"]) == ("done", lines, lines, 0, 0)
    assert f"continuing batch {summary['batch_id']} after line {at_kill}" in again.stderr
    assert _stored(hub_dir) == (lines, lines, lines)
    with _db(hub_dir) as conn:
        assert conn.execute("select count(*) from batches").fetchone() == (1,)


def test_the_command_leaves_the_ingest_log_level_as_it_found_it(hub_dir, tmp_path):
    import logging

    ingest = logging.getLogger("hub.core.ingest")
    before = ingest.level
    main(["batch", "import", str(_write(tmp_path / "evides.csv", 2)), "--partner", "Evides",
          "--no-progress"])
    assert ingest.level == before
