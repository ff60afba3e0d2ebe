"""Files from a run document: the JSON record, the Markdown tables, the chart, the docs page."""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import REPO_ROOT

__all__ = [
    "DEFAULT_DOCS",
    "DEFAULT_RESULTS",
    "chart",
    "markdown",
    "render_docs",
    "write_results",
]

DEFAULT_RESULTS = REPO_ROOT / "benchmarks" / "results"
DEFAULT_DOCS = REPO_ROOT / "docs" / "benchmarks.md"

_LOOP_COLOURS = {"asyncio": "#4c72b0", "uvloop": "#dd8452", "none": "#55a868"}


def _us(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1:
        return f"{value:.3f}"
    if value < 100:
        return f"{value:.2f}"
    return f"{value:,.0f}"


def _span(stats: Mapping[str, Any] | None, fmt: str = "us") -> str:
    if not stats:
        return "-"
    if fmt == "x":
        return f"{stats['min']:.2f}-{stats['max']:.2f}"
    return f"{_us(stats['min'])}-{_us(stats['max'])}"


def _ratio(block: Mapping[str, Any] | None, floor: str | None) -> str:
    if not block:
        return "-"
    return f"{block['median']:.2f}x {floor or ''} ({_span(block, 'x')})".replace("  ", " ")


def _verdicts(targets: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    if not targets:
        return "-", "-"
    labels = "<br>".join(t["label"] for t in targets)
    marks = []
    for t in targets:
        mark = t["status"]
        if t["status"] == "pass" and t.get("stretch_met"):
            mark = "pass (stretch)"
        elif t["status"] == "miss":
            mark = "**miss**"
        marks.append(mark)
    return labels, "<br>".join(marks)


def _short_floor(result: Mapping[str, Any], floor_id: str | None) -> str | None:
    """``F2`` for a floor in floors.py, the full id otherwise."""
    if floor_id is None:
        return None
    name = floor_id.split("/", 1)[1].split("@", 1)[0]
    return name if floor_id.startswith(("floors/", result["scenario"] + "/")) else floor_id


def _loop(result: Mapping[str, Any]) -> str:
    return "-" if result["loop"] == "none" else str(result["loop"])


def _throughput_rows(results: Sequence[Mapping[str, Any]]) -> list[str]:
    rows = [
        "| scenario | config | loop | median us/event | min-max | ratio to floor (min-max) | target | verdict |",
        "|---|---|---|---:|---:|---|---|---|",
    ]
    for r in results:
        stats = r["per_event_us"]
        if r["status"] == "skipped":
            cells = ["-", "-", f"skipped: {r.get('skip_reason') or ''}", "-", "-"]
        elif stats is None:
            cells = [r["status"], "-", "-", "-", "-"]
        else:
            targets = [t for t in r["targets"] if t["metric"] == "per_event"]
            label, verdict = _verdicts(targets)
            ratio = _ratio(r["ratio"], _short_floor(r, r["floor_id"]))
            cells = [_us(stats["median"]), _span(stats), ratio, label, verdict]
        rows.append(f"| {r['scenario']} | {r['title']} | {_loop(r)} | " + " | ".join(cells) + " |")
    return rows


def _percentile_rows(results: Sequence[Mapping[str, Any]]) -> list[str]:
    rows = [
        "| scenario | config | loop | p50 us | p99 us | p99.9 us | p99/p50 | p50 ratio | p99 ratio | target | verdict |",
        "|---|---|---|---:|---:|---:|---:|---|---|---|---|",
    ]
    for r in results:
        p = r.get("percentiles")
        if not p or p.get("p50") is None:
            continue
        ratios = p.get("ratios", {})
        floor = None
        if ratios.get("p50"):
            floor = _short_floor(r, ratios["p50"]["floor"])
        targets = [t for t in r["targets"] if t["metric"] != "per_event"]
        label, verdict = _verdicts(targets)
        tail = p["p99"]["median"] / p["p50"]["median"] if p["p50"]["median"] else None
        cells = [
            f"{_us(p['p50']['median'])} ({_span(p['p50'])})",
            f"{_us(p['p99']['median'])} ({_span(p['p99'])})",
            _us(p["p99.9"]["median"]) if p.get("p99.9") else "-",
            f"{tail:.2f}" if tail else "-",
            _ratio(ratios.get("p50"), floor),
            _ratio(ratios.get("p99"), floor),
            label,
            verdict,
        ]
        rows.append(f"| {r['scenario']} | {r['title']} | {_loop(r)} | " + " | ".join(cells) + " |")
    return rows if len(rows) > 2 else []


def _machine_lines(document: Mapping[str, Any]) -> list[str]:
    env = document["environment"]
    settings = document["settings"]
    git = env.get("git") or {}
    commit = (git.get("commit") or "unknown")[:12] + (" (dirty)" if git.get("dirty") else "")
    load = " -> ".join(
        "/".join(f"{x:.2f}" for x in avg) if avg else "?"
        for avg in (env.get("loadavg_before"), env.get("loadavg_after"))
    )
    packages = ", ".join(f"{k} {v}" for k, v in env["packages"].items() if v) or "no packages"
    return [
        f"- **Date**: {document['started']} (took {document['duration_s']:.0f} s)",
        f"- **Machine**: {env['cpu_model']}, {env['cores']} cores ({env['usable_cores']} usable), "
        f"{env['platform']}",
        f"- **Python**: {env['implementation']} {env['python']}; {packages}",
        f"- **Load average** (1/5/15 min) before -> after: {load}",
        f"- **Repetitions**: {settings['reps']} throughput, {settings['percentile_reps']} "
        f"percentile{' (quick: tiny sizes, numbers meaningless)' if settings['quick'] else ''}",
        f"- **Commit**: {commit}",
        f"- **Command**: `{env['command']}`",
    ]


def markdown(document: Mapping[str, Any]) -> str:
    """The tables and the machine block for one run document."""
    results = document["results"]
    out = ["### Throughput (median of per-process means; ratios paired per repetition)", ""]
    out += _throughput_rows(results)
    pct = _percentile_rows(results)
    if pct:
        out += ["", "### Latency (percentile pass: every event timed)", "", *pct]
    errors = [r for r in results if r["errors"]]
    if errors:
        out += ["", "### Errors", ""]
        out += [f"- `{r['id']}`: {r['errors'][0]['error']}" for r in errors]
    if document.get("dropped"):
        out += [
            "",
            "Not run: " + ", ".join(f"`{d['id']}` ({d['reason']})" for d in document["dropped"]),
        ]
    out += ["", "### Machine", "", *_machine_lines(document)]
    return "\n".join(out) + "\n"


def chart(document: Mapping[str, Any], path: Path) -> bool:
    """Write a PNG (us/event with min-max, and ratios with targets); False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
        from matplotlib.ticker import FuncFormatter, NullFormatter
    except ImportError:
        print(
            "matplotlib is not installed (pip install 'asynclambda[bench]'): no chart",
            file=sys.stderr,
        )
        return False
    rows = [r for r in document["results"] if r["per_event_us"]]
    if not rows:
        return False
    labels = [
        f"{r['scenario']}: {r['title']}" + ("" if r["loop"] == "none" else f" [{r['loop']}]")
        for r in rows
    ]
    ys = list(range(len(rows)))[::-1]
    height = max(3.0, 0.32 * len(rows) + 1.2)
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, height), sharey=True)
    colours = [_LOOP_COLOURS.get(r["loop"], "#888888") for r in rows]
    med = [r["per_event_us"]["median"] for r in rows]
    lo = [m - r["per_event_us"]["min"] for m, r in zip(med, rows, strict=True)]
    hi = [r["per_event_us"]["max"] - m for m, r in zip(med, rows, strict=True)]
    left.barh(ys, med, xerr=[lo, hi], color=colours, capsize=2)
    left.set_xscale("log")
    left.set_xlabel("us per event (median, min-max whiskers; log scale)")
    left.set_yticks(ys, labels, fontsize=8)
    loops = sorted({r["loop"] for r in rows})
    left.legend(
        handles=[
            Patch(color=_LOOP_COLOURS.get(k, "#888888"), label="no loop" if k == "none" else k)
            for k in loops
        ],
        fontsize=7,
        loc="lower right",
    )
    for y, r in zip(ys, rows, strict=True):
        block = r["ratio"]
        if not block:
            continue
        err = [[block["median"] - block["min"]], [block["max"] - block["median"]]]
        right.barh([y], [block["median"]], xerr=err, color=_LOOP_COLOURS.get(r["loop"]), capsize=2)
        right.annotate(
            f"{block['median']:.2f}x {_short_floor(r, r['floor_id'])}",
            (block["max"], y),
            xytext=(4, -3),
            textcoords="offset points",
            fontsize=7,
        )
        for t in r["targets"]:
            if t["metric"] == "per_event":
                colour = "green" if t["status"] == "pass" else "red"
                right.plot([t["max_ratio"]] * 2, [y - 0.4, y + 0.4], color=colour, linewidth=2)
    right.set_xscale("log")
    right.set_xlim(left=1)  # a ratio of 1 is the floor itself
    right.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}x"))
    right.xaxis.set_minor_formatter(NullFormatter())
    right.set_xlabel("ratio to floor, paired per repetition (log scale; tick: target)")
    env = document["environment"]
    fig.suptitle(
        f"asynclambda benchmarks, {document['started'][:10]}: {env['cpu_model']}, "
        f"{env['cores']} cores, Python {env['python']}",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_results(
    document: Mapping[str, Any], results_dir: Path = DEFAULT_RESULTS, *, draw: bool = True
) -> dict[str, Path]:
    """``<stamp>.json``, ``latest.json``, ``latest.md`` and ``latest.png`` under ``results_dir``."""
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.fromisoformat(document["started"]).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(document, indent=1, sort_keys=False) + "\n"
    paths = {"run": results_dir / f"{stamp}.json", "latest": results_dir / "latest.json"}
    for path in paths.values():
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    paths["table"] = results_dir / "latest.md"
    paths["table"].write_text(markdown(document))
    if draw and chart(document, results_dir / "latest.png"):
        paths["chart"] = results_dir / "latest.png"
    return paths


def render_docs(latest: Path = DEFAULT_RESULTS / "latest.json", docs: Path = DEFAULT_DOCS) -> Path:
    """Write the benchmarks docs page from a run's ``latest.json`` (chart linked beside it)."""
    document = json.loads(latest.read_text())
    png = latest.with_name("latest.png")
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by `python -m benchmarks` from "
        f"`{_rel(latest, REPO_ROOT)}`: edit benchmarks/report.py, not this page. -->",
        "",
        "Every number below comes from one run of `python -m benchmarks`: each config measured in",
        "a fresh process per repetition, configs interleaved, ratios to the floors paired per",
        "repetition (see [benchmarks/README.md](../benchmarks/README.md)). The machine is shared",
        "and noisy: absolute times move by 1.5x between runs, ratios by 20% or less, so the",
        "targets are ratios.",
        "",
    ]
    if png.exists():
        lines += [f"![benchmark chart]({_rel(png, docs.parent)})", ""]
    lines.append(markdown(document).rstrip("\n"))
    docs.parent.mkdir(parents=True, exist_ok=True)
    docs.write_text("\n".join(lines) + "\n")
    return docs


def _rel(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()
