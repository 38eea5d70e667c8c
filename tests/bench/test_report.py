"""docs/performance.md's issue 14 targets: verdicts from the JSON only, never an invented figure.

Fast: no benchmark runs; each test writes the JSON a benchmark would and renders the report.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import common, report


def s(*values: float) -> dict:
    """A summary as bench.common.summary writes it."""
    return common.summary(list(values))


def write(directory: Path, name: str, figures: dict, **extra) -> None:
    machine = {"cpus": 2, "system": "Linux", "python": "3.11",
               "load_average_at_start": [1.0, 1.0, 1.0]}
    (directory / f"{name}.json").write_text(json.dumps(
        {"benchmark": name, "command": f"python -m bench {name}", "machine": machine,
         "figures": figures, "notes": [], **extra}))


@pytest.fixture
def results(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    return tmp_path


def targets(doc: str) -> dict[str, str]:
    """Target row text (first cell) -> its verdict cell."""
    section = doc.split("## Targets (issue 14)", 1)[1].split("\n## ", 1)[0]
    rows = [line.split(" | ") for line in section.splitlines() if line.startswith("| ")]
    return {row[0].removeprefix("| "): row[-1].removesuffix(" |") for row in rows[2:]}


def test_without_results_every_target_is_not_measured(results):
    verdicts = targets(report.render())
    assert len(verdicts) >= 8
    assert set(verdicts.values()) == {"not measured"}


def ingest_mode(hub: float, peer: float) -> dict:
    def server(rate: float, delivered: bool = True) -> dict:
        figures = {"rate": s(rate, rate, rate), "p50": s(0.01, 0.01, 0.01),
                   "p99": s(0.1, 0.1, 0.1)}
        return figures | ({"delivered_rate": s(rate, rate, rate)} if delivered else {})
    ratio = hub / peer
    return {"bare": server(1000, delivered=False), "hub": server(hub), "peer": server(peer),
            "ratio_hub_bare": s(0.1, 0.1, 0.1), "ratio_hub_peer": s(ratio, ratio, ratio),
            "ratio_hub_peer_delivered": s(ratio, ratio, ratio)}


def test_delivered_target_is_judged_per_mode_from_the_ratio(results):
    write(results, "ingest", {"embedded": ingest_mode(840, 200),
                              "postgres+rabbitmq": ingest_mode(300, 200)},
          runs={}, seconds=5, connections=16)
    verdicts = targets(report.render())
    assert verdicts["Delivered to the inbox ≥ 4× the peer, embedded"] == "**met**"
    assert verdicts["Delivered to the inbox ≥ 4× the peer, postgres+rabbitmq"] == "**not met**"


def test_the_machines_speed_is_named_by_the_bare_endpoint(results):
    assert "How fast the machine was" not in report.render()
    write(results, "ingest", {"embedded": ingest_mode(840, 200)}, runs={}, seconds=5,
          connections=16)
    assert "the bare FastAPI endpoint of section 1 answered 1,000 requests/s" in \
        report.render()


def test_worker_curve_must_rise_at_each_of_1_2_4(results):
    def curve(*rates: float) -> dict:
        return {"steps": [1, 2, 4], "delivered_rate": {str(w): s(r, r, r) for w, r in
                                                       zip((1, 2, 4), rates, strict=True)},
                "rate": {str(w): s(1, 1, 1) for w in (1, 2, 4)},
                "ratio_to_first": {"2": s(1, 1, 1), "4": s(1, 1, 1)}}
    write(results, "workers", curve(30, 50, 70), seconds=5, connections=16)
    row = next(v for k, v in targets(report.render()).items() if "(under ingest" in k)
    assert row == "**met**"
    write(results, "workers", curve(30, 50, 40), seconds=5, connections=16)
    row = next(v for k, v in targets(report.render()).items() if "(under ingest" in k)
    assert row == "**not met**"


def test_the_worker_curve_gives_the_cpu_each_message_cost_when_measured(results):
    figures = {"steps": [1, 2], "delivered_rate": {"1": s(30, 30, 30), "2": s(20, 20, 20)},
               "rate": {"1": s(1, 1, 1), "2": s(1, 1, 1)}, "ratio_to_first": {"2": s(1, 1, 1)},
               "cpu_ms_per_message": {"1": s(1.05, 1.1, 1.2), "2": s(1.9, 2.0, 2.1)},
               "machine_cpu_ms_per_message": {"1": s(1.75, 1.8, 1.9), "2": s(2.7, 2.8, 2.9)}}
    write(results, "workers", figures, seconds=5, connections=16)
    rows = [line for line in report.render().splitlines() if line.startswith(("| 1 |", "| 2 |"))]
    assert rows[0].endswith("| **1.10** (1.05–1.20) | **1.80** (1.75–1.90) |"), rows
    assert rows[1].endswith("| **2.00** (1.90–2.10) | **2.80** (2.70–2.90) |"), rows
    del figures["cpu_ms_per_message"], figures["machine_cpu_ms_per_message"]
    write(results, "workers", figures, seconds=5, connections=16)  # a result from before
    rows = [line for line in report.render().splitlines() if line.startswith("| 1 |")]
    assert rows[0].endswith("| – | – |"), rows


def test_the_million_line_batch_is_read_from_batch_json_not_estimated(results):
    hub = {"lines_per_second": s(2000, 2000, 2000), "peak_mib": s(90, 90, 90),
           "growth_mib": s(5, 5, 5)}
    figures = {"hub": hub, "baseline": hub, "ratio_hub_baseline": s(1, 1, 1)}
    write(results, "batch", figures, lines=20_000, store="sqlite",
          adapter="bench/batch_adapter.py:import_csv")
    doc = report.render()
    row = next(v for k, v in targets(doc).items() if k.startswith("1,000,000 arrears"))
    assert row == "not measured"
    assert "**Not measured:**" in doc
    hub.update({"routed_per_second": s(8000, 8000, 8000),
                "end_to_end_per_second": s(1600, 1600, 1600),
                "million_seconds": s(170, 170, 170)})
    write(results, "batch", figures, lines=20_000, store="sqlite", routed=True,
          adapter="bench/batch_adapter.py:import_csv")
    doc = report.render()
    row = next(k + v for k, v in targets(doc).items() if k.startswith("1,000,000 arrears"))
    assert row.endswith("**met**")
    assert "extrapolation from 20,000 lines" in doc


def test_the_batch_routed_alongside_the_import_has_a_row_and_a_paragraph_of_its_own(results):
    def batch(million: float) -> dict:
        hub = {"lines_per_second": s(3000, 3000, 3000), "peak_mib": s(90, 90, 90),
               "growth_mib": s(5, 5, 5), "routed_per_second": s(1000, 1000, 1000),
               "end_to_end_per_second": s(1000, 1000, 1000),
               "million_seconds": s(million, million, million),
               "route_cpu_ms_per_message": s(0.9, 0.9, 0.9)}
        return {"hub": hub, "baseline": hub, "ratio_hub_baseline": s(1, 1, 1)}

    write(results, "batch", batch(1300), lines=1_000_000, store="sqlite", routed=True,
          adapter="bench/batch_adapter.py:import_csv")
    doc = report.render()
    assert "routing while the import runs" not in doc and "this way" not in doc
    write(results, "batch_alongside", batch(170), lines=20_000, store="postgres", routed=True,
          alongside=True, adapter="bench/batch_adapter.py:import_csv")
    doc = report.render()
    verdicts = {k: v for k, v in targets(doc).items() if k.startswith("1,000,000 arrears")}
    assert [v for k, v in verdicts.items() if k.endswith("import then routing")] == ["**not met**"]
    assert [v for k, v in verdicts.items()
            if k.endswith("while the import runs")] == ["**met**"]
    section = doc.split("## 9.", 1)[1].split("\n## ", 1)[0]
    assert "| in the inbox (from the import's start to an empty outbox) | **1,000**" in section
    assert "A million lines this way: **2.8**" in section
    assert "extrapolated from 20,000 lines" in section
    # Where the time goes: the routing process's CPU per message, for both ways.
    assert section.count("own CPU per routed message") == 2


def test_each_cheap_win_measured_has_a_row_and_an_older_result_renders_its_own(results):
    win = {"before_cpu_ms": s(0.014, 0.0139, 0.0141), "after_cpu_ms": s(0.0105, 0.0104, 0.0106),
           "cpu_ratio": s(1.3, 1.32, 1.35), "wall_ratio": s(1.4, 1.5, 1.6)}
    write(results, "wins", {"insert_if_absent": win, "insert_many": win})
    section = report.render().split("## Cheap wins taken", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert [row.split("`")[3] for row in rows] == ["insert_if_absent", "insert_many"], rows
    assert rows[1].endswith("| 0.0140 → 0.0105 | **1.32** (1.30–1.35) | **1.50** (1.40–1.60) |")
    write(results, "wins", {"insert_if_absent": win})  # a result from before insert_many
    section = report.render().split("## Cheap wins taken", 1)[1]
    assert [line for line in section.splitlines() if line.startswith("| `")] == rows[:1]
