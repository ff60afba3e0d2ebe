"""The benchmark harness still works: each scenario runs once at a tiny size (never timed).

Benchmarks are not tests: nothing here asserts a time. These runs only prove that the harness,
the floors and every ``benchmarks/bench_*.py`` scenario still execute and write a well-formed
run record, so the benchmarks cannot rot between the runs that matter.
"""

from __future__ import annotations

import importlib
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
