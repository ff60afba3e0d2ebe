"""The shared benchmark harness: configs, fresh-process runs, paired ratios, the run record.

A :class:`Config` names a function (``"benchmarks.floors:f2_queue"``) that measures one thing in
a child process (see :mod:`benchmarks.measure`). :func:`run` measures a list of configs:

1. **Throughput pass**: ``reps`` repetitions; in each, every config runs once in a *fresh*
   Python process (``python -m benchmarks._child``), configs interleaved and the order rotated
   every repetition so drift on a shared machine lands on all configs alike.
2. **Percentile pass**: afterwards, the same for configs with ``percentiles=True`` (and the
   floors they are compared with), instrumented with a timer call per event.

Ratios are paired per repetition: ``ratio_r = config_r / floor_r`` with both measured in
repetition ``r``, minutes apart at most; the run reports the median and min-max of those ratios.
The returned document is plain JSON (see :mod:`benchmarks.report` for the files and tables).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib
import importlib.metadata
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias

__all__ = [
    "LOOPS",
    "REPO_ROOT",
    "SCHEMA",
    "Config",
    "LoopKind",
    "Metric",
    "Target",
    "check",
    "environment",
    "on_loops",
    "resolve_floor",
    "run",
    "verdicts",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA = 1

LoopKind: TypeAlias = Literal["asyncio", "uvloop", "none"]
#: What a target compares: the throughput number or a percentile from the percentile pass, as a
#: ratio to a floor; or, with no floor, one of the config's own numbers: ``tail`` (its p99/p50)
#: or ``us`` (its median us/event, an absolute bar such as "250k events/s on one core").
Metric: TypeAlias = Literal["per_event", "p50", "p90", "p99", "p99.9", "tail", "us"]
LOOPS: tuple[LoopKind, ...] = ("asyncio", "uvloop")
_METRICS = ("per_event", "p50", "p90", "p99", "p99.9", "tail", "us")
#: Metrics judged on the config alone (``Target.floor`` is ``""``).
_SELF_METRICS = ("tail", "us")
_LATENCY_RATIOS = ("p50", "p99", "p99.9")

Progress: TypeAlias = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Target:
    """``median(metric / floor's metric) <= ratio``, paired per repetition, same loop.

    Two metrics need no floor (``floor=""``): ``tail`` is the config's own p99/p50 per
    repetition (``Target("", 2.0, "tail")``: "p99/p50 <= 2"), ``us`` its median us/event
    (``Target("", 4.0, "us")``: an absolute bar, 250k events/s; machine-dependent, so rare).
    """

    floor: str
    ratio: float
    metric: Metric = "per_event"
    stretch: float | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.metric not in _METRICS:
            raise ValueError(f"Target.metric must be one of {_METRICS}, got {self.metric!r}")
        if not self.ratio > 0:
            raise ValueError(f"Target.ratio must be > 0, got {self.ratio!r}")
        if (self.metric in _SELF_METRICS) != (not self.floor):
            raise ValueError(
                f"Target.floor must be empty exactly for the metrics {_SELF_METRICS} "
                f"(got floor={self.floor!r}, metric={self.metric!r})"
            )

    @property
    def self_metric(self) -> bool:
        """Judged on the config's own numbers, with no floor."""
        return self.metric in _SELF_METRICS

    @property
    def unit(self) -> str:
        return " us" if self.metric == "us" else "x"

    def label(self) -> str:
        """``<= 4x F2`` / ``p99 <= 2x F3`` / ``p99/p50 <= 2`` / ``<= 4 us/event``."""
        if self.metric == "tail":
            return f"p99/p50 <= {self.ratio:g}"
        if self.metric == "us":
            note = f" ({self.note})" if self.note else ""
            return f"<= {self.ratio:g} us/event{note}"
        what = "" if self.metric == "per_event" else f"{self.metric} "
        stretch = f" (stretch {self.stretch:g}x)" if self.stretch else ""
        return f"{what}<= {self.ratio:g}x {self.floor}{stretch}"


TargetSpec: TypeAlias = "Target | tuple[str, float] | tuple[str, float, Metric]"


def _as_target(spec: TargetSpec) -> Target:
    if isinstance(spec, Target):
        return spec
    return Target(*spec)


@dataclass(frozen=True, slots=True)
class Config:
    """One thing to measure.

    ``floor`` names the config the per-event ratio column divides by: a bare name (``"F2"``)
    means the floor of that name in ``benchmarks/floors.py`` (else in this scenario) on the same
    loop; ``"scenario/name"`` names any config. ``latency_floor`` (default: ``floor``) does the
    same for the percentile columns. ``target=("F2", 4.0)`` or ``targets=(Target(...), ...)``
    declare the bar; the first per-event target also sets ``floor`` when it is not given.
    """

    scenario: str
    name: str
    fn: str
    params: Mapping[str, Any] = field(default_factory=dict)
    loop: LoopKind = "asyncio"
    title: str = ""
    floor: str | None = None
    latency_floor: str | None = None
    target: TargetSpec | None = None
    targets: tuple[TargetSpec, ...] = ()
    percentiles: bool = False
    #: Param overrides for ``--quick`` (e.g. a smaller module count).
    quick_params: Mapping[str, Any] = field(default_factory=dict)
    #: Peers shown beside this config (``"taskiq/request-response"``): per-event and p50/p99
    #: ratios paired per repetition, for information. Unlike floors, ``--only`` does not pull
    #: them in: the comparison appears when both ran.
    compare: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.loop not in (*LOOPS, "none"):
            raise ValueError(f"Config.loop must be asyncio, uvloop or none, got {self.loop!r}")
        for attr in ("scenario", "name"):
            value = getattr(self, attr)
            if not value or "/" in value or "@" in value:
                raise ValueError(
                    f"Config.{attr} must be non-empty without '/' or '@', got {value!r}"
                )
        if ":" not in self.fn:
            raise ValueError(f"Config.fn must be 'package.module:function', got {self.fn!r}")
        specs = (*((self.target,) if self.target is not None else ()), *self.targets)
        targets = tuple(_as_target(t) for t in specs)
        object.__setattr__(self, "target", None)
        object.__setattr__(self, "targets", targets)
        if self.floor is None:
            first = next((t for t in targets if t.metric == "per_event"), None)
            object.__setattr__(self, "floor", first.floor if first else None)
        if self.latency_floor is None:
            first = next(
                (t for t in targets if t.metric != "per_event" and not t.self_metric), None
            )
            object.__setattr__(self, "latency_floor", first.floor if first else self.floor)
        if any(t.metric == "tail" for t in targets) and not self.percentiles:
            raise ValueError(f"{self.id}: a p99/p50 ('tail') target needs percentiles=True")
        object.__setattr__(self, "compare", tuple(self.compare))

    @property
    def id(self) -> str:
        """``scenario/name@loop`` (``scenario/name`` when the config uses no loop)."""
        suffix = "" if self.loop == "none" else f"@{self.loop}"
        return f"{self.scenario}/{self.name}{suffix}"

    @property
    def all_targets(self) -> tuple[Target, ...]:
        return tuple(_as_target(t) for t in self.targets)

    def floor_refs(self) -> set[str]:
        """Every floor this config is compared with (ratio columns and targets)."""
        refs = {t.floor for t in self.all_targets if not t.self_metric}
        refs.update(r for r in (self.floor, self.latency_floor) if r)
        return refs

    def needs_percentiles_of(self) -> set[str]:
        """Floors whose percentiles this config's columns or targets divide by."""
        refs = {t.floor for t in self.all_targets if t.metric != "per_event" and not t.self_metric}
        if self.percentiles and self.latency_floor:
            refs.add(self.latency_floor)
        return refs


def on_loops(loops: Iterable[LoopKind] = LOOPS, **kwargs: Any) -> list[Config]:
    """The same config once per event loop: ``on_loops(scenario=..., name=..., fn=...)``."""
    return [Config(loop=loop, **kwargs) for loop in loops]


def resolve_floor(config: Config, ref: str, configs: Sequence[Config]) -> Config | None:
    """The config ``ref`` names from ``config``'s point of view (same loop when there is one)."""
    if "/" in ref:
        scenario, name = ref.split("/", 1)
        places = [scenario]
    else:
        name, places = ref, ["floors", config.scenario]
    for scenario in places:
        found = [c for c in configs if c.scenario == scenario and c.name == name]
        for loop in (config.loop, "none", "asyncio"):
            for c in found:
                if c.loop == loop:
                    return c
        if found:
            return found[0]
    return None


# -- running ---------------------------------------------------------------------------------------


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + path if path else "")
    return env


def run_child(config: Config, *, quick: bool, percentiles: bool, timeout: float) -> dict[str, Any]:
    """One measurement of ``config`` in a fresh interpreter; returns the child's result line."""
    params = dict(config.params)
    if quick:
        params.update(config.quick_params)
    request = {
        "fn": config.fn,
        "params": params,
        "loop": config.loop,
        "quick": quick,
        "percentiles": percentiles,
    }
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks._child"],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            env=_child_env(),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"status": "error", "error": f"timed out after {timeout:g} s", "wall_s": timeout}
    wall = time.perf_counter() - started
    lines = proc.stdout.strip().splitlines()
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        result = {"status": "error", "error": f"no result line (exit {proc.returncode})"}
    if result.get("status") == "error":
        result["stderr"] = proc.stderr[-4000:]
    result["wall_s"] = wall
    return result


def _rotated(configs: Sequence[Config], rep: int, reps: int) -> list[Config]:
    """Rotate the order each repetition, spreading start positions over the list."""
    k = len(configs)
    shift = (rep * k) // max(reps, 1) if reps < k else rep % max(k, 1)
    return [*configs[shift:], *configs[:shift]]


def _describe(result: Mapping[str, Any], percentiles: bool) -> str:
    status = result.get("status")
    if status != "ok":
        return f"{status}: {result.get('error') or result.get('reason', '')}".strip()
    if percentiles and "percentiles_us" in result:
        p = result["percentiles_us"]
        return f"p50 {p['p50']:.2f} us, p99 {p['p99']:.2f} us"
    return f"{result['per_event_us']:.3f} us/event"


def _run_pass(
    configs: Sequence[Config],
    *,
    reps: int,
    quick: bool,
    percentiles: bool,
    timeout: float,
    progress: Progress,
) -> dict[str, list[dict[str, Any]]]:
    """``{config id: [result of rep 0, rep 1, ...]}``, configs interleaved within each rep."""
    out: dict[str, list[dict[str, Any]]] = {c.id: [] for c in configs}
    total, done, started = reps * len(configs), 0, time.monotonic()
    label = "percentiles" if percentiles else "throughput"
    for rep in range(reps):
        for config in _rotated(configs, rep, reps):
            result = run_child(config, quick=quick, percentiles=percentiles, timeout=timeout)
            result["rep"] = rep
            out[config.id].append(result)
            done += 1
            elapsed = time.monotonic() - started
            left = elapsed / done * (total - done)
            progress(
                f"[{label} rep {rep + 1}/{reps}] {done}/{total} {config.id:<34} "
                f"{_describe(result, percentiles):<36} ({result['wall_s']:.1f} s; "
                f"elapsed {elapsed:.0f} s, ~{left:.0f} s left)"
            )
    return out


# -- statistics ------------------------------------------------------------------------------------


def summary(values: Sequence[float]) -> dict[str, Any] | None:
    """Median, min and max of ``values`` (None when empty)."""
    if not values:
        return None
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def _metric(result: Mapping[str, Any], metric: str) -> float | None:
    if result.get("status") != "ok":
        return None
    if metric == "per_event":
        value = result.get("per_event_us")
    else:
        value = result.get("percentiles_us", {}).get(metric)
    return None if value is None else float(value)


def paired_ratios(
    mine: Sequence[Mapping[str, Any]], floor: Sequence[Mapping[str, Any]], metric: str
) -> list[float]:
    """``mine_r / floor_r`` for every repetition ``r`` where both succeeded."""
    by_rep = {r["rep"]: _metric(r, metric) for r in floor}
    ratios = []
    for r in mine:
        a, b = _metric(r, metric), by_rep.get(r["rep"])
        if a is not None and b:
            ratios.append(a / b)
    return ratios


def _ratio_block(
    mine: Sequence[Mapping[str, Any]],
    floor: Config,
    floor_reps: Sequence[Mapping[str, Any]],
    metric: str,
) -> dict[str, Any] | None:
    ratios = paired_ratios(mine, floor_reps, metric)
    stats = summary(ratios)
    if stats is None:
        return None
    return {"floor": floor.id, "metric": metric, "samples": ratios, **stats}


def _status(results: Sequence[Mapping[str, Any]]) -> str:
    statuses = {r.get("status") for r in results}
    if not statuses:
        return "not run"
    if statuses == {"ok"}:
        return "ok"
    if statuses == {"skipped"}:
        return "skipped"
    return "error" if "ok" not in statuses else "partial"


def _percentile_block(
    config: Config,
    configs: Sequence[Config],
    reps: Mapping[str, Sequence[Mapping[str, Any]]],
) -> dict[str, Any] | None:
    mine = reps.get(config.id)
    if not mine:
        return None
    block: dict[str, Any] = {"status": _status(mine), "reps": list(mine), "ratios": {}}
    for metric in ("p50", "p90", "p99", "p99.9", "max", "mean"):
        values = [v for v in (_metric(r, metric) for r in mine) if v is not None]
        block[metric] = summary(values)
    floor = resolve_floor(config, config.latency_floor, configs) if config.latency_floor else None
    if floor is not None and floor.id != config.id and floor.id in reps:
        for metric in _LATENCY_RATIOS:
            block["ratios"][metric] = _ratio_block(mine, floor, reps[floor.id], metric)
    return block


def _target_blocks(
    config: Config,
    configs: Sequence[Config],
    throughput: Mapping[str, Sequence[Mapping[str, Any]]],
    latency: Mapping[str, Sequence[Mapping[str, Any]]],
) -> list[dict[str, Any]]:
    blocks = []
    for target in config.all_targets:
        if target.self_metric:
            blocks.append(_self_target_block(config, target, throughput, latency))
            continue
        source = throughput if target.metric == "per_event" else latency
        floor = resolve_floor(config, target.floor, configs)
        ratio = None
        if floor is not None and config.id in source and floor.id in source:
            ratio = _ratio_block(source[config.id], floor, source[floor.id], target.metric)
        verdict = "n/a" if ratio is None else "pass" if ratio["median"] <= target.ratio else "miss"
        blocks.append(
            {
                "label": target.label(),
                "floor": target.floor,
                "floor_id": floor.id if floor else None,
                "metric": target.metric,
                "max_ratio": target.ratio,
                "stretch": target.stretch,
                "note": target.note,
                "ratio": ratio,
                "status": verdict,
                "stretch_met": bool(ratio and target.stretch and ratio["median"] <= target.stretch),
            }
        )
    return blocks


def _self_target_block(
    config: Config,
    target: Target,
    throughput: Mapping[str, Sequence[Mapping[str, Any]]],
    latency: Mapping[str, Sequence[Mapping[str, Any]]],
) -> dict[str, Any]:
    """A target on the config's own numbers: p99/p50 per repetition, or median us/event."""
    values: list[float] = []
    if target.metric == "tail":
        for r in latency.get(config.id, []):
            p50, p99 = _metric(r, "p50"), _metric(r, "p99")
            if p50 and p99 is not None:
                values.append(p99 / p50)
    else:
        values = [v for v in (_metric(r, "per_event") for r in throughput.get(config.id, [])) if v]
    stats = summary(values)
    ratio = (
        None
        if stats is None
        else {"floor": None, "metric": target.metric, "samples": values, **stats}
    )
    verdict = "n/a" if ratio is None else "pass" if ratio["median"] <= target.ratio else "miss"
    return {
        "label": target.label(),
        "floor": "",
        "floor_id": None,
        "metric": target.metric,
        "max_ratio": target.ratio,
        "stretch": target.stretch,
        "note": target.note,
        "ratio": ratio,
        "status": verdict,
        "stretch_met": bool(ratio and target.stretch and ratio["median"] <= target.stretch),
    }


def _peer_blocks(
    config: Config,
    configs: Sequence[Config],
    throughput: Mapping[str, Sequence[Mapping[str, Any]]],
    latency: Mapping[str, Sequence[Mapping[str, Any]]],
) -> list[dict[str, Any]]:
    """For each peer in ``config.compare`` that ran: ratios paired per repetition."""
    blocks = []
    for ref in config.compare:
        peer = resolve_floor(config, ref, configs)
        if peer is None or peer.id == config.id or peer.id not in throughput:
            continue
        block: dict[str, Any] = {
            "peer_id": peer.id,
            "title": peer.title or peer.name,
            "ratio": _ratio_block(
                throughput.get(config.id, []), peer, throughput[peer.id], "per_event"
            ),
            "latency_ratios": {},
            "peer_percentiles": {},
        }
        if config.id in latency and peer.id in latency:
            for metric in _LATENCY_RATIOS:
                block["latency_ratios"][metric] = _ratio_block(
                    latency[config.id], peer, latency[peer.id], metric
                )
            for metric in ("p50", "p99", "p99.9"):
                values = [v for v in (_metric(r, metric) for r in latency[peer.id]) if v]
                block["peer_percentiles"][metric] = summary(values)
        blocks.append(block)
    return blocks


def _config_record(
    config: Config,
    configs: Sequence[Config],
    throughput: Mapping[str, Sequence[Mapping[str, Any]]],
    latency: Mapping[str, Sequence[Mapping[str, Any]]],
) -> dict[str, Any]:
    mine = throughput.get(config.id, [])
    values = [v for v in (_metric(r, "per_event") for r in mine) if v is not None]
    floor = resolve_floor(config, config.floor, configs) if config.floor else None
    ratio = None
    if floor is not None and floor.id != config.id and floor.id in throughput:
        ratio = _ratio_block(mine, floor, throughput[floor.id], "per_event")
    errors = [r for r in mine if r.get("status") == "error"]
    errors += [r for r in latency.get(config.id, []) if r.get("status") == "error"]
    skipped = next((r.get("reason") for r in mine if r.get("status") == "skipped"), None)
    return {
        "id": config.id,
        "scenario": config.scenario,
        "config": config.name,
        "title": config.title or config.name,
        "loop": config.loop,
        "fn": config.fn,
        "params": dict(config.params),
        "status": _status(mine),
        "skip_reason": skipped,
        "errors": [
            {
                "rep": e.get("rep"),
                "error": e.get("error"),
                "traceback": e.get("traceback", ""),
                "stderr": e.get("stderr", ""),
            }
            for e in errors
        ],
        "floor": config.floor,
        "floor_id": floor.id if floor else None,
        "reps": list(mine),
        "per_event_us": summary(values),
        "ratio": ratio,
        "percentiles": _percentile_block(config, configs, latency),
        "targets": _target_blocks(config, configs, throughput, latency),
        "peers": _peer_blocks(config, configs, throughput, latency),
    }


# -- environment -----------------------------------------------------------------------------------

_PACKAGES = ("asynclambda", "msgspec", "anyio", "uvloop", "taskiq", "matplotlib")


def _package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        pass
    if name != "asynclambda":
        return None
    # Not installed as a distribution: report the source tree's version if it imports.
    try:
        module = importlib.import_module(name)
    except Exception:
        return None
    return str(getattr(module, "__version__", "source tree"))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git() -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            proc = subprocess.run(
                ["git", "--no-optional-locks", *args],
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return proc.stdout.strip() if proc.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    # What the measured code is: HEAD plus the working tree's changes to the package. Others
    # may edit it while a run goes on: blob ids taken before and after tell which files changed.
    changed = git("diff", "HEAD", "--name-only", "--", "asynclambda")
    untracked = git("ls-files", "--others", "--exclude-standard", "--", "asynclambda")
    files: dict[str, str] = {}
    if changed is not None and untracked is not None:
        names = sorted({*changed.splitlines(), *untracked.splitlines()})
        present = [n for n in names if (REPO_ROOT / n).exists()]
        ids = git("hash-object", "--", *present) if present else ""
        files = dict(zip(present, (ids or "").split(), strict=False))
        files.update({n: "deleted" for n in names if n not in files})
    fingerprint = hashlib.sha1(f"{commit}\n{sorted(files.items())}".encode()).hexdigest()[:16]
    return {
        "commit": commit,
        "dirty": bool(status) if status is not None else None,
        "fingerprint": fingerprint,
        "files": files,
    }


def _git_lines(*args: str) -> list[str]:
    try:
        proc = subprocess.run(
            ["git", "--no-optional-locks", *args],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return proc.stdout.split() if proc.returncode == 0 else []


def _changed_files(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Package files whose content differs between two :func:`_git` snapshots, whether it was
    committed in between (HEAD moved) or edited in the working tree."""
    old_head, new_head = before.get("commit"), after.get("commit")
    old, new = before.get("files") or {}, after.get("files") or {}
    candidates = {*old, *new}
    if old_head != new_head:
        candidates.update(
            _git_lines("diff", "--name-only", f"{old_head}", f"{new_head}", "--", "asynclambda")
        )

    def blob(head: Any, snapshot: Mapping[str, str], name: str) -> str:
        if name in snapshot:
            return snapshot[name]
        found = _git_lines("rev-parse", "--verify", "--quiet", f"{head}:{name}")
        return found[0] if found else "absent"

    return sorted(n for n in candidates if blob(old_head, old, n) != blob(new_head, new, n))


def _loadavg() -> list[float] | None:
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def environment(command: Sequence[str] | None = None) -> dict[str, Any]:
    """Machine, interpreter, package versions and git state, recorded with every run."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "packages": {name: _package_version(name) for name in _PACKAGES},
        "git": _git(),
        "command": shlex.join(command if command is not None else [sys.executable, *sys.argv]),
    }


def _uvloop_available() -> bool:
    try:
        importlib.import_module("uvloop")
    except ImportError:
        return False
    return True


def _print_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run(
    configs: Sequence[Config],
    *,
    reps: int = 5,
    percentile_reps: int | None = None,
    quick: bool = False,
    timeout: float = 300.0,
    progress: Progress | None = _print_stderr,
    command: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Measure ``configs`` (throughput pass, then percentile pass); return the run document."""
    if reps < 1:
        raise ValueError(f"reps must be >= 1, got {reps!r}")
    say: Progress = progress or (lambda _line: None)
    configs = list(configs)
    dropped: list[dict[str, str]] = []
    if not _uvloop_available():
        dropped = [
            {"id": c.id, "reason": "uvloop not installed"} for c in configs if c.loop == "uvloop"
        ]
        configs = [c for c in configs if c.loop != "uvloop"]
        if dropped:
            say(f"uvloop is not installed: skipping {len(dropped)} uvloop configs")
    ids = [c.id for c in configs]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate config ids: {sorted({i for i in ids if ids.count(i) > 1})}")

    started = _dt.datetime.now(_dt.UTC)
    load_before = _loadavg()
    git_before = _git()
    t0 = time.monotonic()
    throughput = _run_pass(
        configs, reps=reps, quick=quick, percentiles=False, timeout=timeout, progress=say
    )
    wanted: set[str] = set()
    for c in configs:
        if c.percentiles:
            wanted.add(c.id)
        for ref in c.needs_percentiles_of():
            floor = resolve_floor(c, ref, configs)
            if floor is not None:
                wanted.add(floor.id)
    latency_configs = [c for c in configs if c.id in wanted]
    latency = _run_pass(
        latency_configs,
        reps=percentile_reps or reps,
        quick=quick,
        percentiles=True,
        timeout=timeout,
        progress=say,
    )
    duration = time.monotonic() - t0
    finished = _dt.datetime.now(_dt.UTC)
    env = environment(command)
    env["loadavg_before"] = load_before
    env["loadavg_after"] = _loadavg()
    env["git_before"] = git_before
    env["changed_during_run"] = changed = _changed_files(git_before, env["git"])
    if changed:
        shown = ", ".join(changed[:6]) + (
            f" and {len(changed) - 6} more" if len(changed) > 6 else ""
        )
        say(
            f"WARNING: asynclambda/ changed while the benchmarks ran ({shown}): scenarios that "
            "use these files measured different code in different repetitions"
        )
    return {
        "schema": SCHEMA,
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "duration_s": round(duration, 2),
        "settings": {
            "reps": reps,
            "percentile_reps": percentile_reps or reps,
            "quick": quick,
            "timeout_s": timeout,
        },
        "environment": env,
        "dropped": dropped,
        "results": [_config_record(c, configs, throughput, latency) for c in configs],
    }


def _got(target: Mapping[str, Any]) -> str:
    ratio = target["ratio"]
    if not ratio:
        return "not measured"
    unit = " us" if target["metric"] == "us" else "x"
    return f"{ratio['median']:.2f}{unit} (min-max {ratio['min']:.2f}-{ratio['max']:.2f})"


def _margin(target: Mapping[str, Any]) -> str:
    """How far the median is from the bar: ``12% under`` / ``38% over``, and the stretch."""
    ratio = target["ratio"]
    if not ratio:
        return ""
    bar, got = target["max_ratio"], ratio["median"]
    text = (
        f"{(bar - got) / bar:.0%} under the bar"
        if got <= bar
        else f"{got / bar:.2f}x the bar ({(got - bar) / bar:.0%} over)"
    )
    if target.get("stretch"):
        stretch = target["stretch"]
        text += (
            "; stretch met"
            if got <= stretch
            else f"; stretch {stretch:g}x needs {got / stretch:.2f}x less"
        )
    return text


def _line(result: Mapping[str, Any], target: Mapping[str, Any]) -> str:
    margin = _margin(target)
    return f"{target['status'].upper()}: {result['id']}: {target['label']}: {_got(target)}" + (
        f": {margin}" if margin else ""
    )


def check(document: Mapping[str, Any]) -> list[str]:
    """One line per target missed (or that could not be judged) in a run document."""
    return [
        _line(result, target)
        for result in document["results"]
        for target in result["targets"]
        if target["status"] != "pass"
    ]


def verdicts(document: Mapping[str, Any]) -> list[str]:
    """One line per target, met or not, with the margin: what ``--check`` prints."""
    return [_line(result, target) for result in document["results"] for target in result["targets"]]
