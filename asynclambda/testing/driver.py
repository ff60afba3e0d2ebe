"""Drive a running :class:`~asynclambda.Runtime` from synchronous code (state machines, REPLs).

Hypothesis' ``RuleBasedStateMachine`` calls rules synchronously, but a runtime must be started and
closed by *one* task (it owns an anyio task group). :class:`RuntimeDriver` keeps a private event
loop with one long-lived task that enters ``async with runtime:`` and runs every command you send
it, so each rule is a plain call::

    driver = RuntimeDriver(lambda: Runtime(clock=VirtualClock()))
    result = driver.run(lambda rt: rt.invoke("fn", {"n": 1}))
    driver.run(lambda rt: rt.clock.advance(60))
    driver.close()
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from asynclambda.clock import VirtualClock
from asynclambda.runtime import Runtime

__all__ = ["RuntimeDriver"]

T = TypeVar("T")
_STOP: Any = object()


class RuntimeDriver:
    """Runs a runtime in a private event loop; :meth:`run` executes one command in it."""

    def __init__(self, make_runtime: Callable[[], Runtime]) -> None:
        self.loop = asyncio.new_event_loop()
        self._commands: asyncio.Queue[Any] = asyncio.Queue()
        self._ready: asyncio.Future[Runtime] = self.loop.create_future()
        self._main = self.loop.create_task(self._serve(make_runtime))
        self.runtime = self.loop.run_until_complete(self._ready)

    async def _serve(self, make_runtime: Callable[[], Runtime]) -> None:
        try:
            runtime = make_runtime()
            async with runtime:
                self._ready.set_result(runtime)
                while True:
                    command = await self._commands.get()
                    if command is _STOP:
                        return
                    fn, fut = command
                    try:
                        fut.set_result(await fn(runtime))
                    except BaseException as exc:  # handed to the caller of run()
                        fut.set_exception(exc)
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
            raise

    def run(self, command: Callable[[Runtime], Awaitable[T]]) -> T:
        """Run ``await command(runtime)`` inside the runtime's task and return its result."""
        if self._main.done():
            raise RuntimeError("the driver is closed")
        fut: asyncio.Future[T] = self.loop.create_future()
        self._commands.put_nowait((command, fut))
        return self.loop.run_until_complete(fut)

    def close(self) -> None:
        """Close the runtime (its ``async with`` exits) and the loop.

        With a :class:`~asynclambda.clock.VirtualClock`, time jumps ahead whenever everything is
        blocked while closing, so in-flight work waiting on virtual time (or the shutdown grace
        period) cannot hang the close.
        """
        if not self._main.done():
            self._commands.put_nowait(_STOP)
            clock = self.runtime.clock
            if isinstance(clock, VirtualClock):
                self.loop.run_until_complete(self._close_with_autojump(clock))
            else:
                self.loop.run_until_complete(self._main)
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    async def _close_with_autojump(self, clock: VirtualClock) -> None:
        async with clock.autojump():
            await asyncio.wait([self._main])
        await self._main

    def __enter__(self) -> RuntimeDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
