"""The decision benchmark runs (tiny sizes): the figures and their ratio are printed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "consent_decisions.py"


def test_the_benchmark_prints_both_figures_and_their_ratio():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--sizes", "40", "120", "--decisions", "60",
         "--repeat", "1", "--working-set", "10"],
        capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for residents in ("40", "120"):
        for mode in ("uncached", "cached"):
            assert re.search(rf"^\s+{residents} residents\s+{mode}\s+[\d,]+ decisions/s$", out,
                             re.MULTILINE), out
    assert re.search(r"ratio 120 / 40 residents", out), out
    assert len(re.findall(r"^\s+(uncached|cached)\s+\d+\.\d\d$", out, re.MULTILINE)) == 2, out
    # Both reads of a decision use an index, at any size.
    assert out.count("USING INDEX") == 4, out


def test_the_benchmark_refuses_a_single_size():
    result = subprocess.run([sys.executable, str(SCRIPT), "--sizes", "40"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "two or more positive sizes" in result.stderr
