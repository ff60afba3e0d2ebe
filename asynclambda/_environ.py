"""Per-execution-context environment variables over the process's ``os.environ``.

On Lambda each function runs in its own process, so ``os.environ["TABLE_NAME"]`` is that
function's setting. In-process, asynclambda gives each execution context an *overlay*: reads of
``os.environ`` / ``os.getenv`` made by code running in the context (handler, module body, init
hook, tasks it starts) see the function's variables and Lambda's own (``AWS_LAMBDA_FUNCTION_NAME``
...) on top of the process environment; writes made there stay in the overlay. Code outside any
execution context sees the plain process environment.

How: the class of the existing ``os.environ`` object is swapped for a subclass that consults a
context variable first, so every reference to it (including ``from os import environ`` made long
ago) gets the behaviour, and swapping the class back undoes it. Subprocesses started by a handler
inherit the *process* environment (the C-level one), not the overlay.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import functools
import os
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

__all__ = ["Overlay", "in_context", "inherit_threads", "install", "overlay_var", "uninherit_threads",
           "uninstall"]

_DELETED: Any = object()

#: The overlay of the execution context the current code runs in (``None`` outside any).
overlay_var: ContextVar[dict[str, Any] | None] = ContextVar("asynclambda_environ", default=None)

Overlay = dict[str, Any]

_Base: Any = type(os.environ)


class _ContextEnviron(_Base):  # type: ignore[misc]
    """``os._Environ`` that reads and writes the current execution context's overlay first."""

    def __getitem__(self, key: str) -> str:
        ov = overlay_var.get()
        if ov is not None and key in ov:
            value = ov[key]
            if value is _DELETED:
                raise KeyError(key)
            return value  # type: ignore[no-any-return]
        return super().__getitem__(key)  # type: ignore[no-any-return]

    def __setitem__(self, key: str, value: str) -> None:
        ov = overlay_var.get()
        if ov is None:
            super().__setitem__(key, value)
            return
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"str expected, not {type(key if not isinstance(key, str) else value).__name__}")
        ov[key] = value

    def __delitem__(self, key: str) -> None:
        ov = overlay_var.get()
        if ov is None:
            super().__delitem__(key)
            return
        if key not in self:
            raise KeyError(key)
        ov[key] = _DELETED

    def __contains__(self, key: object) -> bool:
        ov = overlay_var.get()
        if ov is not None and key in ov:
            return ov[key] is not _DELETED
        return super().__contains__(key)  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[str]:
        ov = overlay_var.get()
        if ov is None:
            yield from super().__iter__()
            return
        for key in super().__iter__():
            if key not in ov:
                yield key
        for key, value in list(ov.items()):
            if value is not _DELETED:
                yield key

    def __len__(self) -> int:
        ov = overlay_var.get()
        if ov is None:
            return super().__len__()  # type: ignore[no-any-return]
        return sum(1 for _ in self.__iter__())

    def copy(self) -> dict[str, str]:
        return dict(self.items())


_lock = threading.Lock()
_installs = 0


def install() -> None:
    """Turn the overlay on (reference-counted: each ``install`` needs one ``uninstall``)."""
    global _installs
    with _lock:
        if _installs == 0 and type(os.environ) is _Base:
            os.environ.__class__ = _ContextEnviron
        _installs += 1


def uninstall() -> None:
    """Undo one :func:`install`; the last one restores the plain ``os.environ``."""
    global _installs
    with _lock:
        if _installs == 0:
            return
        _installs -= 1
        if _installs == 0 and type(os.environ) is _ContextEnviron:
            os.environ.__class__ = _Base


# -- threads started by handler code inherit its execution context ---------------------------------
#
# Lambda runs a function in its own process, so every thread a handler starts sees the function's
# environment. In-process, the environment (and the context's modules and current invocation)
# lives in the execution context's ``contextvars.Context``, which a new thread does not inherit by
# default. While a runtime runs, a thread *started from inside an execution context* runs in a
# copy of that context, as asyncio.to_thread() does and as Python 3.14's thread_inherit_context
# makes the default; a job submitted to a ThreadPoolExecutor from inside a context (this includes
# loop.run_in_executor) runs in a copy of the submitter's context, while the pool's own worker
# threads inherit nothing, so a shared pool never carries one context's environment into
# another's jobs. Code outside any execution context is unaffected. Processes (subprocess,
# ProcessPoolExecutor) get the process environment: the overlay is not in the C environment.

#: True inside an execution context's ``contextvars.Context``.
in_context: ContextVar[bool] = ContextVar("asynclambda_in_context", default=False)

_original_start: Any = threading.Thread.start
_original_submit: Any = concurrent.futures.ThreadPoolExecutor.submit
_submitting = threading.local()
_thread_users = 0


def _start(self: threading.Thread) -> None:
    if in_context.get() and not getattr(_submitting, "active", False):
        run = self.run
        self.run = functools.partial(contextvars.copy_context().run, run)  # type: ignore[method-assign]
    _original_start(self)


def _submit(self: concurrent.futures.ThreadPoolExecutor, fn: Any, /, *args: Any,
            **kwargs: Any) -> Any:
    if not in_context.get():
        return _original_submit(self, fn, *args, **kwargs)
    run = contextvars.copy_context().run
    _submitting.active = True  # the pool may start a worker thread now: it inherits nothing
    try:
        return _original_submit(self, run, fn, *args, **kwargs)
    finally:
        _submitting.active = False


def inherit_threads() -> None:
    """Turn thread inheritance on (reference-counted, like :func:`install`)."""
    global _thread_users
    with _lock:
        if _thread_users == 0:
            threading.Thread.start = _start  # type: ignore[method-assign]
            concurrent.futures.ThreadPoolExecutor.submit = _submit  # type: ignore[method-assign,assignment]
        _thread_users += 1


def uninherit_threads() -> None:
    """Undo one :func:`inherit_threads`; the last one restores the standard library's."""
    global _thread_users
    with _lock:
        if _thread_users == 0:
            return
        _thread_users -= 1
        if _thread_users == 0:
            threading.Thread.start = _original_start  # type: ignore[method-assign]
            concurrent.futures.ThreadPoolExecutor.submit = _original_submit  # type: ignore[method-assign]
