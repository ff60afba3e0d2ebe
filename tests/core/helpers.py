"""Small helpers shared by the core tests (no sleeping: virtual time and events only)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")


def spawn(aw: Awaitable[T]) -> asyncio.Task[T]:
    """Start an awaitable in the background (the test awaits the task later)."""

    async def run() -> T:
        return await aw

    return asyncio.get_running_loop().create_task(run())


async def settle() -> None:
    """Let every runnable task run until all are blocked."""
    for _ in range(50):
        await asyncio.sleep(0)


def run(coro: Awaitable[Any]) -> Any:
    """Run a coroutine on a fresh event loop (for Hypothesis tests, which are sync)."""

    async def main() -> Any:
        return await coro

    return asyncio.run(main())
