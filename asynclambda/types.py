"""The callable shapes asynclambda is built from. Reading this file explains the architecture.

An *event* (JSON) reaches a *handler* through an execution context that serves one invocation at a
time; the handler gets the event and a Lambda *context* object and returns a JSON-encodable result.
Handlers are async or plain callables, or a ``"module:func"`` / ``"file.py:func"`` string loaded
per execution context. Every timer reads an injected :class:`Clock`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, runtime_checkable

if TYPE_CHECKING:
    from .invocation import LambdaContext

__all__ = [
    "JSON",
    "AsyncHandler",
    "Clock",
    "Component",
    "Handler",
    "HandlerSpec",
    "InitHook",
    "ShutdownHook",
    "SyncHandler",
    "Timer",
]

#: A decoded JSON value (what handlers receive and return).
JSON: TypeAlias = "dict[str, Any] | list[Any] | str | int | float | bool | None"

#: ``async def handler(event, context)``
AsyncHandler: TypeAlias = "Callable[[Any, LambdaContext], Awaitable[Any]]"
#: ``def handler(event, context)``: runs on the execution context's own thread.
SyncHandler: TypeAlias = "Callable[[Any, LambdaContext], Any]"
#: Either form.
Handler: TypeAlias = "Callable[[Any, LambdaContext], Any]"
#: A handler, or a string naming one: ``"package.module:func"`` or ``"path/to/file.py:func"``.
HandlerSpec: TypeAlias = "Handler | str"

#: Runs once per execution context during INIT (after the handler is loaded); what it returns is
#: available to every invocation of that context as ``context.state``. May be async.
InitHook: TypeAlias = "Callable[[Any], Any]"
#: Runs once per execution context during SHUTDOWN (2 s limit), with the init hook's state.
ShutdownHook: TypeAlias = "Callable[[Any], Any]"


@runtime_checkable
class Timer(Protocol):
    """A scheduled callback (what :meth:`Clock.call_at` returns)."""

    when: float

    def cancel(self) -> None: ...


@runtime_checkable
class Clock(Protocol):
    """Time, injected. :class:`~asynclambda.clock.RealClock` or ``VirtualClock`` for tests."""

    def now(self) -> float:
        """Monotonic seconds: deadlines, durations and timers use this."""
        ...

    def time(self) -> float:
        """Wall-clock seconds since the epoch: timestamps in records use this."""
        ...

    def call_at(self, when: float, callback: Callable[[], Any]) -> Timer:
        """Run ``callback`` (on the event loop) once ``now() >= when``."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Return once ``now() >= deadline``."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return after ``seconds`` of this clock's time."""
        ...


@runtime_checkable
class Component(Protocol):
    """Something the runtime starts and stops with itself: an event source poller, a scheduler,
    an async event queue worker. ``start`` returns once it is ready (it may spawn background work
    with ``runtime.spawn``); ``aclose`` stops its intake (first stage of the runtime's shutdown,
    before in-flight invocations drain)."""

    async def start(self, runtime: Any) -> None: ...

    async def aclose(self) -> None: ...
