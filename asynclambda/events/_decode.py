"""Finding the event Struct a handler declares, and decoding/encoding events with cached codecs.

msgspec's decoders are built once per type and reused (https://jcristharif.com/msgspec/perf-tips.html).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

__all__ = ["decoder_for", "encode", "event_type_for"]

_T = TypeVar("_T")

_DECODERS: dict[Any, msgspec.json.Decoder[Any]] = {}
_ENCODER = msgspec.json.Encoder()
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def decoder_for(tp: type[_T]) -> msgspec.json.Decoder[_T]:
    """A JSON decoder for ``tp``, built on first use and cached."""
    try:
        return _DECODERS[tp]
    except KeyError:
        return _DECODERS.setdefault(tp, msgspec.json.Decoder(tp))


def encode(obj: object) -> bytes:
    """``obj`` (an event Struct, or any msgspec-encodable value) as JSON bytes."""
    return _ENCODER.encode(obj)


def event_type_for(handler: Callable[..., Any]) -> type[msgspec.Struct] | None:
    """The ``msgspec.Struct`` type a handler's first parameter is annotated with, else ``None``.

    Decorators that use :func:`functools.wraps` are looked through; string annotations (such as
    those of ``from __future__ import annotations``) are resolved, and ``None`` is returned when
    they cannot be. Unannotated parameters and other annotations (``dict``, ``Any``...) give ``None``.
    """
    try:
        target = inspect.unwrap(handler)
        signature = inspect.signature(target)
    except (TypeError, ValueError):  # a __wrapped__ cycle, or a callable without a signature
        return None
    first = next((p for p in signature.parameters.values() if p.kind in _POSITIONAL), None)
    if first is None or first.annotation is inspect.Parameter.empty:
        return None
    annotation: object = first.annotation
    if isinstance(annotation, str | typing.ForwardRef):
        annotation = _resolved_hint(target, first.name)
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return annotation
    return None


def _resolved_hint(target: Callable[..., Any], name: str) -> object:
    # A callable object's annotations live on its __call__ method, not on the instance.
    candidates: list[object] = [target]
    if not inspect.isroutine(target) and not inspect.isclass(target):
        candidates.append(type(target).__call__)
    for candidate in candidates:
        try:
            hints = typing.get_type_hints(candidate)
        except Exception:  # an unresolvable name, or an object get_type_hints does not accept
            continue
        if name in hints:
            return hints[name]
    return None
