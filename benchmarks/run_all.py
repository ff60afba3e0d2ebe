"""Run every benchmark scenario: ``python -m benchmarks [--quick] [--check] [--only NAME]``.

Scenarios are the modules ``benchmarks/floors.py`` and ``benchmarks/bench_*.py``, each exposing
``CONFIGS`` (a list of :class:`benchmarks.harness.Config`). ``--only`` selects scenarios (by
scenario name or module name) or single configs (``scenario/name``); the floors the selection is
compared with are always added, so every ratio is paired within the run.

Writes ``<results-dir>/<stamp>.json``, ``latest.json``, ``latest.md`` and ``latest.png``, prints
the table, and renders ``docs/benchmarks.md`` after a full (not ``--only``, not ``--quick``) run.
Exit status: 0; 1 with ``--strict`` when a target is missed; 2 when a benchmark failed to run.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from benchmarks import report
from benchmarks.harness import REPO_ROOT, Config, check, resolve_floor, run, verdicts

__all__ = ["discover", "main", "script", "select"]

BENCH_DIR = REPO_ROOT / "benchmarks"


def _scenario_modules() -> list[str]:
    return ["floors", *sorted(p.stem for p in BENCH_DIR.glob("bench_*.py"))]


def discover() -> tuple[dict[str, list[Config]], list[str]]:
    """``({module name: configs}, [import errors])`` for every scenario module."""
    found: dict[str, list[Config]] = {}
    errors: list[str] = []
    for name in _scenario_modules():
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except Exception:
            errors.append(f"benchmarks/{name}.py failed to import:\n{traceback.format_exc()}")
            continue
        configs = list(getattr(module, "CONFIGS", []))
        bad = [c for c in configs if not isinstance(c, Config)]
        if bad:
            errors.append(f"benchmarks/{name}.py: CONFIGS holds non-Config items: {bad[:3]!r}")
            continue
        found[name] = configs
    return found, errors


def _matches(pattern: str, module: str, config: Config) -> bool:
    if "/" in pattern:
        return config.id == pattern or config.id.startswith(pattern + "@")
    return pattern in (module, module.removeprefix("bench_"), config.scenario)


def select(modules: dict[str, list[Config]], only: Sequence[str]) -> list[Config]:
    """The configs ``only`` names (all when empty) plus, transitively, the floors they need."""
    everything = [c for configs in modules.values() for c in configs]
    if not only:
        return everything
    names = {n for m in modules for n in (m, m.removeprefix("bench_"))}
    unknown = [
        p
        for p in only
        if p not in names and not any(_matches(p, m, c) for m, cs in modules.items() for c in cs)
    ]
    if unknown:
        raise SystemExit(f"--only: no scenario or config named {', '.join(unknown)}")
    chosen = [c for m, cs in modules.items() for c in cs if any(_matches(p, m, c) for p in only)]
    ids = {c.id for c in chosen}
    todo = list(chosen)
    while todo:
        config = todo.pop()
        for ref in sorted(config.floor_refs()):
            floor = resolve_floor(config, ref, everything)
            if floor is not None and floor.id not in ids:
                ids.add(floor.id)
                todo.append(floor)
    # Keep discovery order: floors first, then scenarios as their modules list them.
    return [c for c in everything if c.id in ids]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, 2 reps: a smoke run")
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="a scenario (floors, taskiq, bench_taskiq) or config (floors/F2); repeatable",
    )
    p.add_argument(
        "--reps", type=int, help="repetitions of the throughput pass (default 5, quick 2)"
    )
    p.add_argument("--percentile-reps", type=int, help="repetitions of the percentile pass")
    p.add_argument("--seconds", type=float, help="measured time per process (default 0.3 s)")
    p.add_argument("--check", action="store_true", help="compare ratios with targets, list misses")
    p.add_argument("--strict", action="store_true", help="exit 1 when --check finds a miss")
    p.add_argument(
        "--results-dir",
        type=Path,
        help="where the JSON/table/chart go (default benchmarks/results, quick: .../quick)",
    )
    p.add_argument(
        "--docs",
        type=Path,
        help="render this docs page (default: docs/benchmarks.md after a full run only)",
    )
    p.add_argument("--no-docs", action="store_true", help="never render the docs page")
    p.add_argument("--no-chart", action="store_true", help="skip the PNG chart")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per child process")
    p.add_argument("--list", action="store_true", help="list the configs and exit")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    modules, import_errors = discover()
    for error in import_errors:
        print(error, file=sys.stderr)
    configs = select(modules, args.only)
    if args.seconds is not None:
        configs = [
            dataclasses.replace(c, params={**c.params, "seconds": args.seconds}) for c in configs
        ]
    if args.list:
        for c in configs:
            floor = f" (floor {c.floor})" if c.floor else ""
            print(f"{c.id:<36} {c.fn}{floor}")
        return 0
    if not configs:
        print("no benchmark configs selected", file=sys.stderr)
        return 2 if import_errors else 0
    reps = args.reps or (2 if args.quick else 5)
    command = [sys.executable, "-m", "benchmarks", *(argv if argv is not None else sys.argv[1:])]
    document = run(
        configs,
        reps=reps,
        percentile_reps=args.percentile_reps or (1 if args.quick else None),
        quick=args.quick,
        timeout=args.timeout,
        command=command,
    )
    document["import_errors"] = import_errors
    results_dir = args.results_dir or (
        report.DEFAULT_RESULTS / "quick" if args.quick else report.DEFAULT_RESULTS
    )
    paths = report.write_results(document, results_dir, draw=not args.no_chart)
    print(report.markdown(document))
    for kind, path in paths.items():
        print(f"{kind}: {path}", file=sys.stderr)
    full_run = not args.only and not args.quick
    if not args.no_docs and (args.docs or full_run):
        docs = report.render_docs(paths["latest"], args.docs or report.DEFAULT_DOCS)
        print(f"docs: {docs}", file=sys.stderr)
    misses = check(document)
    if args.check:
        lines = verdicts(document)
        met = sum(1 for line in lines if line.startswith("PASS"))
        print("\n".join(lines))
        print(
            f"check: {len(lines)} targets, {met} met, {len(misses)} missed or not measured"
            if lines
            else "check: no targets in this run"
        )
    failed = [r for r in document["results"] if r["errors"]]
    for r in failed:
        first = r["errors"][0]
        print(
            f"\n{r['id']} failed: {first['error']}\n{first['traceback'] or first['stderr']}",
            file=sys.stderr,
        )
    if failed or import_errors:
        names = ", ".join(r["id"] for r in failed) or "-"
        print(f"benchmarks that failed to run: {names}", file=sys.stderr)
        return 2
    return 1 if (args.strict and misses) else 0


def script(scenario: str) -> NoReturn:
    """What a scenario module runs under ``python -m benchmarks.<module>``: only itself."""
    raise SystemExit(main(["--only", scenario, *sys.argv[1:]]))


if __name__ == "__main__":
    raise SystemExit(main())
