"""bench/run.py, the one benchmark command, at tiny sizes: it runs on both databases and its
figures hold together (every change reached national, every rate and percentile is real).
Every benchmark command answers a mistake in its flags with one line before measuring."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.postgres import require_postgres

ROOT = Path(__file__).resolve().parents[1]


def _bench(script: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """`bench/<script>` with `args`, as a person runs it, its output captured."""
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_bench_runs_on_sqlite_and_postgresql(tmp_path: Path) -> None:
    require_postgres()
    out = tmp_path / "bench.json"
    run = _bench(
        "run.py",
        *("--residents", "300", "--changes", "60", "--per-call", "20"),
        *("--queries", "20", "--link-calls", "10", "--seal-seconds", "0.01"),
        *("--consistency-residents", "300"),
        *("--json", str(out)),
        timeout=170,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    figures = json.loads(out.read_text())
    for database in ("sqlite", "postgresql"):
        result = figures[database]
        assert f"== {database} ==" in run.stdout
        assert result["p4"]["residents"] == 300 and result["p4"]["bytes_per_resident"] > 0
        one_per_call, batched = result["p1"]
        assert (one_per_call["per_call"], batched["per_call"], batched["changes"]) == (1, 20, 60)
        for hop in ("entered", "at_prefecture", "at_national"):
            assert sum(batched["per_second"][hop]) == 60  # every change, each second counted
        baseline = result["baseline"]
        floors = [baseline[floor][mode] for floor in ("durable_commit", "chained_commit")
                  for mode in ("sequential", "concurrent")]  # fmt: skip
        timed = [
            baseline["sequential"],
            baseline["concurrent"],
            *floors,
            *result["p2"].values(),
            *result["p3"].values(),
            one_per_call["end_to_end"],
            batched["end_to_end"],
        ]
        for figure in timed:
            assert 0 < figure["p50_ms"] <= figure["p99_ms"] and figure["rate_per_s"] > 0
        assert set(result["p2"]) == {
            f"{key} {mode}"
            for key in ("juminhyo_code", "my_number", "four_information")
            for mode in ("sequential", "concurrent")
        }
    assert figures["tracing"]["span_us"] > 0 and figures["sealing"]
    layers = figures["layers"]  # each stack the one before with one layer more
    assert [row["layer"] for row in layers][:2] == ["bare", "+ unexpected-error guard"]
    assert layers[-1]["layer"] == "+ traced client channel" and len(layers) == 6
    assert all(row["p50_ms"] > 0 and row["cpu_us_per_call"] > 0 for row in layers)
    assert "server layers" in run.stdout
    p5 = figures["p5"]
    assert (p5["equal"]["found"], p5["planted"]["found"], p5["after_repair"]["found"]) == (0, 10, 0)
    assert p5["equal"]["round_trips"] == 1 and p5["planted"]["round_trips"] > 1
    assert p5["full_transfer"]["records"] == 300  # one record per person, the latest
    assert p5["planted"]["bytes"] > 0 and p5["full_transfer"]["bytes"] > 0
    assert "P1 60 changes, 20/call: at national" in run.stdout
    assert "durable_commit concurrent" in run.stdout and "p99 <= 1.5x dc" in run.stdout


def test_grpc_servers_compares_both_kinds_in_processes_of_their_own(tmp_path: Path) -> None:
    out = tmp_path / "servers.json"
    run = _bench(
        "grpc_servers.py", "--calls", "300", "--rounds", "1", "--json", str(out), timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    rows = json.loads(out.read_text())
    assert {(row["server"], row["concurrency"]) for row in rows} == {
        (kind, callers) for kind in ("thread pool", "asyncio") for callers in (1, 16)
    }
    assert all(row["server_cpu_us_per_call"] > 0 and row["rate_per_s"] > 0 for row in rows)
    assert "the thread pool's CPU" in run.stdout


@pytest.mark.parametrize(
    ("script", "given", "answer"),
    [
        ("run.py", ["--databases", "oracle"], "argument --databases: give sqlite or postgresql"),
        ("run.py", ["--databases", "sqlite,sqlite"], "comma-separated, each once"),
        ("run.py", ["--queries", "0"], "argument --queries: must be at least 1"),
        ("run.py", ["--consistency-residents", "3"], "must be at least 8 (P5 changes"),
        ("run.py", ["--json", "{missing}/figures.json"], "there is no folder"),
        ("sealing.py", ["--seconds", "-1"], "argument --seconds: must be above zero"),
        ("replicas.py", ["--residents", "x"], "argument --residents: 'x' is not a whole number"),
        ("grpc_servers.py", ["--calls", "0"], "argument --calls: must be at least 1"),
    ],
)
def test_a_benchmark_command_answers_a_mistake_with_one_line_before_measuring(
    script: str, given: list[str], answer: str, tmp_path: Path
) -> None:
    run = _bench(script, *(a.format(missing=tmp_path / "missing") for a in given), timeout=60)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    (error,) = [line for line in run.stderr.splitlines() if "error:" in line]
    assert answer in error
    assert run.stdout == ""  # nothing was measured
