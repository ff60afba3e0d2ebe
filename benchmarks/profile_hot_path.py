"""Profile the runtime's hot paths, and measure what a proposed change would buy.

Not a scenario (``run_all`` runs ``bench_*.py`` only); a tool for "profile before optimising"::

    python -m benchmarks.profile_hot_path profile warm          # cProfile, per invoke, in us
    python -m benchmarks.profile_hot_path profile throughput
    python -m benchmarks.profile_hot_path profile cold-module   # one cold start per event
    python -m benchmarks.profile_hot_path pieces                # the warm path's parts, timed alone
    python -m benchmarks.profile_hot_path ablate [--reps 5] [--only NAME] [--scenario S]

``profile`` runs the path under cProfile and prints each function's share of the profiled
time converted to microseconds per event *at unprofiled speed* (share x the same loop timed
without the profiler): cProfile inflates tiny calls, so read the us as "about", the order as
reliable.

``ablate`` answers "what would this change buy?" without touching ``asynclambda/``: each
candidate change is applied in a fresh child process by recompiling the one function it
touches from its source with a textual edit (or by a config switch), then the scenario's own
benchmark function measures it. Baseline and variants are interleaved per repetition and the
saving is paired per repetition (``baseline_r - variant_r``). A candidate whose source no
longer matches (the code moved on) is reported as such, not silently skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import inspect
import json
import pstats
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from typing import Any

from benchmarks import _runtime
from benchmarks.harness import REPO_ROOT
from benchmarks.measure import Params

# -- source patches --------------------------------------------------------------------------------


class PatchMismatch(Exception):
    """The code a candidate change edits no longer looks as the candidate expects."""


def patch_source(
    owner: Any, name: str, edits: list[tuple[str, str]], extra: dict[str, Any] | None = None
) -> None:
    """Recompile ``owner.name`` from its source with ``edits`` (old, new) applied.

    The new function lives in its module's namespace (``extra`` names are added there), and
    every ``from module import name`` copy of a module-level function in ``asynclambda`` is
    rebound, so callers see the change. Patches compose: a patched function keeps its source.
    """
    target = inspect.getattr_static(owner, name)
    fn = target.__func__ if isinstance(target, staticmethod | classmethod) else target
    source = _source(fn)
    for old, new in edits:
        if old not in source:
            raise PatchMismatch(f"{fn.__qualname__}: {old!r} not found")
        source = source.replace(old, new)
    namespace = vars(sys.modules[fn.__module__])
    namespace.update(extra or {})
    saved = namespace.get(fn.__name__, _MISSING)
    exec(compile(source, f"<patched {fn.__qualname__}>", "exec"), namespace)
    new_fn = namespace[fn.__name__]
    if saved is _MISSING:
        del namespace[fn.__name__]
    elif not inspect.ismodule(owner):
        namespace[fn.__name__] = saved  # a method's name must not shadow a module global
    new_fn.__patched_source__ = source
    new_fn.__qualname__ = fn.__qualname__
    setattr(owner, name, staticmethod(new_fn) if isinstance(target, staticmethod) else new_fn)
    if inspect.ismodule(owner):
        for module_name, module in list(sys.modules.items()):
            if module_name.startswith("asynclambda"):
                for attr, value in list(vars(module).items()):
                    if value is fn:
                        setattr(module, attr, new_fn)


_MISSING = object()


def _source(fn: Any) -> str:
    """A function's source as :func:`patch_source` sees it (patched or not)."""
    return getattr(fn, "__patched_source__", None) or textwrap.dedent(inspect.getsource(fn))


def _flat(obj: Any) -> bool:
    """A dict of str keys and str/int/bool/None values: msgspec and the AWS encoder agree."""
    if type(obj) is not dict:
        return False
    for k, v in obj.items():  # noqa: SIM110 - a plain loop beats all(generator) here
        if type(k) is not str or type(v) not in _FLAT:
            return False
    return True


_FLAT = frozenset({str, int, bool, type(None)})


def _request_flat() -> None:
    """``encode_request``: a flat dict (str keys; str/int/bool/None values) needs no ``_plain``
    walk before encoding (the response side already has this fast path)."""
    from asynclambda import payloads

    patch_source(
        payloads,
        "encode_request",
        [("if not _plain(payload):", "if not (_flat(payload) or _plain(payload)):")],
        {"_flat": _flat, "_FLAT": _FLAT},
    )


def _flat_empty_containers() -> None:
    """The flat-response fast path also takes empty lists/dicts as values: an SQS handler's
    usual ``{"batchItemFailures": []}`` then skips ``encode_response``'s ``_plain`` walk."""
    from asynclambda import execution

    patch_source(
        execution,
        "_flat",
        [
            (
                "if type(k) is not str or type(v) not in flat:",
                "if type(k) is not str or (type(v) not in flat and not (type(v) in _EMPTY_OK "
                "and not v)):",
            )
        ],
        {"_EMPTY_OK": (list, dict)},
    )


def _first_step_inline() -> None:
    """Run the handler coroutine's first step inline; ``drive()`` only if it suspends."""
    from asynclambda import execution

    @__import__("types").coroutine
    def drive_rest(ctx: Any, coro: Any, yielded: Any) -> Any:
        run, send = ctx.run, coro.send
        while True:
            try:
                value = yield yielded
            except BaseException as exc:
                try:
                    yielded = run(coro.throw, exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    yielded = run(send, value)
                except StopIteration as stop:
                    return stop.value

    patch_source(
        execution.ExecutionContext,
        "invoke",
        [
            (
                "            if type(result) is _Coroutine or inspect.isawaitable(result):\n"
                "                result = await drive(cv, result)",
                "            if type(result) is _Coroutine:\n"
                "                try:\n"
                "                    yielded = cv.run(result.send, None)\n"
                "                except StopIteration as stop:\n"
                "                    result = stop.value\n"
                "                else:\n"
                "                    result = await _drive_rest(cv, result, yielded)\n"
                "            elif inspect.isawaitable(result):\n"
                "                result = await drive(cv, result)",
            )
        ],
        {"_drive_rest": drive_rest},
    )


def _event_type_cache() -> None:
    """Read a handler's signature once per code object (by identity: every exec of a module
    reuses its functions' code objects), not at every context INIT."""
    from asynclambda import execution

    original = execution.event_type_for
    cache: dict[int, tuple[Any, Any]] = {}  # id(code) -> (code, event type): code kept alive

    def event_type_for(handler: Any) -> Any:
        code = getattr(inspect.unwrap(handler), "__code__", None)
        hit = cache.get(id(code)) if code is not None else None
        if hit is not None and hit[0] is code:
            return hit[1]
        found = original(handler)
        if code is not None:
            cache[id(code)] = (code, found)
        return found

    execution.event_type_for = event_type_for


def _no_annotations_fast_path() -> None:
    """No annotations at all: no signature to read (the common plain ``def handler``)."""
    from asynclambda import execution

    original = execution.event_type_for

    def event_type_for(handler: Any) -> Any:
        if not getattr(handler, "__annotations__", True):
            return None
        return original(handler)

    execution.event_type_for = event_type_for


def _log_stream_day() -> None:
    """The log stream name's day part changes once a day: format it once a day."""
    import datetime as _dt

    from asynclambda import runtime

    state: dict[str, Any] = {"day": -1, "text": ""}

    def new_log_stream_name(self: Any, version: str) -> str:
        now = self.clock.time()
        day = int(now // 86400)
        if day != state["day"]:
            state["day"] = day
            state["text"] = _dt.datetime.fromtimestamp(now, _dt.UTC).strftime("%Y/%m/%d")
        return f"{state['text']}/[{version}]{self.rng.getrandbits(128):032x}"

    runtime.Runtime.new_log_stream_name = new_log_stream_name


def _gc_disabled() -> None:
    """Diagnosis, not a change: no cyclic GC at all (how much of the tail is the collector?)."""
    import gc

    gc.disable()
    gc.enable = lambda: None  # measure.* calls gc.collect() only; keep it off


def _pyc_cache() -> None:
    """Load a file handler's code through ``SourceFileLoader.get_code``: the cached ``.pyc``
    when it is fresh (written otherwise), instead of compiling the source every time."""
    import importlib.machinery
    import os

    from asynclambda import handlers

    original = handlers._resolve_file

    def _resolve_file(spec: str, target: str, attribute: str) -> Any:
        path = os.path.abspath(target)
        name = os.path.splitext(os.path.basename(path))[0]
        try:
            code = importlib.machinery.SourceFileLoader(name, path).get_code(name)
        except (OSError, ImportError, SyntaxError):
            return original(spec, target, attribute)  # the original's error messages
        return handlers.LoadedSpec(
            spec, name, attribute, code, path, "", os.path.dirname(path), None
        )

    handlers._resolve_file = _resolve_file


def _pool_entry() -> None:
    """Estimate for a mapping-facing entry point: bytes in, pool resolved once (no lookup,
    no payload encoding or screening), the rest of the path unchanged (private API)."""
    from asynclambda.execution import Invocation
    from asynclambda.payloads import encode
    from benchmarks import bench_throughput

    original = _runtime.started
    raw = encode(bench_throughput.EVENT)

    def started(*args: Any, **kwargs: Any) -> Any:
        cm = original(*args, **kwargs)

        class Wrapped:
            async def __aenter__(self) -> Any:
                rt = await cm.__aenter__()
                pool, new_id = rt._functions["fn"].latest, rt._request_id
                slow = rt.invoke

                async def invoke(name: str, payload: Any = None, **kw: Any) -> Any:
                    if payload is not bench_throughput.EVENT:
                        return await slow(name, payload, **kw)
                    return await pool.invoke(Invocation(raw, new_id()))

                rt.invoke = invoke
                return rt

            async def __aexit__(self, *exc: Any) -> Any:
                return await cm.__aexit__(*exc)

        return Wrapped()

    _runtime.started = started  # type: ignore[assignment]


def _logger_cache() -> None:
    """``configure_logging``: ``cache_logger_on_first_use=True`` (binds the processor chain
    once instead of on every record)."""
    from asynclambda import observability

    patch_source(
        observability,
        "configure_logging",
        [("cache_logger_on_first_use=False", "cache_logger_on_first_use=True")],
    )


def _report_only() -> None:
    """One record per invoke: REPORT (with START's fields), no START and END records."""
    from asynclambda.observability import Observer

    patch_source(Observer, "start", [('self._log.info("START"', 'pass  # self._log.info("START"')])
    patch_source(Observer, "report", [('log.info("END", request_id=result.request_id)', "pass")])


#: Warm-path candidates. Already done upstream (f48d26b, measured here before it landed):
#: a tuple instead of ``bytes | bytearray | memoryview`` per call, one format per request id,
#: the flat-dict response fast path, billed duration on read, positional constructors. Tried
#: and dropped: calling the C functions behind 3.11's Python ``asyncio.current_task`` (0.18 ->
#: 0.06 us alone, no measurable change in the invoke).
_WARM_PATCHES: dict[str, Callable[[], None]] = {
    "request-flat": _request_flat,
    "flat-empty-containers": _flat_empty_containers,
    "first-step-inline": _first_step_inline,
}
_COLD_PATCHES: dict[str, Callable[[], None]] = {
    "event-type-cache": _event_type_cache,
    "no-annotations-fast-path": _no_annotations_fast_path,
    "log-stream-day": _log_stream_day,
    "pyc-cache": _pyc_cache,
}

#: Candidate changes: name -> (what it does, patch functions, config switches).
CANDIDATES: dict[str, tuple[str, list[Callable[[], None]], dict[str, Any]]] = {
    "baseline": ("the code as it is", [], {}),
    **{name: (fn.__doc__ or name, [fn], {}) for name, fn in _WARM_PATCHES.items()},
    "warm-all": ("every warm-path change above together", list(_WARM_PATCHES.values()), {}),
    **{name: (fn.__doc__ or name, [fn], {}) for name, fn in _COLD_PATCHES.items()},
    "cold-all": (
        "event-type-cache + no-annotations-fast-path + log-stream-day + pyc-cache",
        [_no_annotations_fast_path, _event_type_cache, _log_stream_day, _pyc_cache],
        {},
    ),
    "pool-entry": (_pool_entry.__doc__ or "", [_pool_entry], {}),
    "warm-all+pool-entry": (
        "every warm-path change and the pool entry point",
        [*_WARM_PATCHES.values(), _pool_entry],
        {},
    ),
    "gc-disabled": ("diagnosis: cyclic GC off (not a proposal)", [_gc_disabled], {}),
    "env-isolation-off": (
        "Runtime(isolate_environment=False): what the per-context environment costs",
        [],
        {"runtime": {"isolate_environment": False}},
    ),
}

_LOG_PATCHES: dict[str, Callable[[], None]] = {
    "logger-cache": _logger_cache,
    "report-only": _report_only,
}
CANDIDATES.update({name: (fn.__doc__ or name, [fn], {}) for name, fn in _LOG_PATCHES.items()})
CANDIDATES["logs-all"] = ("logger-cache + report-only", list(_LOG_PATCHES.values()), {})

#: Which candidates are worth measuring on which scenario.
SCENARIOS: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "warm": (
        "benchmarks.bench_warm_invoke:warm_invoke",
        {"handler": "async"},
        ["baseline", *_WARM_PATCHES, "warm-all", "env-isolation-off", "gc-disabled"],
    ),
    "throughput": (
        "benchmarks.bench_throughput:pipelined",
        {},
        ["baseline", *_WARM_PATCHES, "warm-all", "pool-entry", "warm-all+pool-entry"],
    ),
    "cold-module": (
        "benchmarks.bench_cold_start:same_context_path",
        {"kind": "module-compiled"},
        ["baseline", *_COLD_PATCHES, "cold-all", "env-isolation-off"],
    ),
    "cold-callable": (
        "benchmarks.bench_cold_start:same_context_path",
        {"kind": "callable"},
        ["baseline", *_COLD_PATCHES, "cold-all", "env-isolation-off"],
    ),
    "logs": (
        "benchmarks.bench_observability:invoke_logs",
        {"logs": "configure-json"},
        ["baseline", *_LOG_PATCHES, "logs-all"],
    ),
    "cold-fresh": (
        "benchmarks.bench_cold_start:fresh_file",
        {"n": 600, "warmup": 20, "modules": 650},
        ["baseline", "event-type-cache", "no-annotations-fast-path", "pyc-cache", "cold-all"],
    ),
}


# -- ablation -----------------------------------------------------------------------------------


def _child(scenario: str, candidate: str, percentiles: bool, seconds: float) -> dict[str, Any]:
    from benchmarks._child import percentiles_us, resolve

    fn_path, params, _ = SCENARIOS[scenario]
    _doc, patches, switches = CANDIDATES[candidate]
    try:
        for patch in patches:
            patch()
    except (PatchMismatch, AttributeError) as exc:
        # The code the candidate edits has moved on (often: the change has landed).
        return {"status": "mismatch", "error": f"{type(exc).__name__}: {exc}"}
    if "runtime" in switches:
        original = _runtime.started

        def started(*args: Any, **kwargs: Any) -> Any:
            kwargs["runtime"] = {**(kwargs.get("runtime") or {}), **switches["runtime"]}
            return original(*args, **kwargs)

        _runtime.started = started  # type: ignore[assignment]
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        result = loop.run_until_complete(
            resolve(fn_path)(
                Params(data={**params, "seconds": seconds}, percentiles=percentiles), loop
            )
        )
    finally:
        loop.close()
    out: dict[str, Any] = {"status": "ok", "per_event_us": result.per_event_s * 1e6}
    if result.samples_ns:
        out["percentiles_us"] = percentiles_us(result.samples_ns)
    return out


def ablate(scenario: str, reps: int, only: list[str], percentiles: bool, seconds: float) -> None:
    _fn, _params, names = SCENARIOS[scenario]
    names = [n for n in names if not only or n in only or n == "baseline"]
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for rep in range(reps):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for name in order:
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.profile_hot_path",
                    "_child",
                    scenario,
                    name,
                    *(["--percentiles"] if percentiles else []),
                    "--seconds",
                    str(seconds),
                ],
                capture_output=True,
                text=True,
                cwd=REPO_ROOT,
                check=False,
            )
            try:
                line = json.loads(proc.stdout.strip().splitlines()[-1])
            except (IndexError, json.JSONDecodeError):
                line = {"status": "error", "error": proc.stderr[-2000:]}
            runs[name].append(line)
            print(
                f"  rep {rep + 1}/{reps} {scenario}/{name}: {line.get('per_event_us', line)}",
                file=sys.stderr,
            )
    metric = "p50" if percentiles else "per_event_us"

    def value(r: dict[str, Any]) -> float | None:
        if r.get("status") != "ok":
            return None
        return r["percentiles_us"][metric] if percentiles else r["per_event_us"]

    base = [value(r) for r in runs["baseline"]]
    print(f"\n{scenario}: {metric} per event, median of {reps} paired repetitions")
    print(f"{'candidate':<26} {'us':>8} {'saves us':>9} {'saves %':>8}  what")
    for name in names:
        mine = [value(r) for r in runs[name]]
        if not any(v is not None for v in mine):
            print(f"{name:<26} {'-':>8} {'-':>9} {'-':>8}  {runs[name][0].get('error', '')}")
            continue
        med = statistics.median(v for v in mine if v is not None)
        saved = [b - m for b, m in zip(base, mine, strict=True) if b is not None and m is not None]
        pct = [
            (b - m) / b for b, m in zip(base, mine, strict=True) if b is not None and m is not None
        ]
        doc = CANDIDATES[name][0].strip().splitlines()[0]
        print(
            f"{name:<26} {med:8.3f} {statistics.median(saved):9.3f} "
            f"{statistics.median(pct):8.1%}  {doc}"
        )
        if percentiles:
            p99 = statistics.median(r["percentiles_us"]["p99"] for r in runs[name] if value(r))
            print(f"{'':<26} p99 {p99:.3f} us")


# -- profile ------------------------------------------------------------------------------------


async def _loop_warm(n: int) -> Callable[[], Any]:
    from benchmarks.bench_warm_invoke import async_handler

    cm = _runtime.started(async_handler)
    rt = await cm.__aenter__()
    call = functools.partial(rt.invoke, "fn", _runtime.EVENT)

    async def run(count: int) -> None:
        for _ in range(count):
            await call()

    await run(n // 10)
    run.close = cm.__aexit__  # type: ignore[attr-defined]
    return run


def profile(scenario: str, n: int, top: int) -> None:
    """cProfile ``n`` events of ``scenario``; print us per event at unprofiled speed."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    if scenario == "warm":
        run = loop.run_until_complete(_loop_warm(n))
        events = n

        def go() -> None:
            loop.run_until_complete(run(n))

    elif scenario == "throughput":
        from benchmarks import bench_throughput

        events = 2 * n  # a discarded warm-up chunk, then the chunk

        def go() -> None:
            loop.run_until_complete(
                bench_throughput.pipelined(Params(data={"n": n, "chunks": 1}), loop)
            )

    elif scenario in ("cold-module", "cold-callable"):
        from benchmarks import bench_cold_start

        kind = "module-compiled" if scenario == "cold-module" else "callable"
        events = n

        def go() -> None:
            loop.run_until_complete(
                bench_cold_start.same_context_path(Params(data={"kind": kind, "n": n}), loop)
            )

    else:
        raise SystemExit(
            f"unknown scenario {scenario!r}: warm, throughput, cold-module, cold-callable"
        )
    t0 = time.perf_counter()
    go()
    plain_us = (time.perf_counter() - t0) / events * 1e6
    profiler = cProfile.Profile()
    profiler.enable()
    go()
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in stats.values())
    scale = plain_us / (total / events * 1e6)
    print(
        f"{scenario}: {plain_us:.3f} us/event unprofiled (setup included for cold/throughput), "
        f"{total / events * 1e6:.3f} us profiled; columns are us/event at unprofiled speed"
    )
    print(f"{'self':>7} {'cumul':>7} {'calls':>6}  function")
    rows = sorted(stats.items(), key=lambda kv: -kv[1][2])[:top]
    for (path, line, name), (_cc, calls, tt, ct, _callers) in rows:
        short = "/".join(path.split("/")[-2:])
        print(
            f"{tt / events * 1e6 * scale:7.3f} {ct / events * 1e6 * scale:7.3f} "
            f"{calls / events:6.2f}  {name} ({short}:{line})"
        )
    loop.close()


# -- pieces ---------------------------------------------------------------------------------------


def pieces(n: int) -> None:
    """Each part of the warm path timed alone (best of 3 x ``n`` calls), against the whole."""
    from asynclambda import execution, payloads
    from asynclambda.invocation import InvocationResult, LambdaContext

    def clocked(fn: Callable[[], Any]) -> float:
        for _ in range(n // 10):
            fn()
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t0) / n * 1e6

    empty = min(clocked(lambda: None) for _ in range(3))
    print(f"(each line: us per call, net of the {empty:.3f} us a call to an empty lambda costs)")

    def timed(label: str, fn: Callable[[], Any]) -> None:
        best = min(clocked(fn) for _ in range(3))  # the least disturbed of three runs
        print(f"{best - empty:7.3f} us  {label}")

    async def main() -> None:
        from benchmarks.bench_warm_invoke import async_handler

        async with _runtime.started(async_handler) as rt:
            ev, res = _runtime.EVENT, {"ok": True, "n": 1}
            raw = payloads.encode_request(ev)
            info = rt.statistics  # keep rt referenced
            del info
            timed("asyncio.current_task()", asyncio.current_task)
            timed(
                "isinstance(x, bytes | bytearray | memoryview)",
                lambda: isinstance(ev, bytes | bytearray | memoryview),
            )
            timed(
                "isinstance(x, (bytes, bytearray, memoryview))",
                lambda: isinstance(ev, (bytes, bytearray, memoryview)),
            )
            timed("payloads.encode_request(event)", lambda: payloads.encode_request(ev))
            timed("payloads.decode(raw)", lambda: payloads.decode(raw))
            timed("payloads.encode_response(small dict)", lambda: payloads.encode_response(res))
            timed("  of which payloads._plain(small dict)", lambda: payloads._plain(res))
            timed("request id", rt._request_id)
            timed("Invocation(raw, request_id)", lambda: execution.Invocation(raw, "rid"))
            ctx_info = next(iter(rt._functions["fn"].latest._idle)).info
            timed("LambdaContext(...)", lambda: LambdaContext(ctx_info, "rid", 1.0))
            timed(
                "InvocationResult(...)",
                lambda: InvocationResult(
                    status_code=200,
                    raw_payload=b"{}",
                    request_id="rid",
                    executed_version="$LATEST",
                    duration_ms=0.01,
                ),
            )
            whole = functools.partial(rt.invoke, "fn", ev)
            t0 = time.perf_counter()
            for _ in range(n):
                await whole()
            print(f"{(time.perf_counter() - t0) / n * 1e6:7.3f} us  the whole rt.invoke")

    asyncio.run(main())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_hot_path")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("profile")
    p.add_argument("scenario", choices=["warm", "throughput", "cold-module", "cold-callable"])
    p.add_argument("-n", type=int, default=0, help="events (default: 200k warm, 5k cold)")
    p.add_argument("--top", type=int, default=30)
    p.add_argument(
        "--with", dest="candidate", default="baseline", help="profile with a candidate applied"
    )
    p = sub.add_parser("pieces")
    p.add_argument("-n", type=int, default=200_000)
    p = sub.add_parser("ablate")
    p.add_argument("--scenario", action="append", choices=list(SCENARIOS), default=[])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--only", action="append", default=[])
    p.add_argument("--percentiles", action="store_true", help="compare p50 (and show p99)")
    p.add_argument("--seconds", type=float, default=0.3)
    p = sub.add_parser("_child")
    p.add_argument("scenario")
    p.add_argument("candidate")
    p.add_argument("--percentiles", action="store_true")
    p.add_argument("--seconds", type=float, default=0.3)
    args = parser.parse_args(argv)
    if args.cmd == "profile":
        cold = args.scenario.startswith("cold")
        for patch in CANDIDATES[args.candidate][1]:
            patch()
        profile(args.scenario, args.n or (5_000 if cold else 200_000), args.top)
    elif args.cmd == "pieces":
        pieces(args.n)
    elif args.cmd == "ablate":
        for scenario in args.scenario or list(SCENARIOS):
            ablate(scenario, args.reps, args.only, args.percentiles, args.seconds)
    else:
        out = sys.stdout
        sys.stdout = sys.stderr
        try:
            line = _child(args.scenario, args.candidate, args.percentiles, args.seconds)
        except Exception as exc:
            line = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout = out
        print(json.dumps(line))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
