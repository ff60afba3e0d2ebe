"""The floors: the physical limits every target is a ratio to.

Each floor is the cheapest code that does the same kind of work as a part of the runtime, with
a handler that does nothing (``async def handler(ev): return ev``), so that
``runtime / floor`` is the runtime's own overhead:

==============  ===============================================================================
F1              ``await handler(ev)`` in a loop
F2              ``asyncio.Queue`` (bounded) producer -> one consumer task -> ``await handler``
F3              request/response: put ``(ev, future)`` on a queue, the consumer resolves it
F4              ``create_task(handler(ev))`` + await, per event
anyio-stream    anyio memory object stream send -> consumer receive -> ``await handler``
C0              ``exec`` of a small compiled module body into a fresh dict
C1              importing a small module from cached bytecode (removed from sys.modules after)
P0              ``os.fork`` + child ``_exit`` + ``waitpid`` from a process holding the handler
==============  ===============================================================================

Scenario scripts name these as ``floor="F2"`` / ``target=("F2", 4.0)``; a floor on the same event
loop as the config is picked. Run alone with ``python -m benchmarks.floors [--quick]``.
"""

from __future__ import annotations

import asyncio
import compileall
import contextlib
import importlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import measure
from benchmarks.harness import Config, on_loops
from benchmarks.measure import Measurement, Params

SCENARIO = "floors"

EVENT: dict[str, Any] = {"id": "evt-1", "body": '{"n": 1}'}

#: The body C0 executes and C1 imports: a few defs and a class, like a small handler module.
MODULE_SOURCE = '''\
"""A small handler module."""
import json

TABLE = {"a": 1, "b": 2, "c": 3}


def parse(body):
    return json.loads(body)


def render(value):
    return json.dumps(value, separators=(",", ":"))


async def handler(event, context):
    return render(parse(event["body"]))


class Settings:
    retries = 2
    timeout = 3.0

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"Settings({self.name!r})"
'''


async def handler(ev: Any) -> Any:
    """The do-nothing handler every floor awaits."""
    return ev


async def _stop(*tasks: asyncio.Task[Any]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


# -- event-loop floors -----------------------------------------------------------------------------


async def f1_bare_await(params: Params, loop: asyncio.AbstractEventLoop) -> Measurement:
    """F1: ``await handler(ev)`` in a loop."""
    return await measure.events(params, measure.awaiting(handler, EVENT))


async def f2_queue(params: Params, loop: asyncio.AbstractEventLoop) -> Measurement:
    """F2: bounded ``asyncio.Queue``, one consumer task awaiting the handler per event."""
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=int(params.get("maxsize", 1024)))
    remaining = 0
    done: asyncio.Future[None] = loop.create_future()

    async def consumer() -> None:
        nonlocal remaining
        while True:
            ev = await queue.get()
            await handler(ev)
            remaining -= 1
            if not remaining:
                done.set_result(None)

    async def batch(n: int) -> None:
        nonlocal remaining, done
        remaining, done = n, loop.create_future()
        for _ in range(n):
            await queue.put(EVENT)
        await done

    task = loop.create_task(consumer())
    try:
        return await measure.events(params, batch)
    finally:
        await _stop(task)


async def f3_request_response(params: Params, loop: asyncio.AbstractEventLoop) -> Measurement:
    """F3: put ``(ev, future)`` on a queue, await the future the consumer resolves."""
    queue: asyncio.Queue[tuple[Any, asyncio.Future[Any]]] = asyncio.Queue()

    async def consumer() -> None:
        while True:
            ev, fut = await queue.get()
            fut.set_result(await handler(ev))

    async def one() -> Any:
        fut = loop.create_future()
        queue.put_nowait((EVENT, fut))
        return await fut

    async def batch(n: int) -> None:
        create, put = loop.create_future, queue.put_nowait
        for _ in range(n):
            fut = create()
            put((EVENT, fut))
            await fut

    task = loop.create_task(consumer())
    try:
        return await measure.events(params, batch, one)
    finally:
        await _stop(task)


async def f4_task_per_event(params: Params, loop: asyncio.AbstractEventLoop) -> Measurement:
    """F4: ``await loop.create_task(handler(ev))`` per event."""

    async def batch(n: int) -> None:
        create = loop.create_task
        for _ in range(n):
            await create(handler(EVENT))

    return await measure.events(params, batch)


async def anyio_stream(params: Params, loop: asyncio.AbstractEventLoop) -> Measurement:
    """anyio memory object stream: producer ``send`` -> consumer ``receive`` -> handler."""
    import anyio

    send, receive = anyio.create_memory_object_stream[Any](
        max_buffer_size=int(params.get("maxsize", 1024))
    )
    remaining = 0
    done: asyncio.Future[None] = loop.create_future()

    async def consumer() -> None:
        nonlocal remaining
        async for ev in receive:
            await handler(ev)
            remaining -= 1
            if not remaining:
                done.set_result(None)

    async def batch(n: int) -> None:
        nonlocal remaining, done
        remaining, done = n, loop.create_future()
        for _ in range(n):
            await send.send(EVENT)
        await done

    task = loop.create_task(consumer())
    try:
        return await measure.events(params, batch)
    finally:
        await _stop(task)
        send.close()
        receive.close()


# -- cold-start floors -----------------------------------------------------------------------------


def c0_module_body(params: Params, loop: asyncio.AbstractEventLoop) -> Measurement:
    """C0: ``exec`` the compiled :data:`MODULE_SOURCE` into a fresh module dict."""
    code = compile(MODULE_SOURCE, "<c0-module>", "exec")

    def batch(n: int) -> None:
        for _ in range(n):
            exec(code, {"__name__": "c0_module"})

    return measure.events_sync(params, batch)


def c1_fresh_import(params: Params, loop: asyncio.AbstractEventLoop) -> Measurement:
    """C1: import one of ``modules`` precompiled copies of :data:`MODULE_SOURCE`, then forget it.

    Removing the module from ``sys.modules`` makes the next import of it a full load (finder,
    stat, read the .pyc, unmarshal, exec) with the directory listing cached, as for any
    package whose directory was already scanned.
    """
    count = int(params.get("modules", 200))
    root = Path(tempfile.mkdtemp(prefix="asynclambda-c1-"))
    package = f"c1pkg_{os.getpid()}"
    pkg_dir = root / package
    pkg_dir.mkdir()
    (pkg_dir / "__init__.py").write_text("")
    for i in range(count):
        (pkg_dir / f"m{i}.py").write_text(MODULE_SOURCE)
    compileall.compile_dir(pkg_dir, quiet=1)
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    names = [f"{package}.m{i}" for i in range(count)]
    importlib.import_module(package)
    cursor = 0
    modules, import_module = sys.modules, importlib.import_module

    def batch(n: int) -> None:
        nonlocal cursor
        for _ in range(n):
            name = names[cursor % count]
            cursor += 1
            import_module(name)
            del modules[name]

    try:
        result = measure.events_sync(params, batch)
        result.extra["modules"] = count
        return result
    finally:
        sys.path.remove(str(root))
        shutil.rmtree(root, ignore_errors=True)


def p0_fork(params: Params, loop: asyncio.AbstractEventLoop) -> Measurement:
    """P0: ``os.fork`` a process that already holds a loaded handler; child ``_exit``; waitpid."""
    namespace: dict[str, Any] = {"__name__": "p0_handler_module"}
    exec(compile(MODULE_SOURCE, "<p0-module>", "exec"), namespace)  # the handler it holds

    def one() -> None:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the forked child
            os._exit(0)
        os.waitpid(pid, 0)

    def batch(n: int) -> None:
        for _ in range(n):
            one()

    return measure.events_sync(params, batch, one)


# -- configs ---------------------------------------------------------------------------------------

_FN = "benchmarks.floors:"

CONFIGS: list[Config] = [
    *on_loops(scenario=SCENARIO, name="F1", title="F1 bare await", fn=_FN + "f1_bare_await"),
    *on_loops(
        scenario=SCENARIO, name="F2", title="F2 queue hand-off", fn=_FN + "f2_queue", floor="F1"
    ),
    *on_loops(
        scenario=SCENARIO,
        name="F3",
        title="F3 request/response",
        fn=_FN + "f3_request_response",
        floor="F2",
        latency_floor="",  # F3 is itself the latency floor
        percentiles=True,
    ),
    *on_loops(
        scenario=SCENARIO,
        name="F4",
        title="F4 task per event",
        fn=_FN + "f4_task_per_event",
        floor="F2",
    ),
    *on_loops(
        scenario=SCENARIO,
        name="anyio-stream",
        title="anyio memory stream",
        fn=_FN + "anyio_stream",
        floor="F2",
    ),
    Config(
        scenario=SCENARIO, name="C0", title="C0 module body", fn=_FN + "c0_module_body", loop="none"
    ),
    Config(
        scenario=SCENARIO,
        name="C1",
        title="C1 fresh import",
        fn=_FN + "c1_fresh_import",
        loop="none",
        floor="C0",
        quick_params={"modules": 8},
    ),
    Config(
        scenario=SCENARIO,
        name="P0",
        title="P0 os.fork",
        fn=_FN + "p0_fork",
        loop="none",
        quick_params={"quick_n": 3},
    ),
]

if __name__ == "__main__":
    from benchmarks.run_all import script

    script(SCENARIO)
