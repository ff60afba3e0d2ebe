"""In-process cold start: what the runtime adds on top of the user's own INIT.

Each event is **one cold invoke: INIT + the first invoke on a brand-new execution context**,
timed on its own (``measure.each``); what must happen before the next cold start runs untimed
in between.

How a cold start is forced: after each invoke the (now idle) context is discarded at once, the
way the reaper's SHUTDOWN ends it, so the next invoke finds the pool empty and creates a context:
INIT (a new ``contextvars.Context``, the environment overlay, loading the handler: executing the
module body, reading the handler's signature, the init hook), then INVOKE. Nothing else runs in
between, so cold starts run back to back with the CPU's caches as warm as C0's and C1's loops
have them: the ratio compares like with like. This reaches two private names,
``pool._idle`` and ``ExecutionContext.discard`` (there is no public "drop the idle contexts now");
if they change, the scenario fails loudly rather than measure something else.

``module-reaped`` is the public-API way for comparison: ``keep_alive=0``, so the release arms the
reaper (a loop timer) and the untimed step yields to the loop until the reaper has shut the
context down (a task in the runtime's task group). The extra it shows (~10 us) is not INIT work:
a cold start that follows loop activity (a timer, a task, a select call) runs with colder CPU
caches; it is what a cold start costs in a process that was doing something else.

=================  ===========================================================================
module-compiled    ``"/tmp/.../handler_module.py:handler"`` whose code the runtime compiled at
                   the first invoke (untimed); each cold start re-executes the module body.
                   The module is :data:`benchmarks.floors.MODULE_SOURCE`, the body C0 executes,
                   so the ratio is the runtime's INIT and first invoke over the user's own
                   module body. Target <= 2x C0.
module-init-only   the same, minus a warm invoke of the same handler timed the same way in
                   the same process: INIT's own cost (what a cold start adds to an invoke).
                   For information: it is the reading of the target "runtime overhead
                   on top of the user's own init" that leaves out the first invoke.
module-reaped      the same through ``keep_alive=0`` and the reaper (see above). For information.
fresh-file         a new module file and a new function per cold start (files, their ``.pyc``
                   as C1 has, and the functions all created before timing), so the runtime must
                   find, read and compile (or load) the module. Target <= 1.25x C1.
init-hook          a callable handler with an ``init`` hook doing real work (a dict of 10,000
                   entries), vs ``hook-alone``: the same hook called bare. For information.
callable           a callable handler, no module, no hook: the runtime's own cold-start cost
                   (vs C0 for scale). For information.
=================  ===========================================================================

Run alone with ``python -m benchmarks.bench_cold_start [--quick]``.
"""

from __future__ import annotations

import asyncio
import os
import py_compile
import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import _runtime, measure
from benchmarks.floors import EVENT, MODULE_SOURCE
from benchmarks.harness import Config, Target, on_loops
from benchmarks.measure import Measurement, Params

SCENARIO = "cold_start"
HOOK_ENTRIES = 10_000


async def callable_handler(event: Any, context: Any) -> Any:
    return {"ok": True}


def init_hook(info: Any) -> dict[str, int]:
    """Real INIT work: build a lookup table of :data:`HOOK_ENTRIES` entries."""
    return {f"key-{i}": i for i in range(HOOK_ENTRIES)}


def _contexts(rt: Any, name: str) -> int:
    return int(rt.statistics().functions[name].versions["$LATEST"].contexts)


async def _reaped(rt: Any, name: str) -> None:
    """Untimed: yield until the keep_alive=0 reaper has shut the idle context down."""
    for _ in range(1000):
        if not _contexts(rt, name):
            return
        await asyncio.sleep(0)
    raise RuntimeError("the idle context was not reaped (keep_alive=0)")


async def _discarded(rt: Any, name: str) -> None:
    """Untimed: end the idle context at once (private API, see the module docstring)."""
    pool = rt._functions[name].latest
    idle = pool._idle
    if len(idle) != 1:
        raise RuntimeError(f"expected one idle context, found {len(idle)}")
    idle.pop().discard(reset=False)


def _module_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="asynclambda-cold-"))


def _write_module(directory: Path, stem: str) -> Path:
    path = directory / f"{stem}.py"
    path.write_text(MODULE_SOURCE)
    py_compile.compile(str(path), doraise=True)  # its cached bytecode exists, as for C1
    return path


async def same_context_path(params: Params, loop: asyncio.AbstractEventLoop) -> Measurement:
    """Cold starts of one function, one at a time (``kind``: module-compiled/init-hook/callable;
    ``reaped``: through keep_alive=0 and the reaper instead of a direct discard)."""
    kind = str(params.get("kind", "module-compiled"))
    reaped = bool(params.get("reaped", False))
    end = _reaped if reaped else _discarded
    directory = _module_dir()
    try:
        config: dict[str, Any] = {"keep_alive": 0} if reaped else {}
        if kind == "module-compiled":
            handler: Any = f"{_write_module(directory, 'handler_module')}:handler"
        else:
            handler = callable_handler
        if kind == "init-hook":
            config["init"] = init_hook
        # The warm-up invoke compiles the module (module-compiled): not billed to any event.
        async with _runtime.started(handler, warm=EVENT, **config) as rt:
            await end(rt, "fn")

            async def one() -> None:
                _runtime.check(await rt.invoke("fn", EVENT))

            async def between() -> None:
                await end(rt, "fn")

            result = await measure.each(params, one, between)
            stats = _runtime.version_stats(rt)
            if stats["cold_starts"] != stats["invocations"] or stats["errors"]:
                raise RuntimeError(f"not every invoke was a clean cold start: {stats}")
            result.extra.update(
                cold_starts=stats["cold_starts"],
                init_ms_avg=stats["init_duration_ms_sum"] / stats["cold_starts"],
            )
            if not reaped:
                # The same invoke on the context kept warm, timed the same way: cold - warm is
                # what INIT alone costs (the first invoke would cost the warm invoke anyway).
                await one()
                warm = await measure.each(
                    Params(data={"n": max(200, result.events)}, quick=params.quick), one
                )
                cold_us, warm_us = result.per_event_s * 1e6, warm.per_event_s * 1e6
                result.extra.update(cold_us=cold_us, warm_us=warm_us, init_us=cold_us - warm_us)
                if params.get("init_only"):
                    result.per_event_s -= warm.per_event_s
                    result.samples_ns = None
        return result
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def fresh_file(params: Params, loop: asyncio.AbstractEventLoop) -> Measurement:
    """One new module file and one new function per cold start, all created before timing."""
    count = int(params.get("modules", 2_000))
    directory = _module_dir()
    prefix = f"fresh_{os.getpid()}_"
    try:
        async with _runtime.started(callable_handler, name="warm", warm=EVENT) as rt:
            names = []
            for i in range(count):
                path = _write_module(directory, f"{prefix}{i}")
                rt.add_function(f"f{i}", f"{path}:handler")
                names.append(f"f{i}")
            cursor = 0

            async def one() -> None:
                nonlocal cursor
                if cursor == count:
                    raise RuntimeError(f"more cold starts than modules ({count}): raise 'modules'")
                name = names[cursor]
                cursor += 1
                _runtime.check(await rt.invoke(name, EVENT))

            result = await measure.each(params, one)
            stats = rt.statistics()
        # Every function invoked ran once, cold; plus "warm".
        cold = sum(f.total("cold_starts") for f in stats.functions.values())
        if cold != cursor + 1:
            raise RuntimeError(f"expected {cursor + 1} cold starts, got {cold:g}")
        result.extra["functions"] = count
        return result
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def hook_alone(params: Params, loop: asyncio.AbstractEventLoop) -> Measurement:
    """The init hook's own work, called bare: the user's INIT cost for ``init-hook``."""

    def batch(n: int) -> None:
        for _ in range(n):
            init_hook(None)

    return measure.events_sync(params, batch)


_FN = "benchmarks.bench_cold_start:"
_QUICK = {"quick_n": 20}

CONFIGS = [
    *on_loops(
        scenario=SCENARIO,
        name="module-compiled",
        title="cold start, module compiled (re-exec body)",
        fn=_FN + "same_context_path",
        params={"kind": "module-compiled"},
        target=Target("C0", 2.0),
        quick_params=_QUICK,
    ),
    *on_loops(
        scenario=SCENARIO,
        name="module-init-only",
        title="module compiled: INIT alone (cold - warm invoke)",
        fn=_FN + "same_context_path",
        params={"kind": "module-compiled", "init_only": True},
        floor="C0",
        quick_params=_QUICK,
    ),
    *on_loops(
        scenario=SCENARIO,
        name="module-reaped",
        title="cold start, module compiled, via keep_alive=0 reaper",
        fn=_FN + "same_context_path",
        params={"kind": "module-compiled", "reaped": True},
        floor="C0",
        quick_params=_QUICK,
    ),
    *on_loops(
        scenario=SCENARIO,
        name="fresh-file",
        title="cold start, fresh module file",
        fn=_FN + "fresh_file",
        params={"n": 1_500, "warmup": 50, "modules": 1_600},
        target=Target("C1", 1.25),
        quick_params={"n": 20, "warmup": 2, "modules": 30},
    ),
    *on_loops(
        scenario=SCENARIO,
        name="init-hook",
        title="cold start, callable + init hook (10k dict)",
        fn=_FN + "same_context_path",
        params={"kind": "init-hook"},
        floor="hook-alone",
        quick_params={"quick_n": 5},
    ),
    Config(
        scenario=SCENARIO,
        name="hook-alone",
        title="the init hook alone (10k dict)",
        fn=_FN + "hook_alone",
        loop="none",
        quick_params={"quick_n": 5},
    ),
    *on_loops(
        scenario=SCENARIO,
        name="callable",
        title="cold start, callable handler (no module)",
        fn=_FN + "same_context_path",
        params={"kind": "callable"},
        floor="C0",
        quick_params=_QUICK,
    ),
]

if __name__ == "__main__":
    from benchmarks.run_all import script

    script(SCENARIO)
