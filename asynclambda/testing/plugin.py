"""The asynclambda pytest plugin (registered through the ``pytest11`` entry point).

Fixtures:

* ``virtual_clock``: a fresh :class:`~asynclambda.clock.VirtualClock` (time moves only with
  ``await virtual_clock.advance(seconds)``).
* ``idempotency_store``: a fresh :class:`~asynclambda.idempotency.MemoryIdempotencyStore` on that
  virtual clock (records expire when the test advances it).

Kept import-light: nothing here imports Hypothesis (``asynclambda.testing`` loads its names
lazily), so installing asynclambda never slows down or breaks an unrelated test suite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from asynclambda.clock import VirtualClock

if TYPE_CHECKING:
    from asynclambda.idempotency import MemoryIdempotencyStore


@pytest.fixture
def virtual_clock() -> VirtualClock:
    """A virtual clock starting at 0 (wall time 2026-01-01T00:00:00Z)."""
    return VirtualClock()


@pytest.fixture
def idempotency_store(virtual_clock: VirtualClock) -> MemoryIdempotencyStore:
    """An empty in-memory idempotency store reading ``virtual_clock``."""
    from asynclambda.idempotency import MemoryIdempotencyStore

    return MemoryIdempotencyStore(clock=virtual_clock)
