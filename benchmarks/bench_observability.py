"""What observability costs on the warm path: invocation logs, and ``rt.statistics()``.

The warm invoke of ``bench_warm_invoke`` (async handler, one warm context), three ways, each
compared with ``logs-off`` measured in the same repetition (so the ratio is the cost of
logging as a multiple of a warm invoke):

=====================  =========================================================================
logs-off               ``Runtime(invocation_logs=False)``, the library default.
logs-structlog-json    ``invocation_logs=True`` (START, END, REPORT per invoke) with structlog
                       configured in the child the usual production way: ``add_log_level``,
                       ISO ``TimeStamper``, ``JSONRenderer``, a filtering bound logger (INFO),
                       ``WriteLoggerFactory`` on a file, loggers cached on first use.
logs-configure-json    ``invocation_logs=True`` with ``asynclambda.observability
                       .configure_logging("json", stream=<file>)``: the library's own setup
                       (what the CLI uses), request ids bound by its processor.
statistics             one ``rt.statistics()`` call (a snapshot of every counter) on a runtime
                       with 10 warm functions, per call; the ratio says how many warm invokes
                       one snapshot costs.
=====================  =========================================================================

Log files go to a temporary directory and are removed after. Run alone with
``python -m benchmarks.bench_observability [--quick]``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import _runtime, measure
from benchmarks.bench_warm_invoke import async_handler
from benchmarks.harness import on_loops
from benchmarks.measure import Measurement, Params

SCENARIO = "observability"
FUNCTIONS = 10


def _configure(kind: str, path: Path) -> Any:
    """Point structlog at ``path`` the way ``kind`` says; returns the open file."""
    import structlog

    out = path.open("w", encoding="utf-8")
    if kind == "structlog-json":
        structlog.configure(
            processors=[
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.processors.JSONRenderer(),
            ],
            wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
            logger_factory=structlog.WriteLoggerFactory(file=out),
            cache_logger_on_first_use=True,
        )
    elif kind == "configure-json":
        from asynclambda.observability import configure_logging

        configure_logging("json", stream=out)
    else:
        raise ValueError(f"unknown logging setup {kind!r}")
    return out


async def invoke_logs(params: Params, loop: asyncio.AbstractEventLoop) -> Measurement:
    """Warm invoke with invocation logs off, or on into a file (``logs`` param)."""
    kind = str(params.get("logs", "off"))
    directory = Path(tempfile.mkdtemp(prefix="asynclambda-logs-"))
    out = None
    try:
        if kind != "off":
            out = _configure(kind, directory / "invocations.log")
        runtime = {"invocation_logs": kind != "off"}
        async with _runtime.started(async_handler, runtime=runtime) as rt:
            result = await measure.events(
                params,
                measure.awaiting(functools.partial(rt.invoke, "fn"), _runtime.EVENT),
                functools.partial(rt.invoke, "fn", _runtime.EVENT),
            )
            invocations = _runtime.version_stats(rt)["invocations"]
        if out is not None:
            out.flush()
            size = (directory / "invocations.log").stat().st_size
            if size == 0:
                raise RuntimeError("invocation logs are on but nothing was written")
            result.extra["log_bytes_per_invoke"] = size / invocations
        return result
    finally:
        if out is not None:
            out.close()
        shutil.rmtree(directory, ignore_errors=True)


async def statistics(params: Params, loop: asyncio.AbstractEventLoop) -> Measurement:
    """``rt.statistics()`` per call, with ``functions`` warm functions registered."""
    count = int(params.get("functions", FUNCTIONS))
    async with _runtime.started(async_handler) as rt:
        for i in range(1, count):
            rt.add_function(f"fn{i}", async_handler)
            _runtime.check(await rt.invoke(f"fn{i}", _runtime.EVENT))
        snapshot = rt.statistics

        async def batch(n: int) -> None:
            for _ in range(n):
                snapshot()

        result = await measure.events(params, batch)
        result.extra["functions"] = len(rt.statistics().functions)
        return result


_FN = "benchmarks.bench_observability:"

CONFIGS = [
    *on_loops(
        scenario=SCENARIO,
        name="logs-off",
        title="warm invoke, invocation logs off (default)",
        fn=_FN + "invoke_logs",
        params={"logs": "off"},
        floor="F3",
    ),
    *on_loops(
        scenario=SCENARIO,
        name="logs-structlog-json",
        title="warm invoke, logs on: structlog JSON to a file",
        fn=_FN + "invoke_logs",
        params={"logs": "structlog-json"},
        floor="logs-off",
    ),
    *on_loops(
        scenario=SCENARIO,
        name="logs-configure-json",
        title="warm invoke, logs on: configure_logging('json') to a file",
        fn=_FN + "invoke_logs",
        params={"logs": "configure-json"},
        floor="logs-off",
    ),
    *on_loops(
        scenario=SCENARIO,
        name="statistics",
        title="rt.statistics() per call (10 functions)",
        fn=_FN + "statistics",
        floor="logs-off",
    ),
]

if __name__ == "__main__":
    from benchmarks.run_all import script

    script(SCENARIO)
