"""The benchmark harness still works: each scenario runs once at a tiny size (never timed).

Benchmarks are not tests: nothing here asserts a time. These runs only prove that the harness,
the floors and every ``benchmarks/bench_*.py`` scenario still execute and write a well-formed
run record, so the benchmarks cannot rot between the runs that matter.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

FLOORS = {
    "floors/F1@asyncio",
    "floors/F1@uvloop",
    "floors/F2@asyncio",
    "floors/F2@uvloop",
    "floors/F3@asyncio",
    "floors/F3@uvloop",
    "floors/F4@asyncio",
    "floors/F4@uvloop",
    "floors/anyio-stream@asyncio",
    "floors/anyio-stream@uvloop",
    "floors/C0",
    "floors/C1",
    "floors/P0",
}


def _import(name: str) -> ModuleType:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(name)


def _run(tmp_path: Path, *args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--no-docs",
            "--results-dir",
            str(tmp_path),
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    document: dict[str, Any] = json.loads((tmp_path / "latest.json").read_text())
    assert len(list(tmp_path.glob("2*.json"))) == 1  # the dated copy of latest.json
    assert (tmp_path / "latest.md").read_text().startswith("### Throughput")
    return document


def _assert_well_formed(document: dict[str, Any]) -> None:
    assert document["schema"] == 1
    assert document["settings"]["quick"] is True
    env = document["environment"]
    for key in ("python", "cpu_model", "cores", "packages", "git", "command"):
        assert key in env
    assert env["loadavg_before"] is not None
    for result in document["results"]:
        assert result["status"] in ("ok", "skipped"), result["errors"]
        if result["status"] == "skipped":
            continue
        stats = result["per_event_us"]
        assert stats["n"] == len(result["reps"]) == document["settings"]["reps"]
        assert 0 < stats["min"] <= stats["median"] <= stats["max"]
        if result["floor_id"]:
            assert result["ratio"]["floor"] == result["floor_id"]
            assert len(result["ratio"]["samples"]) == stats["n"]  # paired per repetition


def test_floors_quick_run(tmp_path: Path) -> None:
    document = _run(tmp_path, "--only", "floors", "--no-chart")
    _assert_well_formed(document)
    by_id = {r["id"]: r for r in document["results"]}
    uvloop_missing = {d["id"] for d in document["dropped"]}
    assert set(by_id) | uvloop_missing == FLOORS
    assert by_id["floors/F2@asyncio"]["ratio"]["floor"] == "floors/F1@asyncio"
    f3 = by_id["floors/F3@asyncio"]["percentiles"]
    assert f3["status"] == "ok"
    assert f3["p50"]["median"] <= f3["p99"]["median"] <= f3["p99.9"]["median"]


def _scenarios() -> list[str]:
    return sorted(p.stem for p in (ROOT / "benchmarks").glob("bench_*.py"))


@pytest.mark.parametrize("scenario", _scenarios())
def test_scenario_quick_run(tmp_path: Path, scenario: str) -> None:
    document = _run(tmp_path, "--only", scenario, "--reps", "1", "--no-chart")
    _assert_well_formed(document)
    module = _import(f"benchmarks.{scenario}")
    for config in module.CONFIGS:
        assert config.id in {r["id"] for r in document["results"]}


def test_targets_are_paired_ratios() -> None:
    harness = _import("benchmarks.harness")
    floor = harness.Config(scenario="floors", name="FX", fn="m:f")
    mine = harness.Config(
        scenario="demo",
        name="x",
        fn="m:g",
        target=("FX", 2.0),
        targets=(harness.Target("FX", 1.5, "p50"),),
    )
    assert mine.floor == mine.latency_floor == "FX"

    def reps(values: list[float], p50: list[float]) -> list[dict[str, Any]]:
        return [
            {"rep": i, "status": "ok", "per_event_us": v, "percentiles_us": {"p50": p}}
            for i, (v, p) in enumerate(zip(values, p50, strict=True))
        ]

    throughput = {
        floor.id: reps([1.0, 2.0, 4.0], [1, 1, 1]),
        mine.id: reps([1.5, 5.0, 6.0], [1, 1, 1]),
    }
    latency = {
        floor.id: reps([1, 1, 1], [1.0, 1.0, 1.0]),
        mine.id: reps([1, 1, 1], [1.0, 2.0, 2.0]),
    }
    blocks = harness._target_blocks(mine, [floor, mine], throughput, latency)
    per_event, p50 = blocks
    assert per_event["ratio"]["samples"] == [1.5, 2.5, 1.5]  # paired: 1.5/1, 5/2, 6/4
    assert per_event["ratio"]["median"] == 1.5
    assert per_event["status"] == "pass"
    assert p50["ratio"]["median"] == 2.0
    assert p50["status"] == "miss"
    document = {"results": [{"id": mine.id, "targets": blocks}]}
    (line,) = harness.check(document)
    assert line.startswith("MISS: demo/x@asyncio: p50 <= 1.5x FX")


def test_only_adds_the_floors_a_scenario_needs() -> None:
    harness = _import("benchmarks.harness")
    run_all = _import("benchmarks.run_all")
    floors = [
        harness.Config(scenario="floors", name="F1", fn="m:f1"),
        harness.Config(scenario="floors", name="F2", fn="m:f2", floor="F1"),
        harness.Config(scenario="floors", name="F9", fn="m:f9"),
    ]
    demo = [harness.Config(scenario="demo", name="x", fn="m:x", target=("F2", 4.0))]
    chosen = run_all.select({"floors": floors, "bench_demo": demo}, ["demo"])
    assert [c.id for c in chosen] == ["floors/F1@asyncio", "floors/F2@asyncio", "demo/x@asyncio"]


def test_self_targets_and_verdicts() -> None:
    """p99/p50 ('tail') and absolute us/event targets need no floor; --check prints margins."""
    harness = _import("benchmarks.harness")
    with pytest.raises(ValueError, match="percentiles=True"):
        harness.Config(scenario="demo", name="t", fn="m:f", target=harness.Target("", 2.0, "tail"))
    with pytest.raises(ValueError, match="floor must be empty"):
        harness.Target("F3", 2.0, "tail")
    with pytest.raises(ValueError, match="floor must be empty"):
        harness.Target("", 2.0, "p50")
    mine = harness.Config(
        scenario="demo",
        name="x",
        fn="m:g",
        percentiles=True,
        targets=(harness.Target("", 2.0, "tail"), harness.Target("", 4.0, "us")),
    )
    assert mine.floor is None
    assert mine.latency_floor is None
    assert mine.floor_refs() == set()
    throughput = {
        mine.id: [
            {"rep": i, "status": "ok", "per_event_us": v} for i, v in enumerate([3.0, 5.0, 6.0])
        ]
    }
    latency = {
        mine.id: [
            {"rep": i, "status": "ok", "percentiles_us": {"p50": 2.0, "p99": p99}}
            for i, p99 in enumerate([3.0, 3.0, 9.0])
        ]
    }
    tail, absolute = harness._target_blocks(mine, [mine], throughput, latency)
    assert tail["ratio"]["samples"] == [1.5, 1.5, 4.5]
    assert tail["status"] == "pass"
    assert absolute["ratio"]["median"] == 5.0
    assert absolute["status"] == "miss"
    document = {"results": [{"id": mine.id, "targets": [tail, absolute]}]}
    lines = harness.verdicts(document)
    assert lines[0].startswith("PASS: demo/x@asyncio: p99/p50 <= 2: 1.50x")
    assert "25% under the bar" in lines[0]
    assert lines[1].startswith("MISS: demo/x@asyncio: <= 4 us/event: 5.00 us")
    assert "1.25x the bar (25% over)" in lines[1]
    assert harness.check(document) == lines[1:]


@pytest.mark.skipif(importlib.util.find_spec("taskiq") is None, reason="taskiq not installed")
def test_peer_comparison_table(tmp_path: Path) -> None:
    """The warm invoke's p50/p99 sit beside taskiq's request/response, ratios paired per rep."""
    document = _run(
        tmp_path,
        "--only",
        "warm_invoke/async",
        "--only",
        "taskiq/request-response",
        "--reps",
        "1",
        "--no-chart",
    )
    _assert_well_formed(document)
    by_id = {r["id"]: r for r in document["results"]}
    peers = by_id["warm_invoke/async@asyncio"]["peers"]
    assert [p["peer_id"] for p in peers] == ["taskiq/request-response@asyncio"]
    assert peers[0]["latency_ratios"]["p50"]["samples"]
    assert "### Compared with peers" in (tmp_path / "latest.md").read_text()


def test_profile_tool_runs() -> None:
    """The profiling tool's ablation child still runs (a candidate whose source moved on
    reports 'mismatch': that is information for whoever re-runs it, not a failure)."""
    for scenario, candidate in (("warm", "warm-all"), ("cold-callable", "cold-all")):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.profile_hot_path",
                "_child",
                scenario,
                candidate,
                "--seconds",
                "0.01",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        line = json.loads(proc.stdout.strip().splitlines()[-1])
        assert line["status"] in ("ok", "mismatch"), line
