"""Each benchmark of ``python -m bench`` runs at a tiny size and writes its figures.

Nothing here judges a speed (speed belongs in bench/, never in a timed
assertion): the tests check that a benchmark finishes, writes its JSON with
every figure the report needs, and that the report renders from it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def bench(tmp_path: Path, *args: str, repeat: int = 1, result: str | None = None,
          **hub_settings: str) -> dict:
    """Run ``python -m bench ARGS --repeat N`` with results in tmp_path; the result JSON.

    One repetition by default: the benchmarks that put both cores under load (wrk,
    servers, routing) ran twice here and slowed every other test of the parallel suite.
    The summaries over repetitions (min, median, max) are one shared function; the
    cheap benchmarks run twice (``repeat=2``) and check that each figure keeps both.
    """
    # 25 residents, not 500: the seeding would cost more than the tiny run itself.
    env = {**os.environ, "WIJKHUB_BENCH_RESULTS": str(tmp_path),
           "WIJKHUB_BENCH_DOC": str(tmp_path / "performance.md"),
           "WIJKHUB_BENCH_RESIDENTS": "25", **hub_settings}
    out = subprocess.run([sys.executable, "-m", "bench", *args, "--repeat", str(repeat)],
                         cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=900, check=False)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return json.loads((tmp_path / f"{result or args[0]}.json").read_text())


def _spread(summary: dict, repeat: int = 1) -> None:
    assert summary["n"] == repeat
    assert summary["min"] <= summary["median"] <= summary["max"]


def test_ingest_embedded_measures_hub_and_bare_side_by_side(tmp_path, wrk):
    result = bench(tmp_path, "ingest", "--seconds", "1", "--warmup", "0", "--modes", "embedded",
                   "--no-peer")
    figures = result["figures"]["embedded"]
    for name in ("bare", "hub"):
        _spread(figures[name]["rate"])
        assert figures[name]["rate"]["min"] > 0
        assert figures[name]["errors"]["max"] == 0  # every request was answered 2xx
    _spread(figures["hub"]["delivered_rate"])
    _spread(figures["ratio_hub_bare"])
    assert "peer" not in figures
    # The hub's own processes' CPU per delivered message, and the machine's; not the bare's.
    for cpu in ("cpu_ms_per_message", "machine_cpu_ms_per_message"):
        _spread(figures["hub"][cpu])
        assert figures["hub"][cpu]["min"] > 0
        assert cpu not in figures["bare"]


def test_ingest_embedded_with_a_worker_process_delivers_through_hub_worker(tmp_path, wrk):
    # hub serve without its worker thread: only the hub worker beside it can deliver.
    result = bench(tmp_path, "ingest", "--seconds", "1", "--warmup", "0", "--modes",
                   "embedded+worker", "--no-peer")
    figures = result["figures"]["embedded+worker"]
    _spread(figures["hub"]["delivered_rate"])
    assert figures["hub"]["delivered_rate"]["min"] > 0
    assert figures["hub"]["errors"]["max"] == 0


@pytest.mark.postgres
@pytest.mark.rabbitmq
def test_ingest_on_postgres_and_rabbitmq_includes_the_peer(tmp_path, wrk, postgres_server,
                                                           rabbitmq_server):
    result = bench(tmp_path, "ingest", "--seconds", "1", "--warmup", "0",
                   "--modes", "postgres+rabbitmq")
    figures = result["figures"]["postgres+rabbitmq"]
    for name in ("bare", "hub", "peer"):
        assert figures[name]["errors"]["max"] == 0
    _spread(figures["peer"]["delivered_rate"])
    _spread(figures["ratio_hub_peer"])
    # ``hub serve`` and its ``hub worker`` both counted: more than the API alone would be.
    assert figures["hub"]["cpu_ms_per_message"]["min"] > 0
    assert "cpu_ms_per_message" not in figures["peer"]


def test_end_to_end_gives_percentiles_at_three_levels(tmp_path, wrk):
    result = bench(tmp_path, "e2e", "--messages", "6", "--modes", "embedded", "--no-peer",
                   "--max-seconds", "1")
    figures = result["figures"]["embedded"]
    assert figures["maximum"] > 0
    assert set(figures["levels"]) == {"25%", "50%", "90%"}
    for level in figures["levels"].values():
        _spread(level["p50"])
        assert 0 < level["p50"]["min"] <= level["p99"]["max"]
        # Split at received_at and delivered_at: each stage takes time, none is longer
        # than the whole (the latency runs until the item is seen: routing included).
        for stage in ("to_hub_p50", "in_hub_p50", "routing_p50"):
            _spread(level[stage])
            assert level[stage]["min"] > 0 and level[stage]["max"] <= level["p99"]["max"]
    env = {**os.environ, "WIJKHUB_BENCH_RESULTS": str(tmp_path),
           "WIJKHUB_BENCH_DOC": str(tmp_path / "performance.md")}
    subprocess.run([sys.executable, "-m", "bench", "report"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=120)
    stages = (tmp_path / "performance.md").read_text().split("Where a hub message's time")[1]
    assert "| embedded to the hub | embedded in the hub | embedded routing |" in stages


def test_batch_compares_the_hub_with_parse_and_insert(tmp_path):
    result = bench(tmp_path, "batch", "--lines", "120")
    figures = result["figures"]
    for name in ("hub", "baseline"):
        _spread(figures[name]["lines_per_second"])
        assert figures[name]["peak_mib"]["min"] > 0
    assert result["adapter"] == "bench/batch_adapter.py:import_csv"


@pytest.mark.parametrize(("store", "how"), [
    ("sqlite", "after"), ("sqlite", "alongside"),
    pytest.param("postgres", "after", marks=pytest.mark.postgres),
    pytest.param("postgres", "alongside", marks=pytest.mark.postgres)])
def test_batch_routes_every_line_to_the_inbox_and_reports_the_million(tmp_path, store, how,
                                                                     request):
    if store == "postgres":
        request.getfixturevalue("postgres_server")
    alongside = ["--alongside"] if how == "alongside" else []
    # Chunks of 20 lines: the import commits twice, so a worker beside it has a commit to
    # route before the last one; it polls every 0.1 s for another process's commits on
    # SQLite (hub serve: every 2 s, HUB_WORKER_POLL_SECONDS).
    result = bench(tmp_path, "batch", "--lines", "40", "--route", *alongside, "--store", store,
                   result="batch_alongside" if alongside else "batch",
                   HUB_BATCH_CHUNK_LINES="20", HUB_WORKER_POLL_SECONDS="0.1")
    hub = result["figures"]["hub"]
    for figure in ("lines_per_second", "routed_per_second", "end_to_end_per_second",
                   "million_seconds", "route_cpu_ms_per_message"):
        _spread(hub[figure])
    # Every line was stored and routed (the benchmark refuses a run where one was not).
    assert result["store"] == store and result["routed"] is True
    assert result["alongside"] is (how == "alongside")
    assert hub["million_seconds"]["min"] > 0
    assert "extrapolated" in result["notes"][0]
    if how == "alongside":
        # One figure for the whole: the time to the inbox is the time to route.
        assert hub["end_to_end_per_second"] == hub["routed_per_second"]
        assert "while the import ran" in result["notes"][0]


def test_decisions_keep_every_round_and_the_ratio(tmp_path):
    result = bench(tmp_path, "decisions", "--sizes", "50", "150", "--decisions", "40",
                   repeat=2)
    for mode in ("uncached", "cached"):
        for key in ("50", "150", "ratio"):
            _spread(result["figures"][mode][key], repeat=2)


@pytest.mark.rabbitmq
def test_broker_limits(tmp_path, rabbitmq_server):
    result = bench(tmp_path, "broker", "--messages", "50", repeat=2)
    for figure in ("publish_confirm_each", "publish_confirm_batches", "consume_ack_each"):
        _spread(result["figures"][figure], repeat=2)


def test_wins_measure_before_and_after(tmp_path):
    result = bench(tmp_path, "wins", "--messages", "200", repeat=2)
    for win in ("insert_if_absent", "insert_many"):
        _spread(result["figures"][win]["cpu_ratio"], repeat=2)


def test_profile_names_paths_and_the_report_renders(tmp_path, wrk, py_spy):
    result = bench(tmp_path, "profile", "--seconds", "2", "--modes", "embedded")
    paths = result["figures"]["embedded"]
    assert {"ingest", "delivery"} <= set(paths)
    assert paths["delivery"]["functions"], "no hub function sampled on the delivery path"
    env = {**os.environ, "WIJKHUB_BENCH_RESULTS": str(tmp_path),
           "WIJKHUB_BENCH_DOC": str(tmp_path / "performance.md")}
    subprocess.run([sys.executable, "-m", "bench", "report"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=120)
    doc = (tmp_path / "performance.md").read_text()
    assert "## 7. Where the time goes" in doc
    assert "_No result: run `python -m bench ingest`._" in doc  # only the profile ran here


@pytest.mark.postgres
@pytest.mark.rabbitmq
def test_chain_runs_both_codes_and_counts_per_message(tmp_path, postgres_server,
                                                       rabbitmq_server):
    # One repetition: chain keeps each repetition as a run of its own (no summary over
    # them), and every run costs a schema, a virtual host and a worker per code.
    result = bench(tmp_path, "chain", "--messages", "6", "--workers", "1",
                   "--count-messages", "2")
    figures = result["figures"]
    assert [run["workers"] for run in figures["runs"]] == [1]
    for run in figures["runs"]:
        for code in ("before", "after"):
            assert run[code]["per_second"] > 0 and len(run[code]["load"]) == 2
        assert run["ratio"] > 0
    for code in ("before", "after"):
        counts = figures["counts"][code]
        assert counts["messages"] == 2
        assert counts["worker"]["commits"] >= 1 and counts["worker"]["statements"] > 0
        assert counts["worker"]["signatures"] >= 1  # every routed arrears is disclosed
    assert figures["counts"]["after"]["worker"]["pings"] == 0


def test_costs_count_every_seal_and_the_batched_route_stays_set_based(tmp_path):
    result = bench(tmp_path, "costs", "--messages", "20")
    figures = result["figures"]
    seals = {path: figures[path]["ingest"]["aes_gcm_seals"] for path in ("one_by_one", "batched")}
    # Every accepted message is sealed (its data, its reference) on either path, whichever
    # door of the cipher (seal, or seal_many for a group) it took.
    assert seals["one_by_one"] >= 1 and seals["batched"] == seals["one_by_one"], seals
    for path in ("one_by_one", "batched"):
        assert figures[path]["route"]["aes_gcm_opens"] >= 1.0, path
    # Issue 14: a routed message costs a fraction of a statement in a batch, not ~18.
    assert figures["batched"]["route"]["statements"] < 2
    assert figures["batched"]["route"]["statements"] < figures["one_by_one"]["route"]["statements"]
    # The partner-key check is counted: the former path pays a transaction of its own
    # per message; the batched path re-checks the key once per group, in the group's.
    assert figures["key_lookup"]["transactions"] == 1.0
    assert figures["one_by_one"]["ingest"]["transactions"] == 2.0
    batched = figures["batched"]["ingest_statements"]
    checks = sum(n for text, n in batched.items() if text.startswith("SELECT partner_keys"))
    assert checks == batched["INSERT INTO messages"] >= 1, batched
