"""Queues with Amazon SQS semantics: configuration, values, errors and the backend interface.

A :class:`QueueBackend` holds named queues. A producer :meth:`~QueueBackend.send`\\ s a message; a
consumer :meth:`~QueueBackend.receive`\\ s it, which hides it for the *visibility timeout* and hands
out a *receipt handle*; the consumer deletes it with that handle once processed, otherwise it
reappears, its receive count goes up, and after ``max_receive_count`` receives it moves to the
dead-letter queue named by the queue's :class:`RedrivePolicy`. FIFO queues (names ending in
``.fifo``) keep order within a *message group*, deliver no further message of a group while one is
in flight, and drop duplicates sent within the 5-minute deduplication interval.

Names, limits and defaults are SQS's (the SQS Developer Guide and API Reference); where this
module goes further or chooses between readings of the docs, the docstring says so (*ours*).
:class:`~asynclambda.sources.memory_queue.MemoryQueueBackend` is the in-memory implementation;
broker-backed ones pass the same :class:`~asynclambda.testing.conformance.QueueBackendConformance`.

Errors (SQS's names where a caller of the SQS API would meet them)::

    AsyncLambdaError
     └── QueueError
          ├── QueueDoesNotExist (LookupError)        no queue by that name (or it was deleted)
          ├── QueueNameExists (ValueError)           created again with a different configuration
          ├── ReceiptHandleIsInvalid (ValueError)    not a receipt handle this queue issued
          ├── MessageNotInflight (ValueError)        change_visibility on a message not in flight
          └── InvalidParameterValue (ValueError)     a request parameter is out of range
               ├── MissingParameter                  FIFO send without a group / dedup id
               ├── MessageTooLong                    body + attributes over maximum_message_size
               ├── InvalidMessageContents            characters SQS does not allow
               ├── EmptyBatchRequest                 a batch with no entries
               ├── TooManyEntriesInBatchRequest      a send batch of more than 10 entries
               ├── BatchEntryIdsNotDistinct          two batch entries with the same id
               └── InvalidBatchEntryId               an entry id SQS would not accept

Queue configuration errors (bad ranges, a missing dead-letter queue) are
:class:`~asynclambda.errors.ConfigError`, like every configuration error in asynclambda.
"""

from __future__ import annotations

import abc
import base64
import binascii
import hashlib
import math
import re
import struct
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from asynclambda._resource import AsyncResource
from asynclambda.config import default_region
from asynclambda.errors import AsyncLambdaError, ConfigError

__all__ = [
    "DEDUPLICATION_INTERVAL",
    "MAX_BATCH_ENTRIES",
    "MAX_RECEIVE_MESSAGES",
    "MAX_RECEIVE_MESSAGES_EXTENDED",
    "BatchEntryIdsNotDistinct",
    "BatchError",
    "BatchResult",
    "EmptyBatchRequest",
    "InvalidBatchEntryId",
    "InvalidMessageContents",
    "InvalidParameterValue",
    "Message",
    "MessageAttributeValue",
    "MessageNotInflight",
    "MessageTooLong",
    "MissingParameter",
    "QueueBackend",
    "QueueConfig",
    "QueueDoesNotExist",
    "QueueError",
    "QueueNameExists",
    "QueueStatistics",
    "ReceiptHandleIsInvalid",
    "RedrivePolicy",
    "SendBatchEntry",
    "SendBatchResult",
    "SendResult",
    "TooManyEntriesInBatchRequest",
    "check_message_size",
    "coerce_message_attributes",
    "md5_of_body",
    "md5_of_message_attributes",
    "queue_arn",
    "validate_body",
    "validate_fifo_id",
]

#: FIFO queues drop a message whose deduplication id was seen in the last 5 minutes.
DEDUPLICATION_INTERVAL = 300.0
#: SQS's limit on ``MaxNumberOfMessages`` and on entries in a batch request.
MAX_RECEIVE_MESSAGES = 10
MAX_BATCH_ENTRIES = 10
#: *Ours*: ``receive(..., extended_batch=True)`` allows up to this many, for event source
#: mappings whose ``batch_size`` is over 10 (Lambda's pollers gather those from several receives).
MAX_RECEIVE_MESSAGES_EXTENDED = 10_000

_MAX_VISIBILITY_TIMEOUT = 43_200  # 12 hours
_MAX_DELAY = 900  # 15 minutes
_MAX_WAIT_TIME = 20
_MAX_ATTRIBUTES = 10
_ACCOUNT = "000000000000"

_STANDARD_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
_FIFO_NAME = re.compile(r"[A-Za-z0-9_-]{1,75}\.fifo")
# The characters SQS accepts in a body or a string attribute (the XML 1.0 character set).
_INVALID_CHARS = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,256}")
_DATA_TYPE = re.compile(r"(String|Number|Binary)(\..+)?", re.DOTALL)
_FIFO_ID = re.compile(r"[!-~]{1,128}")  # alphanumerics and punctuation
_BATCH_ENTRY_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")


# -- errors ---------------------------------------------------------------------------------------
class QueueError(AsyncLambdaError):
    """Base class of the errors a queue backend raises; ``code`` is SQS's error code."""

    @property
    def code(self) -> str:
        """SQS's name for this error, e.g. ``"ReceiptHandleIsInvalid"``."""
        return type(self).__name__


class QueueDoesNotExist(QueueError, LookupError):
    """No queue has this name (it was never created, or was deleted, or the backend closed)."""


class QueueNameExists(QueueError, ValueError):
    """A queue of this name exists with a different configuration."""


class ReceiptHandleIsInvalid(QueueError, ValueError):
    """The receipt handle is malformed or was not issued by this queue."""


class MessageNotInflight(QueueError, ValueError):
    """``change_visibility`` on a message that is not in flight (its visibility already ended)."""


class InvalidParameterValue(QueueError, ValueError):
    """A request parameter is invalid or out of range (also: an expired FIFO receipt handle)."""


class MissingParameter(InvalidParameterValue):
    """A FIFO send lacks ``group_id``, or ``deduplication_id`` without content-based dedup."""


class MessageTooLong(InvalidParameterValue):
    """Body plus message attributes exceed the queue's ``maximum_message_size``."""


class InvalidMessageContents(InvalidParameterValue):
    """The body or a string attribute holds characters outside SQS's allowed set."""


class EmptyBatchRequest(InvalidParameterValue):
    """A batch request without entries."""


class TooManyEntriesInBatchRequest(InvalidParameterValue):
    """A send batch with more than 10 entries."""


class BatchEntryIdsNotDistinct(InvalidParameterValue):
    """Two entries of one batch share an id."""


class InvalidBatchEntryId(InvalidParameterValue):
    """A batch entry id is not 1-80 characters of ``[A-Za-z0-9_-]``."""


# -- configuration --------------------------------------------------------------------------------
def _check_number(field: str, value: Any, low: float, high: float, unit: str = "") -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not low <= value <= high:
        raise ConfigError(field, value, f"must be a number between {low} and {high}{unit}")


class RedrivePolicy(msgspec.Struct, frozen=True):
    """Move a message to ``dead_letter_queue`` once it was received ``max_receive_count`` times
    without being deleted. The dead-letter queue must exist when the source queue is created and
    be of the same type (FIFO for a FIFO queue)."""

    dead_letter_queue: str
    max_receive_count: int = 10

    def __post_init__(self) -> None:
        if not isinstance(self.dead_letter_queue, str) or not self.dead_letter_queue:
            raise ConfigError("dead_letter_queue", self.dead_letter_queue, "must name a queue")
        count = self.max_receive_count
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
            raise ConfigError("max_receive_count", count, "must be an integer between 1 and 1000")


class QueueConfig(msgspec.Struct, frozen=True):
    """A queue's attributes, with SQS's names, ranges and defaults (seconds and bytes).

    ``visibility_timeout`` 0-43200 (default 30), ``message_retention_period`` 60-1209600
    (default 345600, 4 days), ``delay_seconds`` 0-900, ``maximum_message_size`` 1024-1048576
    (default 262144, SQS's long-standing default; SQS raised the maximum to 1 MiB in 2025),
    ``receive_wait_time`` 0-20 (long polling when over 0). *Ours*: fractional seconds are allowed.
    A FIFO queue's name ends in ``.fifo`` (and a standard queue's must not);
    ``content_based_deduplication`` applies to FIFO queues only.
    """

    name: str
    fifo: bool = False
    visibility_timeout: float = 30
    message_retention_period: float = 345_600
    delay_seconds: float = 0
    maximum_message_size: int = 262_144
    receive_wait_time: float = 0
    content_based_deduplication: bool = False
    redrive_policy: RedrivePolicy | None = None

    def __post_init__(self) -> None:
        self._check_name()
        _check_number("visibility_timeout", self.visibility_timeout, 0, _MAX_VISIBILITY_TIMEOUT, " s")
        _check_number("message_retention_period", self.message_retention_period, 60, 1_209_600, " s")
        _check_number("delay_seconds", self.delay_seconds, 0, _MAX_DELAY, " s")
        _check_number("receive_wait_time", self.receive_wait_time, 0, _MAX_WAIT_TIME, " s")
        size = self.maximum_message_size
        if isinstance(size, bool) or not isinstance(size, int) or not 1024 <= size <= 1_048_576:
            raise ConfigError("maximum_message_size", size, "must be an integer between 1024 and 1048576 bytes")
        if self.content_based_deduplication and not self.fifo:
            raise ConfigError("content_based_deduplication", True, "applies to FIFO queues only")
        if self.redrive_policy is not None and not isinstance(self.redrive_policy, RedrivePolicy):
            raise ConfigError("redrive_policy", self.redrive_policy, "must be a RedrivePolicy")

    def _check_name(self) -> None:
        name = self.name
        if self.fifo:
            if not isinstance(name, str) or not _FIFO_NAME.fullmatch(name):
                raise ConfigError("name", name, "a FIFO queue name is 1-80 characters of "
                                  "[A-Za-z0-9_-] ending in '.fifo'")
        elif not isinstance(name, str) or not _STANDARD_NAME.fullmatch(name):
            hint = " (a name ending in '.fifo' needs fifo=True)" if str(name).endswith(".fifo") else ""
            raise ConfigError("name", name, f"a queue name is 1-80 characters of [A-Za-z0-9_-]{hint}")


# -- values ---------------------------------------------------------------------------------------
class MessageAttributeValue(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True):
    """A message attribute, shaped as in SQS events (``dataType``, ``stringValue``, ``binaryValue``).

    ``data_type`` is ``String``, ``Number`` or ``Binary``, optionally with a custom suffix
    (``Number.float``). String and Number carry ``string_value``, Binary carries ``binary_value``
    (base64 in JSON, as in Lambda's SQS events).
    """

    data_type: str
    string_value: str | None = None
    binary_value: bytes | None = None


class Message(msgspec.Struct, frozen=True):
    """A received message: what ``receive`` returns, one per delivery.

    ``attributes`` holds SQS's system attributes as strings: ``ApproximateReceiveCount``,
    ``SentTimestamp`` and ``ApproximateFirstReceiveTimestamp`` (epoch milliseconds), ``SenderId``,
    and for FIFO queues ``MessageGroupId``, ``MessageDeduplicationId``, ``SequenceNumber``; a
    message moved by redrive also has ``DeadLetterQueueSourceArn``.
    """

    message_id: str
    receipt_handle: str
    body: str
    attributes: dict[str, str]
    message_attributes: dict[str, MessageAttributeValue]
    md5_of_body: str
    md5_of_message_attributes: str | None = None

    @property
    def receive_count(self) -> int:
        """``ApproximateReceiveCount`` as an int (1 on the first delivery)."""
        return int(self.attributes["ApproximateReceiveCount"])

    @property
    def group_id(self) -> str | None:
        """The FIFO message group (``MessageGroupId``), if any."""
        return self.attributes.get("MessageGroupId")


class SendResult(msgspec.Struct, frozen=True):
    """What ``send`` returns. ``deduplicated`` (*ours*) is true when a FIFO queue dropped the
    message as a duplicate; ``message_id`` is then the original message's id, as SQS returns."""

    message_id: str
    md5_of_message_body: str
    md5_of_message_attributes: str | None = None
    sequence_number: str | None = None
    deduplicated: bool = False


class SendBatchEntry(msgspec.Struct, frozen=True):
    """One entry of ``send_batch``; ``id`` (1-80 chars of ``[A-Za-z0-9_-]``) names it in the result."""

    id: str
    body: str
    message_attributes: Mapping[str, MessageAttributeValue | Mapping[str, Any]] | None = None
    delay_seconds: float | None = None
    group_id: str | None = None
    deduplication_id: str | None = None


class BatchError(msgspec.Struct, frozen=True):
    """Why one batch entry failed: SQS's error ``code`` and a message."""

    code: str
    message: str
    sender_fault: bool = True


class SendBatchResult(msgspec.Struct, frozen=True):
    """Per-entry outcome of ``send_batch``, keyed by entry id."""

    successful: dict[str, SendResult]
    failed: dict[str, BatchError]


class BatchResult(msgspec.Struct, frozen=True):
    """Per-entry outcome of ``delete_batch``: entries are keyed by their receipt handle."""

    successful: list[str]
    failed: dict[str, BatchError]


class QueueStatistics(msgspec.Struct, frozen=True):
    """A snapshot of one queue.

    The three ``approximate_*`` fields are SQS's queue attributes (exact here). The counters run
    from the queue's creation: ``sent`` counts accepted messages (duplicates dropped by a FIFO
    queue count in ``deduplicated`` instead), ``received`` counts deliveries, ``redriven_to_dlq``
    messages moved out to the dead-letter queue, ``redriven_in`` messages moved in as someone's
    dead-letter queue, ``expired`` messages dropped at the end of the retention period. Nothing
    vanishes: ``sent + redriven_in == approximate_number_of_messages + ..._not_visible +
    ..._delayed + deleted + redriven_to_dlq + expired + purged``.
    """

    name: str
    approximate_number_of_messages: int
    approximate_number_of_messages_not_visible: int
    approximate_number_of_messages_delayed: int
    sent: int = 0
    received: int = 0
    deleted: int = 0
    redriven_to_dlq: int = 0
    redriven_in: int = 0
    deduplicated: int = 0
    expired: int = 0
    purged: int = 0

    @property
    def in_queue(self) -> int:
        """Messages still held: visible, in flight and delayed."""
        return (self.approximate_number_of_messages
                + self.approximate_number_of_messages_not_visible
                + self.approximate_number_of_messages_delayed)


# -- validation and digests (shared by every backend) --------------------------------------------
def queue_arn(name: str) -> str:
    """The queue's ARN (the host's default region, asynclambda's local account)."""
    return f"arn:aws:sqs:{default_region()}:{_ACCOUNT}:{name}"


def md5_of_body(body: str) -> str:
    """``MD5OfMessageBody``: hex MD5 of the UTF-8 body."""
    return hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()


def _length_prefixed(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def md5_of_message_attributes(attributes: Mapping[str, MessageAttributeValue]) -> str | None:
    """``MD5OfMessageAttributes`` as SQS computes it, or ``None`` without attributes.

    Per attribute, sorted by name: length-prefixed name, length-prefixed data type, a transport
    byte (1 for String/Number, 2 for Binary), then the length-prefixed value.
    """
    if not attributes:
        return None
    digest = hashlib.md5(usedforsecurity=False)
    for name in sorted(attributes):
        value = attributes[name]
        digest.update(_length_prefixed(name.encode()))
        digest.update(_length_prefixed(value.data_type.encode()))
        if value.data_type.startswith("Binary"):
            digest.update(b"\x02" + _length_prefixed(value.binary_value or b""))
        else:
            digest.update(b"\x01" + _length_prefixed((value.string_value or "").encode()))
    return digest.hexdigest()


def validate_body(body: Any) -> None:
    """Raise unless ``body`` is a non-empty ``str`` of characters SQS accepts.

    The SQS API reference lists ``#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD |
    #x10000-#x10FFFF``; outside that set SQS answers ``InvalidMessageContents``.
    """
    if not isinstance(body, str):
        raise InvalidParameterValue(f"message body must be a str, not {type(body).__name__}")
    if not body:
        raise InvalidParameterValue("message body must be at least one character")
    if body.isascii() and body.isprintable():
        return  # only U+0020-U+007E: all allowed, and ~4x cheaper to tell than the regex
    bad = _INVALID_CHARS.search(body)
    if bad is not None:
        raise InvalidMessageContents(
            f"message body contains {bad.group()!r} at index {bad.start()}, outside SQS's allowed "
            "characters (#x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF)")


def validate_fifo_id(kind: str, value: Any) -> str:
    """Check a ``group_id`` or ``deduplication_id``: 1-128 alphanumerics and punctuation."""
    if not isinstance(value, str) or not _FIFO_ID.fullmatch(value):
        raise InvalidParameterValue(
            f"{kind}={value!r} must be 1-128 characters of alphanumerics and punctuation")
    return value


def check_message_size(body: str, attributes: Mapping[str, MessageAttributeValue], limit: int) -> None:
    """Raise :class:`MessageTooLong` if body plus attributes (names, types, values) exceed ``limit``."""
    size = len(body) if body.isascii() else len(body.encode())  # ASCII: 1 byte a character
    for name, value in attributes.items():
        size += len(name.encode()) + len(value.data_type.encode())
        size += len(value.binary_value or b"") + len((value.string_value or "").encode())
    if size > limit:
        raise MessageTooLong(f"message of {size} bytes is over the queue's maximum_message_size "
                             f"of {limit} bytes (body plus message attributes)")


def _attribute_field(raw: Mapping[str, Any], *names: str) -> Any:
    for key in names:
        if key in raw:
            return raw[key]
    return None


def _coerce_one(name: str, raw: MessageAttributeValue | Mapping[str, Any]) -> MessageAttributeValue:
    if isinstance(raw, MessageAttributeValue):
        value = raw
    elif isinstance(raw, Mapping):
        binary = _attribute_field(raw, "binary_value", "binaryValue", "BinaryValue")
        if isinstance(binary, str):  # base64, as in SQS events and the JSON API
            try:
                binary = base64.b64decode(binary, validate=True)
            except binascii.Error as exc:
                raise InvalidParameterValue(f"message attribute {name!r}: binary value is not "
                                            "valid base64") from exc
        value = MessageAttributeValue(
            data_type=_attribute_field(raw, "data_type", "dataType", "DataType"),
            string_value=_attribute_field(raw, "string_value", "stringValue", "StringValue"),
            binary_value=binary)
    else:
        raise InvalidParameterValue(f"message attribute {name!r} must be a MessageAttributeValue "
                                    f"or a mapping, not {type(raw).__name__}")
    _check_attribute_value(name, value)
    return value


def _check_attribute_name(name: Any) -> None:
    ok = isinstance(name, str) and _ATTRIBUTE_NAME.fullmatch(name) is not None
    if ok and (name.startswith(".") or name.endswith(".") or ".." in name
               or name.lower().startswith(("aws.", "amazon."))):
        ok = False
    if not ok:
        raise InvalidParameterValue(
            f"message attribute name {name!r} must be 1-256 characters of [A-Za-z0-9_.-], without "
            "leading, trailing or doubled periods, and not start with 'AWS.' or 'Amazon.'")


def _check_attribute_value(name: str, value: MessageAttributeValue) -> None:
    data_type = value.data_type
    if not isinstance(data_type, str) or len(data_type) > 256 or not _DATA_TYPE.fullmatch(data_type):
        raise InvalidParameterValue(f"message attribute {name!r}: data type {data_type!r} must be "
                                    "String, Number or Binary, optionally with a '.suffix'")
    if data_type.startswith("Binary"):
        if not isinstance(value.binary_value, bytes) or not value.binary_value:
            raise InvalidParameterValue(f"message attribute {name!r}: a Binary attribute needs a "
                                        "non-empty binary_value (bytes)")
        return
    text = value.string_value
    if not isinstance(text, str) or not text:
        raise InvalidParameterValue(f"message attribute {name!r}: a {data_type} attribute needs a "
                                    "non-empty string_value")
    if _INVALID_CHARS.search(text):
        raise InvalidMessageContents(f"message attribute {name!r} holds characters SQS does not allow")
    if data_type.startswith("Number"):
        try:
            ok = Decimal(text).is_finite()
        except InvalidOperation:
            ok = False
        if not ok:
            raise InvalidParameterValue(f"message attribute {name!r}: {text!r} is not a number")


def coerce_message_attributes(
    attributes: Mapping[str, MessageAttributeValue | Mapping[str, Any]] | None,
) -> dict[str, MessageAttributeValue]:
    """Validate message attributes and return them as :class:`MessageAttributeValue`\\ s.

    Accepts the struct, or mappings in any of SQS's spellings (``DataType``/``StringValue``/
    ``BinaryValue`` as boto3 takes them, ``dataType``/... as SQS events show them, or snake case);
    a binary value given as ``str`` is base64. At most 10 attributes.
    """
    if not attributes:
        return {}
    if len(attributes) > _MAX_ATTRIBUTES:
        raise InvalidParameterValue(f"{len(attributes)} message attributes; SQS allows at most 10")
    out: dict[str, MessageAttributeValue] = {}
    for name, raw in attributes.items():
        _check_attribute_name(name)
        out[name] = _coerce_one(name, raw)
    return out


def _check_batch_ids(ids: Sequence[str], *, limit: int | None) -> None:
    if not ids:
        raise EmptyBatchRequest("a batch request needs at least one entry")
    if limit is not None and len(ids) > limit:
        raise TooManyEntriesInBatchRequest(f"{len(ids)} entries; a batch holds at most {limit}")
    if len(set(ids)) != len(ids):
        raise BatchEntryIdsNotDistinct("two or more batch entries share an id")


# -- the backend interface ------------------------------------------------------------------------
class QueueBackend(AsyncResource, abc.ABC):
    """Named queues with SQS semantics. Subclass it for a broker; use it as an async context manager.

    Required: ``create_queue``, ``delete_queue``, ``get_queue_config``, ``send``, ``receive``,
    ``delete``, ``change_visibility``, ``purge``, ``statistics``. Supplied: ``send_batch`` and
    ``delete_batch`` (loops over the single calls; override with native batches), ``aclose``
    (no-op) and ``async with``. An implementation must read time (visibility, delay, retention,
    deduplication interval, long-poll waits) through its injected clock wherever it can, so the
    conformance suite can drive it with virtual time.
    """

    @abc.abstractmethod
    async def create_queue(self, config: QueueConfig) -> None:
        """Create a queue. Creating it again with the same configuration is a no-op; with a
        different one, :class:`QueueNameExists`. A redrive policy's dead-letter queue must exist
        and be of the same type, else :class:`~asynclambda.errors.ConfigError`."""

    @abc.abstractmethod
    async def delete_queue(self, name: str) -> None:
        """Delete a queue and its messages; receivers waiting on it get :class:`QueueDoesNotExist`."""

    @abc.abstractmethod
    async def get_queue_config(self, name: str) -> QueueConfig:
        """The queue's configuration (:class:`QueueDoesNotExist` if there is none)."""

    @abc.abstractmethod
    async def send(
        self,
        queue: str,
        body: str,
        *,
        message_attributes: Mapping[str, MessageAttributeValue | Mapping[str, Any]] | None = None,
        delay_seconds: float | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
    ) -> SendResult:
        """Enqueue one message.

        ``delay_seconds`` (0-900) overrides the queue's delay on standard queues; FIFO queues
        accept only the queue's delay (``InvalidParameterValue``, as SQS). FIFO queues need
        ``group_id``, and ``deduplication_id`` unless content-based deduplication is on; a
        duplicate within 5 minutes returns the original message id without enqueueing. On a
        standard queue ``group_id`` is recorded (``MessageGroupId``, SQS's fair queues) but does not
        order delivery; ``deduplication_id`` is rejected.
        """

    async def send_batch(self, queue: str, entries: Sequence[SendBatchEntry]) -> SendBatchResult:
        """Send up to 10 entries; each succeeds or fails on its own, as ``SendMessageBatch``."""
        _check_batch_ids([entry.id for entry in entries], limit=MAX_BATCH_ENTRIES)
        for entry in entries:
            if not _BATCH_ENTRY_ID.fullmatch(entry.id):
                raise InvalidBatchEntryId(f"batch entry id {entry.id!r} must be 1-80 characters of "
                                          "[A-Za-z0-9_-]")
        successful: dict[str, SendResult] = {}
        failed: dict[str, BatchError] = {}
        for entry in entries:
            try:
                successful[entry.id] = await self.send(
                    queue, entry.body, message_attributes=entry.message_attributes,
                    delay_seconds=entry.delay_seconds, group_id=entry.group_id,
                    deduplication_id=entry.deduplication_id)
            except QueueDoesNotExist:
                raise
            except QueueError as exc:
                failed[entry.id] = BatchError(exc.code, str(exc))
        return SendBatchResult(successful, failed)

    @abc.abstractmethod
    async def receive(
        self,
        queue: str,
        *,
        max_messages: int = 1,
        visibility_timeout: float | None = None,
        wait_time: float | None = None,
        extended_batch: bool = False,
    ) -> list[Message]:
        """Receive up to ``max_messages`` (1-10) visible messages, hiding each for
        ``visibility_timeout`` (default: the queue's; 0-43200 s).

        Returns at once when at least one message is available. Otherwise waits up to
        ``wait_time`` seconds (default: the queue's ``receive_wait_time``; 0-20) of the backend's
        clock for one to arrive (long polling) and returns ``[]`` if none did. On a FIFO queue a
        batch may hold several messages of one group, in order, and no message of a group with a
        message in flight is returned. ``extended_batch=True`` (*ours*) allows ``max_messages`` up
        to 10000, for event source mappings with ``batch_size`` over 10.
        """

    @abc.abstractmethod
    async def delete(self, queue: str, receipt_handle: str) -> None:
        """Delete the message received with ``receipt_handle``.

        A handle of a message that is already gone succeeds (deletes are idempotent). A handle
        this queue never issued raises :class:`ReceiptHandleIsInvalid`. See the backend for how
        it treats a handle superseded by a later receive.
        """

    async def delete_batch(self, queue: str, receipt_handles: Sequence[str]) -> BatchResult:
        """Delete several messages; each handle succeeds or fails on its own.

        *Ours*: no 10-entry cap, so a mapping can settle a whole batch (``batch_size`` up to
        10000) in one call.
        """
        _check_batch_ids(list(receipt_handles), limit=None)
        successful: list[str] = []
        failed: dict[str, BatchError] = {}
        for handle in receipt_handles:
            try:
                await self.delete(queue, handle)
                successful.append(handle)
            except QueueDoesNotExist:
                raise
            except QueueError as exc:
                failed[handle] = BatchError(exc.code, str(exc))
        return BatchResult(successful, failed)

    @abc.abstractmethod
    async def change_visibility(self, queue: str, receipt_handle: str, timeout: float) -> None:
        """Make an in-flight message visible again ``timeout`` seconds (0-43200) from now; 0 makes
        it visible at once (and may redrive it, as its visibility ends). The total time in flight
        since the receive cannot exceed 12 hours. :class:`MessageNotInflight` if its visibility
        already ended."""

    @abc.abstractmethod
    async def purge(self, queue: str) -> None:
        """Delete every message in the queue (counted as ``purged``)."""

    @abc.abstractmethod
    async def statistics(self, queue: str) -> QueueStatistics:
        """A snapshot of the queue's counts and counters."""

    async def aclose(self) -> None:
        """Release the backend's resources (connections, timers). Idempotent."""

