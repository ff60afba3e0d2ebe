"""One measurement in a fresh process: ``python -m benchmarks._child < request.json``.

Reads one JSON request on stdin (``fn``, ``params``, ``loop``, ``quick``, ``percentiles``), builds
the event loop, calls the benchmark function and prints exactly one JSON line on stdout. Anything
the benchmark prints goes to stderr so it cannot corrupt that line.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import sys
import traceback
from typing import Any

from benchmarks.measure import Measurement, Params, Skip

_PERCENTILES = (("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("p99.9", 0.999))


def resolve(path: str) -> Any:
    """``"package.module:function"`` -> the function."""
    module, _, name = path.partition(":")
    obj: Any = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def new_loop(kind: str) -> asyncio.AbstractEventLoop:
    """A fresh loop of ``kind`` ("asyncio", "uvloop", or "none": a plain asyncio loop)."""
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def percentiles_us(samples_ns: list[int]) -> dict[str, float]:
    """Nearest-rank percentiles of ``samples_ns``, in microseconds."""
    ordered = sorted(samples_ns)
    last = len(ordered) - 1
    out = {name: ordered[min(last, round(q * last))] / 1e3 for name, q in _PERCENTILES}
    out["max"] = ordered[-1] / 1e3
    out["mean"] = sum(ordered) / len(ordered) / 1e3
    return out


def measure(request: dict[str, Any]) -> dict[str, Any]:
    """Run one request; return the result record (without the ``ok`` envelope)."""
    fn = resolve(request["fn"])
    params = Params(
        data=request.get("params", {}),
        quick=bool(request.get("quick", False)),
        percentiles=bool(request.get("percentiles", False)),
    )
    loop = new_loop(request.get("loop", "asyncio"))
    asyncio.set_event_loop(loop)
    try:
        result = fn(params, loop)
        if inspect.isawaitable(result):
            result = loop.run_until_complete(result)
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()
    if not isinstance(result, Measurement):
        result = Measurement(per_event_s=float(result), events=0)
    record: dict[str, Any] = {
        "per_event_us": result.per_event_s * 1e6,
        "events": result.events,
        "extra": result.extra,
    }
    if result.samples_ns:
        record["percentiles_us"] = percentiles_us(result.samples_ns)
    return record


def main() -> int:
    request = json.loads(sys.stdin.read())
    out = sys.stdout
    sys.stdout = sys.stderr  # the benchmark's own prints must not corrupt the result line
    try:
        line = {"status": "ok", **measure(request)}
        code = 0
    except Skip as exc:
        line = {"status": "skipped", "reason": str(exc)}
        code = 0
    except Exception as exc:  # report, don't hide: the parent records the error
        line = {
            "status": "error",
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
        }
        code = 1
    finally:
        sys.stdout = out
    out.write(json.dumps(line) + "\n")
    out.flush()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
