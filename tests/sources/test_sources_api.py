"""asynclambda.sources keeps its facade honest: a sorted __all__ of names that exist."""

from __future__ import annotations

import asynclambda.sources as sources


def test_all_is_sorted_and_importable() -> None:
    assert sources.__all__ == sorted(sources.__all__)
    for name in sources.__all__:
        assert getattr(sources, name) is not None


def test_the_components_follow_the_component_protocol() -> None:
    from asynclambda.types import Component

    for cls in (sources.QueueEventSourceMapping, sources.StreamEventSourceMapping,
                sources.Schedule):
        assert hasattr(cls, "start") and hasattr(cls, "aclose")
        assert issubclass(cls, Component)
