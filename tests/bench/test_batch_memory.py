"""The batch memory benchmark runs (tiny sizes): both figures per size and their ratios."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "batch_memory.py"


def test_the_benchmark_prints_peaks_speed_and_ratios_and_writes_json():
    result = subprocess.run([sys.executable, str(SCRIPT), "--sizes", "20", "60"],
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for lines in ("20", "60"):
        assert re.search(rf"^\s+{lines} lines \(.*\): tracemalloc peak [\d.]+ MiB, "
                         rf"peak RSS [\d.]+ MiB \(\+[\d.]+ MiB during the import\), "
                         rf"[\d,]+ lines/s$", out, re.MULTILINE), out
    assert "ratio 60 / 20 lines" in out, out
    assert re.search(r"^\s+tracemalloc peak\s+\d+\.\d\d$", out, re.MULTILINE), out
    assert re.search(r"^\s+peak RSS\s+\d+\.\d\d$", out, re.MULTILINE), out
    written = Path(re.search(r"written to (\S+)", out).group(1))
    try:
        saved = json.loads(written.read_text())
        assert [s["lines"] for s in saved["sizes"]] == [20, 60]
        assert all(s["accepted"] == s["lines"] for s in saved["sizes"])
    finally:
        written.unlink()


def test_the_benchmark_refuses_a_single_size():
    result = subprocess.run([sys.executable, str(SCRIPT), "--sizes", "40"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "two or more positive sizes" in result.stderr


@pytest.mark.postgres
def test_the_benchmark_runs_on_postgres(postgres_server):
    result = subprocess.run([sys.executable, str(SCRIPT), "--sizes", "20", "40",
                             "--store", "postgres", "--no-tracemalloc"],
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr
    written = Path(re.search(r"written to (\S+)", result.stdout).group(1))
    try:
        saved = json.loads(written.read_text())
        assert saved["store"] == "postgres"
        assert [s["accepted"] for s in saved["sizes"]] == [20, 40]
    finally:
        written.unlink()
