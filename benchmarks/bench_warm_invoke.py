"""Warm synchronous invoke: ``await rt.invoke("fn", {"n": 1})`` on an idle warm context.

The whole warm path, one invoke at a time: ``Runtime.invoke`` (lookup, encode the request, a
request id) -> ``ContextPool.invoke`` (limits, counters, take the idle context) ->
``ExecutionContext.invoke`` (deadline armed on the pool's watchdog, decode into the handler's
own copy, the handler's first step run inline as the context's own task, so no task switch unless
it suspends, encode the response) -> an ``InvocationResult``. The runtime is built with the library's defaults (environment
isolation on, invocation logs off); one warm-up invoke creates the context before any timing.

=================  ===========================================================================
async              ``async def handler(event, context): return {"ok": True, "n": 1}``. The
                   target: p50 <= 1.5x F3 p50, p99 <= 2x F3 p99 (stretch 1.2x), p99/p50 <= 2,
                   each paired per repetition on the same loop (the target "Warm sync
                   invoke"). Shown beside taskiq's request/response (peer).
sync-def           the same handler as a plain ``def``: runs on its context's own thread, the
                   result comes back through ``call_soon_threadsafe``. For information.
typed-sqs          ``async def handler(event: SQSEvent, context)`` invoked with a one-message
                   SQS event: the context decodes the request straight into the ``SQSEvent``
                   Struct. For information (the payload is 10x larger than ``{"n": 1}``).
=================  ===========================================================================

Run alone with ``python -m benchmarks.bench_warm_invoke [--quick]``.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from asynclambda.events import SQSEvent
from benchmarks import _runtime, measure
from benchmarks.harness import Target, on_loops
from benchmarks.measure import Measurement, Params

SCENARIO = "warm_invoke"
PEERS = ("taskiq/request-response", "taskiq/request-response-inplace")


async def async_handler(event: Any, context: Any) -> Any:
    return {"ok": True, "n": 1}


def sync_handler(event: Any, context: Any) -> Any:
    return {"ok": True, "n": 1}


async def typed_handler(event: SQSEvent, context: Any) -> Any:
    return {"ok": True, "n": len(event.records)}


_HANDLERS = {"async": async_handler, "sync-def": sync_handler, "typed-sqs": typed_handler}


async def warm_invoke(params: Params, loop: asyncio.AbstractEventLoop) -> Measurement:
    """``await rt.invoke(...)`` back to back on one warm context."""
    kind = str(params.get("handler", "async"))
    event = _runtime.SQS_EVENT if kind == "typed-sqs" else _runtime.EVENT
    async with _runtime.started(_HANDLERS[kind], warm=event) as rt:
        result = await measure.events(
            params,
            measure.awaiting(functools.partial(rt.invoke, "fn"), event),
            functools.partial(rt.invoke, "fn", event),
        )
        stats = _runtime.version_stats(rt)
        if stats["errors"] or stats["contexts_created"] != 1:
            raise RuntimeError(f"expected one warm context and no errors, got {stats}")
        result.extra["contexts"] = stats["contexts"]
        result.extra["invocations"] = stats["invocations"]
        return result


_FN = "benchmarks.bench_warm_invoke:warm_invoke"

CONFIGS = [
    *on_loops(
        scenario=SCENARIO,
        name="async",
        title="warm invoke, async handler",
        fn=_FN,
        params={"handler": "async"},
        floor="F3",
        targets=(
            Target("F3", 1.5, "p50"),
            Target("F3", 2.0, "p99", stretch=1.2),
            Target("", 2.0, "tail"),
        ),
        percentiles=True,
        compare=PEERS,
    ),
    *on_loops(
        scenario=SCENARIO,
        name="sync-def",
        title="warm invoke, plain def handler (thread)",
        fn=_FN,
        params={"handler": "sync-def"},
        floor="F3",
        percentiles=True,
    ),
    *on_loops(
        scenario=SCENARIO,
        name="typed-sqs",
        title="warm invoke, SQSEvent-typed handler",
        fn=_FN,
        params={"handler": "typed-sqs"},
        floor="F3",
        percentiles=True,
    ),
]

if __name__ == "__main__":
    from benchmarks.run_all import script

    script(SCENARIO)
