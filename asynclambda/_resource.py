"""The lifecycle every backend and store shares: ``aclose()`` and ``async with``.

Like anyio's ``AsyncResource``: a subclass overrides :meth:`AsyncResource.aclose` when it holds
something to release (connections, timers); using it as an async context manager closes it.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

__all__ = ["AsyncResource"]


class AsyncResource:
    """Base class supplying ``aclose()`` (a no-op here) and ``async with`` that calls it."""

    async def aclose(self) -> None:
        """Release the resources held (connections, timers). Idempotent."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()
