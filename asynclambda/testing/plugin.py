"""The asynclambda pytest plugin (registered through the ``pytest11`` entry point).

Fixtures:

* ``virtual_clock``: a fresh :class:`~asynclambda.clock.VirtualClock` (time moves only with
  ``await virtual_clock.advance(seconds)``).

Kept import-light: nothing here imports Hypothesis, so installing asynclambda never slows down
or breaks an unrelated test suite.
"""

from __future__ import annotations

import pytest

from asynclambda.clock import VirtualClock


@pytest.fixture
def virtual_clock() -> VirtualClock:
    """A virtual clock starting at 0 (wall time 2026-01-01T00:00:00Z)."""
    return VirtualClock()
