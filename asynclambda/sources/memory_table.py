"""A small in-memory table whose writes feed a DynamoDB Streams-style change stream.

:class:`MemoryTable` stores plain Python dict items under a partition key (and optional sort
key). Every write that changes an item appends a change record to a stream of a
:class:`~asynclambda.sources.stream.StreamBackend`, routed by the item's partition key so the
changes of one item stay in order on one shard: ``eventName`` ``INSERT`` / ``MODIFY`` /
``REMOVE``, ``Keys``, and ``NewImage`` / ``OldImage`` as the ``StreamViewType`` asks, in DynamoDB's
typed attribute form (``{"S": "x"}``, ``{"N": "1"}`` ...), with ``SizeBytes`` and
``ApproximateCreationDateTime`` (epoch seconds, rounded down, from the stream backend's clock).
As in DynamoDB Streams, a write that changes nothing writes no record.

The record is stored as JSON in the stream record's data, in the shape of one ``Records[]`` entry
of a Lambda DynamoDB event. ``dynamodb.SequenceNumber`` is left out of the stored bytes because
the stream assigns the sequence number when the record is appended; :func:`decode_change_record`
puts it back from the stream record.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import math
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

import msgspec

from asynclambda.clock import RealClock
from asynclambda.config import default_region
from asynclambda.errors import AsyncLambdaError, ConfigError
from asynclambda.sources.stream import StreamBackend, StreamConfig, StreamRecord

__all__ = ["MemoryTable", "StreamViewType", "ValidationException", "decode_change_record"]

StreamViewType = Literal["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"]
_VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_json_encoder = msgspec.json.Encoder(order="sorted")


class ValidationException(AsyncLambdaError, ValueError):
    """An item or key DynamoDB would refuse (DynamoDB's ``ValidationException``)."""


def _number(value: int | float | Decimal) -> str:
    if isinstance(value, int):
        return str(value)
    number = Decimal(str(value)) if isinstance(value, float) else value
    if not number.is_finite():
        raise ValidationException(f"{value!r} is not a number DynamoDB can store")
    return str(number)


def _typed_set(values: set[Any] | frozenset[Any]) -> dict[str, Any]:
    if not values:
        raise ValidationException("DynamoDB does not store empty sets")
    if all(isinstance(v, str) for v in values):
        return {"SS": sorted(values)}
    if all(isinstance(v, int | float | Decimal) and not isinstance(v, bool) for v in values):
        return {"NS": sorted(_number(v) for v in values)}
    if all(isinstance(v, bytes) for v in values):
        return {"BS": sorted(base64.b64encode(v).decode() for v in values)}
    raise ValidationException("a set must hold only strings, only numbers or only bytes")


def _to_typed(value: Any) -> dict[str, Any]:
    """A Python value in DynamoDB's typed attribute form (floats become Decimal numbers)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | float | Decimal):
        return {"N": _number(value)}
    if isinstance(value, bytes | bytearray):
        return {"B": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise ValidationException("map keys must be strings")
        return {"M": {k: _to_typed(v) for k, v in value.items()}}
    if isinstance(value, set | frozenset):
        return _typed_set(value)
    if isinstance(value, list | tuple):
        return {"L": [_to_typed(v) for v in value]}
    raise ValidationException(f"cannot store a {type(value).__name__} in DynamoDB")


def _image(item: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if item is None else {k: _to_typed(v) for k, v in item.items()}


def decode_change_record(record: StreamRecord) -> dict[str, Any]:
    """The change record a :class:`MemoryTable` wrote, with ``dynamodb.SequenceNumber`` filled in."""
    change: dict[str, Any] = msgspec.json.decode(record.data)
    change["dynamodb"]["SequenceNumber"] = record.sequence_number
    return change


class MemoryTable:
    """A table of dict items keyed by ``partition_key`` (+ ``sort_key``), optionally streaming
    its changes to ``stream_name`` (default: the table's name) on ``streams``.

    Use :meth:`create` to create the stream too, or pass a backend where the stream exists.
    Key attributes must be strings, numbers or bytes. Items are copied in and out.
    """

    def __init__(
        self,
        name: str,
        *,
        partition_key: str,
        sort_key: str | None = None,
        streams: StreamBackend | None = None,
        stream_name: str | None = None,
        stream_view_type: StreamViewType = "NEW_AND_OLD_IMAGES",
    ) -> None:
        if not isinstance(name, str) or not _TABLE_NAME.fullmatch(name):
            raise ConfigError("name", name, "a table name is 3-255 characters of [A-Za-z0-9_.-]")
        for field, key in (("partition_key", partition_key), ("sort_key", sort_key)):
            if key is not None and (not isinstance(key, str) or not key):
                raise ConfigError(field, key, "must be a non-empty attribute name")
        if stream_view_type not in _VIEW_TYPES:
            raise ConfigError("stream_view_type", stream_view_type, f"must be one of {_VIEW_TYPES}")
        self.name = name
        self.partition_key = partition_key
        self.sort_key = sort_key
        self.streams = streams
        self.stream_name = stream_name if stream_name is not None else name
        self.stream_view_type: StreamViewType = stream_view_type
        self._clock = streams.clock if streams is not None else RealClock()
        self._items: dict[bytes, dict[str, Any]] = {}
        self._lock = asyncio.Lock()  # keeps the stream's order equal to the table's per key
        self._region = default_region()
        self._arn = (f"arn:aws:dynamodb:{self._region}:000000000000:table/{name}/stream/"
                     f"{self.stream_name}")

    @classmethod
    async def create(
        cls,
        name: str,
        *,
        partition_key: str,
        sort_key: str | None = None,
        streams: StreamBackend | None = None,
        stream_name: str | None = None,
        stream_view_type: StreamViewType = "NEW_AND_OLD_IMAGES",
        shard_count: int = 1,
    ) -> MemoryTable:
        """A new table, and its stream on ``streams`` (with ``shard_count`` shards) if given."""
        table = cls(name, partition_key=partition_key, sort_key=sort_key, streams=streams,
                    stream_name=stream_name, stream_view_type=stream_view_type)
        if streams is not None:
            await streams.create_stream(StreamConfig(table.stream_name, shard_count))
        return table

    # -- reads --------------------------------------------------------------------------------
    def get_item(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        """A copy of the item with this key, or ``None``."""
        item = self._items.get(self._key_id(key)[0])
        return copy.deepcopy(item) if item is not None else None

    def scan(self) -> list[dict[str, Any]]:
        """Copies of every item (in insertion order)."""
        return [copy.deepcopy(item) for item in self._items.values()]

    def __len__(self) -> int:
        return len(self._items)

    # -- writes -------------------------------------------------------------------------------
    async def put_item(self, item: Mapping[str, Any]) -> dict[str, Any] | None:
        """Store ``item`` (replacing any item with its key); return the old item or ``None``."""
        async with self._lock:
            key_id, keys = self._key_id(item)
            new = copy.deepcopy(dict(item))
            new_image = _image(new)  # validates before anything changes
            old = self._items.get(key_id)
            self._items[key_id] = new
            await self._emit(keys, _image(old), new_image)
            return old

    async def update_item(self, key: Mapping[str, Any], attributes: Mapping[str, Any]) -> dict[str, Any]:
        """Set ``attributes`` on the item with ``key`` (creating it); return the new item."""
        async with self._lock:
            key_id, keys = self._key_id(key)
            for name in (self.partition_key, self.sort_key):
                if name is not None and name in attributes and attributes[name] != key[name]:
                    raise ValidationException(f"cannot update key attribute {name!r}")
            old = self._items.get(key_id)
            new = copy.deepcopy({**(old if old is not None else dict(key)), **attributes})
            new_image = _image(new)
            self._items[key_id] = new
            await self._emit(keys, _image(old), new_image)
            return copy.deepcopy(new)

    async def delete_item(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        """Delete the item with ``key``; return it, or ``None`` if there was none."""
        async with self._lock:
            key_id, keys = self._key_id(key)
            old = self._items.pop(key_id, None)
            if old is not None:
                await self._emit(keys, _image(old), None)
            return old

    # -- internals ----------------------------------------------------------------------------
    def _key_id(self, item: Mapping[str, Any]) -> tuple[bytes, dict[str, Any]]:
        keys: dict[str, Any] = {}
        for name in (self.partition_key, self.sort_key):
            if name is None:
                continue
            if name not in item:
                raise ValidationException(f"the key attribute {name!r} is missing")
            value = item[name]
            if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal | bytes):
                raise ValidationException(f"key attribute {name!r} must be a string, number or "
                                          f"bytes, not {type(value).__name__}")
            if isinstance(value, float) and not math.isfinite(value):
                raise ValidationException(f"key attribute {name!r} must be a finite number")
            keys[name] = _to_typed(value)
        return _json_encoder.encode(keys), keys

    async def _emit(self, keys: dict[str, Any], old_image: dict[str, Any] | None,
                    new_image: dict[str, Any] | None) -> None:
        if self.streams is None or old_image == new_image:
            return
        event = "INSERT" if old_image is None else "REMOVE" if new_image is None else "MODIFY"
        change: dict[str, Any] = {
            "ApproximateCreationDateTime": int(self._clock.time()),
            "Keys": keys,
            "StreamViewType": self.stream_view_type,
        }
        if new_image is not None and self.stream_view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
            change["NewImage"] = new_image
        if old_image is not None and self.stream_view_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
            change["OldImage"] = old_image
        change["SizeBytes"] = len(_json_encoder.encode(
            {k: change[k] for k in ("Keys", "NewImage", "OldImage") if k in change}))
        record = {
            "eventID": uuid.uuid4().hex,
            "eventName": event,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": self._region,
            "dynamodb": change,
            "eventSourceARN": self._arn,
        }
        partition = _json_encoder.encode(keys[self.partition_key])
        await self.streams.put_record(self.stream_name, _json_encoder.encode(record),
                                      hashlib.md5(partition, usedforsecurity=False).hexdigest())
