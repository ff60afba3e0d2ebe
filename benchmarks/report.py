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


def _rate(us: float | None) -> str:
    """Events per second for ``us`` microseconds per event: ``212k``, ``1.4M``, ``730``."""
    if not us:
        return "-"
    rate = 1e6 / us
    if rate >= 1e6:
        return f"{rate / 1e6:.1f}M"
    if rate >= 1e4:
        return f"{rate / 1e3:.0f}k"
    if rate >= 1e3:
        return f"{rate / 1e3:.1f}k"
    return f"{rate:.0f}"


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
        "| scenario | config | loop | median us/event | min-max | events/s | ratio to floor (min-max) | target | verdict |",
        "|---|---|---|---:|---:|---:|---|---|---|",
    ]
    for r in results:
        stats = r["per_event_us"]
        if r["status"] == "skipped":
            cells = ["-", "-", "-", f"skipped: {r.get('skip_reason') or ''}", "-", "-"]
        elif stats is None:
            cells = [r["status"], "-", "-", "-", "-", "-"]
        else:
            targets = [t for t in r["targets"] if t["metric"] in ("per_event", "us")]
            label, verdict = _verdicts(targets)
            ratio = _ratio(r["ratio"], _short_floor(r, r["floor_id"]))
            cells = [
                _us(stats["median"]),
                _span(stats),
                _rate(stats["median"]),
                ratio,
                label,
                verdict,
            ]
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
        targets = [t for t in r["targets"] if t["metric"] not in ("per_event", "us")]
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


def _peer_rows(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """asynclambda's configs beside the peers they name in ``compare`` (ratios paired per rep)."""
    rows = [
        "| config | loop | p50 us | p99 us | peer | peer p50 us | peer p99 us | p50 ratio to peer | p99 ratio to peer | per-event ratio to peer |",
        "|---|---|---:|---:|---|---:|---:|---|---|---|",
    ]
    for r in results:
        mine = r.get("percentiles") or {}
        for peer in r.get("peers") or ():
            theirs = peer.get("peer_percentiles") or {}
            ratios = peer.get("latency_ratios") or {}

            def pct(block: Mapping[str, Any], metric: str) -> str:
                stats = block.get(metric)
                return _us(stats["median"]) if stats else "-"

            cells = [
                f"{r['scenario']}: {r['title']}",
                _loop(r),
                pct(mine, "p50"),
                pct(mine, "p99"),
                peer["title"],
                pct(theirs, "p50"),
                pct(theirs, "p99"),
                _ratio(ratios.get("p50"), ""),
                _ratio(ratios.get("p99"), ""),
                _ratio(peer.get("ratio"), ""),
            ]
            rows.append("| " + " | ".join(cells) + " |")
    return rows if len(rows) > 2 else []


def _target_rows(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every target of the run: the bar, the median paired ratio (min-max), verdict, margin."""
    from benchmarks.harness import _margin

    rows = [
        "| config | loop | target | got (min-max) | verdict | margin |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        for t in r["targets"]:
            ratio = t["ratio"]
            unit = " us" if t["metric"] == "us" else "x"
            got = (
                f"{ratio['median']:.2f}{unit} ({ratio['min']:.2f}-{ratio['max']:.2f})"
                if ratio
                else "not measured"
            )
            verdict = t["status"] if t["status"] != "miss" else "**miss**"
            cells = [f"{r['scenario']}: {r['title']}", _loop(r), t["label"], got, verdict]
            rows.append("| " + " | ".join([*cells, _margin(t) or "-"]) + " |")
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
        *(
            [
                "- **Changed during the run** (scenarios using these files mixed versions): "
                + ", ".join(f"`{name}`" for name in env["changed_during_run"])
            ]
            if env.get("changed_during_run")
            else []
        ),
        f"- **Command**: `{env['command']}`",
    ]


def markdown(document: Mapping[str, Any]) -> str:
    """The tables and the machine block for one run document."""
    results = document["results"]
    out = ["### Throughput (median of per-process means; ratios paired per repetition)", ""]
    out += _throughput_rows(results)
    targets = _target_rows(results)
    if targets:
        out += ["", "### Targets (what `--check` prints)", "", *targets]
    pct = _percentile_rows(results)
    if pct:
        out += ["", "### Latency (percentile pass: every event timed)", "", *pct]
    peers = _peer_rows(results)
    if peers:
        out += ["", "### Compared with peers (ratio < 1: asynclambda is faster)", "", *peers]
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
    lines += _HOW_TO
    if png.exists():
        lines += [f"![benchmark chart]({_rel(png, docs.parent)})", ""]
    lines.append(markdown(document).rstrip("\n"))
    docs.parent.mkdir(parents=True, exist_ok=True)
    docs.write_text("\n".join(lines) + "\n")
    return docs


_HOW_TO = [
    "## How to run",
    "",
    "From the repository root, with the `bench` extra installed (`pip install -e '.[bench]'`:",
    "uvloop, taskiq, matplotlib):",
    "",
    "```console",
    "$ python -m benchmarks            # everything, 5 repetitions: results/ and this page (~4 min)",
    "$ python -m benchmarks --quick    # tiny sizes, 2 repetitions: proves the scripts run (~30 s)",
    "$ python -m benchmarks --check    # also list every target: met or missed, and by how much",
    "```",
    "",
    "`--only NAME` runs one scenario (`warm_invoke`, `throughput`, `cold_start`, `scale_out`, `mappings`,",
    "`observability`, `taskiq`, `floors`) with the floors it is compared with; `--check`",
    "re-judges nothing, it prints the verdicts of the run it just made (`--strict`: exit 1 on a",
    "miss). Every scenario script also runs alone: `python -m benchmarks.bench_cold_start --quick`.",
    "",
    "## How to read it",
    "",
    "- **us/event** is the mean time per event inside one process, the table shows the median",
    "  over the repetitions (fresh processes) and their min-max. **events/s** is its reciprocal.",
    "  A *cold start* event is one INIT + first invoke; a *scale-out* event is one context of a",
    "  0 -> 100 burst; a *statistics* event is one `rt.statistics()` call.",
    "- **ratio to floor** divides by a floor (F1-F4, C0, C1 in `benchmarks/floors.py`, or a",
    "  baseline of the same scenario) measured in the same repetition, then takes the median of",
    "  those paired ratios. Targets are judged on these ratios: compare them",
    "  between runs, not the absolute times, which move by 1.5x on this shared machine.",
    "- **Latency** comes from a separate pass that times every event (two timer calls each);",
    "  p50/p99 ratios are paired the same way. p99.9 needs the >= 2,000 samples of a full run.",
    "- **Compared with peers** puts the warm synchronous invoke beside taskiq's in-memory",
    "  request/response (taskiq's own numbers are in the `taskiq` rows).",
    "- `--quick` numbers are meaningless (50 events, cold caches): they only prove the code runs.",
    "",
    "## Results",
    "",
]


def _rel(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()
