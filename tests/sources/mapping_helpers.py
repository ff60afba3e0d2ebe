"""Helpers for the mapping and schedule tests: drive a VirtualClock until a condition holds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from asynclambda.clock import VirtualClock


async def run_until(clock: VirtualClock, done: Callable[[], bool], *,
                    limit: float = 1_000_000.0) -> None:
    """Jump from timer to timer until ``done()`` (pollers re-arm timers, so this never idles).

    Fails if ``limit`` virtual seconds pass first: a mapping that never finishes is a bug.
    """
    end = clock.now() + limit
    await clock.settle()
    while not done():
        if clock.now() >= end:
            raise AssertionError(f"condition not reached within {limit} virtual seconds")
        if not await clock.advance_to_next():
            await clock.advance(1.0)


def run(coro_fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run an async test body on a fresh event loop (Hypothesis tests are synchronous)."""
    return asyncio.run(coro_fn())  # type: ignore[arg-type]
