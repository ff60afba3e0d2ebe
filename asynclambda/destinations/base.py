"""The destination interface and the kinds of destination asynclambda ships."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import msgspec

from asynclambda.errors import ConfigError

if TYPE_CHECKING:
    from asynclambda.sources.queue import QueueBackend

__all__ = ["CallableDestination", "Destination", "FunctionDestination", "QueueDestination",
           "RecordingDestination", "as_destination"]

_encode = msgspec.json.Encoder(decimal_format="number").encode


@runtime_checkable
class Destination(Protocol):
    """Receives records. ``deliver`` raising means *not delivered*: the caller retries and counts
    the failure (``DestinationDeliveryFailures`` / ``DeadLetterErrors``), never drops silently."""

    async def deliver(self, record: Mapping[str, Any]) -> None: ...


class CallableDestination:
    """Calls ``fn(record)`` (awaited if it returns an awaitable)."""

    __slots__ = ("fn", "name")

    def __init__(self, fn: Callable[[Mapping[str, Any]], Any], name: str | None = None) -> None:
        if not callable(fn):
            raise ConfigError("destination", fn, "must be callable")
        self.fn = fn
        self.name = name or getattr(fn, "__qualname__", repr(fn))

    async def deliver(self, record: Mapping[str, Any]) -> None:
        out = self.fn(record)
        if inspect.isawaitable(out):
            await out

    def __repr__(self) -> str:
        return f"CallableDestination({self.name})"


class RecordingDestination:
    """Keeps every delivered record, in order, in ``records`` (for tests and demos)."""

    def __init__(self, name: str = "recording") -> None:
        self.name = name
        self.records: list[dict[str, Any]] = []

    async def deliver(self, record: Mapping[str, Any]) -> None:
        # A decoded copy: later changes to the caller's object never show up here.
        self.records.append(msgspec.json.decode(_encode(record)))

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return f"RecordingDestination({self.name!r}, records={len(self.records)})"


class QueueDestination:
    """Sends each record as a JSON message body to ``queue`` on ``backend``."""

    __slots__ = ("backend", "message_attributes", "queue")

    def __init__(self, backend: QueueBackend, queue: str,
                 message_attributes: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None
                 ) -> None:
        self.backend = backend
        self.queue = queue
        self.message_attributes = message_attributes

    async def deliver(self, record: Mapping[str, Any]) -> None:
        attrs = self.message_attributes(record) if self.message_attributes else None
        await self.backend.send(self.queue, _encode(record).decode(),
                                message_attributes=dict(attrs) if attrs else None)

    async def deliver_dead_letter(self, body: bytes,
                                  attributes: Mapping[str, Mapping[str, str]]) -> None:
        """A dead letter as Lambda sends it to SQS: the original event as the body, with the
        ``RequestID`` / ``ErrorCode`` / ``ErrorMessage`` message attributes."""
        from asynclambda.sources.queue import MessageAttributeValue

        attrs = {name: MessageAttributeValue(data_type=a["dataType"],
                                             string_value=a["stringValue"])
                 for name, a in attributes.items()}
        await self.backend.send(self.queue, body.decode(), message_attributes=attrs)

    def __repr__(self) -> str:
        return f"QueueDestination(queue={self.queue!r})"


class FunctionDestination:
    """Invokes ``function`` asynchronously (``invocation_type="Event"``) with the record."""

    __slots__ = ("function", "qualifier", "runtime")

    def __init__(self, runtime: Any, function: str, qualifier: str | None = None) -> None:
        self.runtime = runtime
        self.function = function
        self.qualifier = qualifier

    async def deliver(self, record: Mapping[str, Any]) -> None:
        await self.runtime.invoke(self.function, dict(record), qualifier=self.qualifier,
                                  invocation_type="Event")

    def __repr__(self) -> str:
        return f"FunctionDestination({self.function!r})"


def as_destination(target: Any, runtime: Any = None, *, field: str = "destination"
                   ) -> Destination:
    """Turn a configured target into a :class:`Destination`, or raise ``ConfigError`` naming it.

    Accepts a destination object, a callable, or ``"function:NAME[:QUALIFIER]"`` / a function
    ARN naming a function registered on ``runtime`` (checked now, not when a failure happens).
    """
    if isinstance(target, str):
        return _function_target(target, runtime, field)
    if hasattr(target, "deliver") and callable(target.deliver):
        return target  # type: ignore[no-any-return]
    if callable(target):
        return CallableDestination(target)
    raise ConfigError(field, target,
                      "must be a destination, a callable, or 'function:NAME' / a function ARN")


def _function_target(target: str, runtime: Any, field: str) -> FunctionDestination:
    if target.startswith("function:"):
        rest = target[len("function:"):]
    elif target.startswith("arn:") and ":function:" in target:
        rest = target.split(":function:", 1)[1]
    else:
        raise ConfigError(field, target,
                          "a string target must be 'function:NAME[:QUALIFIER]' or a function ARN")
    name, _, qualifier = rest.partition(":")
    if runtime is None or name not in runtime.functions():
        raise ConfigError(field, target, f"no function named {name!r} is registered")
    return FunctionDestination(runtime, name, qualifier or None)
