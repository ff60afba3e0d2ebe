"""The in-memory :class:`~asynclambda.sources.queue.QueueBackend`: SQS semantics, no server.

Every time-based rule reads the injected clock: visibility timeouts, delays, retention, the FIFO
deduplication interval and long-poll waits. State changes that are due (a delay ending, a
visibility timeout running out, a message expiring) are applied on every operation, and one clock
timer per queue, armed for the next delay or visibility deadline, applies them on time so that
long-polling receivers wake and dead-letter redrives happen without anyone polling.

Data structures keep a receive O(batch) amortised: visible messages sit in a deque (standard) or
in per-group deques with a deque of ready groups (FIFO); delayed and in-flight messages sit in
deadline heaps, retention deadlines in a deque in send order (plus a heap for the few that come
out of order); messages leaving early (deleted, expired) leave stale entries that are skipped
when they surface, and dropped once they outnumber the live ones, so memory follows the messages
held, not the messages ever sent. A map from current receipt handle to message serves deletes.

Choices where the SQS docs leave room (*ours*, each following the SQS Developer Guide / API
Reference as closely as it allows):

- **Receipt handles.** ``DeleteMessage``'s reference says a receipt handle other than the most
  recent one "will still succeed, but the message might not be deleted"; the SQS knowledge-center
  article on ``ReceiptHandleIsInvalid`` says FIFO queues reject a handle whose visibility timeout
  has passed (``InvalidParameterValue``: "The receipt handle has expired") while standard queues
  may accept older handles. Here: a handle this queue never issued is
  :class:`~asynclambda.sources.queue.ReceiptHandleIsInvalid`; a handle of a message that is already
  gone succeeds (deletes are idempotent). On a standard queue the most recent handle deletes the
  message even after its visibility timeout ran out (as long as nobody received it again), and a
  superseded handle succeeds without deleting, so a slow consumer never deletes a message that
  another consumer now holds. On a FIFO queue a superseded or timed-out handle raises
  :class:`~asynclambda.sources.queue.InvalidParameterValue`. ``change_visibility`` needs the most
  recent handle of a message in flight.
- **Redrive timing.** SQS moves a message to the dead-letter queue when a receive would push its
  receive count past ``max_receive_count``; here it moves when its last allowed visibility timeout
  ends, so it never lingers visible in the source queue. The number of deliveries is the same.
  Standard queues keep the original enqueue time for the dead-letter queue's retention, FIFO
  queues reset it (SQS Developer Guide, "dead-letter queue retention"). If the dead-letter queue
  was deleted meanwhile, the message stays in the source queue (nothing is lost).
- **Ordering.** Standard queues deliver in the order messages become visible (SQS promises only
  best effort); a receive returns every available message up to ``max_messages`` (SQS may return
  fewer from a small queue).
- **Deduplication scope** is the queue (SQS's default ``DeduplicationScope``); a duplicate is also
  recognised after the original was deleted, within the 5-minute interval.
- ``purge`` takes effect at once (SQS allows up to 60 s).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import heapq
import itertools
import math
import os
import random
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from asynclambda.clock import RealClock
from asynclambda.dispatch import current_lineage, delivery_lineage, lineage_header
from asynclambda.errors import ConfigError
from asynclambda.execution import current_invocation
from asynclambda.sources.queue import (
    DEDUPLICATION_INTERVAL,
    MAX_RECEIVE_MESSAGES,
    MAX_RECEIVE_MESSAGES_EXTENDED,
    BatchError,
    BatchResult,
    InvalidParameterValue,
    Message,
    MessageAttributeValue,
    MessageNotInflight,
    MissingParameter,
    QueueBackend,
    QueueConfig,
    QueueDoesNotExist,
    QueueError,
    QueueNameExists,
    QueueStatistics,
    ReceiptHandleIsInvalid,
    SendResult,
    _check_batch_ids,
    check_message_size,
    coerce_message_attributes,
    md5_of_body,
    md5_of_message_attributes,
    queue_arn,
    validate_body,
    validate_fifo_id,
)
from asynclambda.types import Clock, Timer

_invocation_get = current_invocation.get
_delivery_get = delivery_lineage.get

__all__ = ["MemoryQueueBackend"]

_DELAYED, _VISIBLE, _INFLIGHT, _NEW, _GONE = range(5)
_MAX_IN_FLIGHT_TIME = 43_200.0  # a message stays in flight at most 12 h from its receive
_EXPIRED_HANDLE = "The receipt handle has expired"
_URLSAFE = bytes.maketrans(b"+/", b"-_")
_COMPACT_MIN = 256  # a deadline heap is compacted once stale entries outnumber live ones by this

# Message ids and receipt-handle nonces come from one Mersenne Twister seeded from os.urandom,
# reseeded in a forked child: uuid.uuid4() costs ~1.8 us (an os.urandom syscall and a UUID
# object), this ~0.5 us, with the same 122 random bits per id.
_rng = random.Random()
_getrandbits = _rng.getrandbits
os.register_at_fork(after_in_child=_rng.seed)
_UUID_MASK = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)  # clears version and variant
_UUID_BITS = (0x4 << 76) | (0x2 << 62)  # version 4, RFC 4122 variant


def _uuid4() -> str:
    """A random version-4 UUID in its canonical form, as ``str(uuid.uuid4())``."""
    h = "%032x" % (_getrandbits(128) & _UUID_MASK | _UUID_BITS)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _param(name: str, value: Any, low: float, high: float) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not low <= value <= high:
        raise InvalidParameterValue(f"invalid {name}={value!r}: must be between {low} and {high}")
    return float(value)


class _Msg:
    """One message while a queue holds it (mutable; never handed out)."""

    __slots__ = (
        "body", "dead_letter_source", "deadline", "dedup_id", "enqueued_at", "expires_at",
        "first_receive", "group_id", "handle", "md5_of_attributes", "md5_of_body",
        "message_attributes", "message_id", "order", "receive_count", "received_at", "sent",
        "sequence_number", "state", "trace_header", "version",
    )

    def __init__(self, message_id: str, body: str, attributes: dict[str, MessageAttributeValue],
                 enqueued_at: float, sent: str, md5_of_body: str,
                 md5_of_attributes: str | None) -> None:
        self.message_id = message_id
        self.body = body
        self.message_attributes = attributes
        self.md5_of_body = md5_of_body  # computed once at send, copied on redrive
        self.md5_of_attributes = md5_of_attributes
        self.enqueued_at = enqueued_at
        self.sent = sent  # SentTimestamp as its string: formatted once, not per receive
        self.expires_at = math.inf
        self.order = 0  # the expiry tiebreak, from the queue's counter
        self.group_id: str | None = None
        self.dedup_id: str | None = None
        self.sequence_number: str | None = None
        self.dead_letter_source: str | None = None
        self.receive_count = 0
        self.first_receive = ""  # ApproximateFirstReceiveTimestamp, formatted ("": not yet)
        self.received_at = 0.0
        self.state = _NEW
        self.deadline = 0.0
        self.version = 0
        self.handle: str | None = None
        #: ``AWSTraceHeader``: the event chain of the invocation that sent it (loop detection).
        self.trace_header: str | None = None

    def moved_copy(self) -> _Msg:
        """A copy for the dead-letter queue: same id, body, attributes and receive history."""
        copy = _Msg(self.message_id, self.body, self.message_attributes, self.enqueued_at,
                    self.sent, self.md5_of_body, self.md5_of_attributes)
        copy.group_id, copy.dedup_id = self.group_id, self.dedup_id
        copy.sequence_number = self.sequence_number
        copy.receive_count, copy.first_receive = self.receive_count, self.first_receive
        copy.trace_header = self.trace_header
        return copy


_Entry = tuple[float, int, int, _Msg]  # (deadline, tiebreak, version, message)


class _Queue:
    """One queue's state; subclasses decide how visible messages are stored and taken."""

    def __init__(self, config: QueueConfig, clock: Clock,
                 resolve: Callable[[str], _Queue | None], sender_id: str) -> None:
        self.config = config
        self.clock = clock
        self.closed = False
        self._resolve = resolve
        self._sender_id = sender_id
        self._uid = uuid.uuid4().hex
        self._messages: dict[str, _Msg] = {}
        # The current receipt handle of every live message that has one: a delete by the current
        # handle (the common case) finds its message without decoding the handle.
        self._handles: dict[str, _Msg] = {}
        self._delayed: list[_Entry] = []
        self._inflight: list[_Entry] = []
        # Expiry order is (expires_at, tiebreak). Sends come in that order (now + a fixed
        # retention), so they queue in a deque of bare messages: no heap entry, no tuple kept
        # alive per message for the whole retention period. A message out of order (redriven
        # in, keeping an earlier enqueue time) goes to the heap; ``advance`` merges the two.
        self._expiry: deque[_Msg] = deque()
        self._expiry_late: list[tuple[float, int, _Msg]] = []
        self._tiebreak = itertools.count()
        self._counts = [0] * 5  # by state
        self._waiters: dict[asyncio.Future[None], None] = {}
        self._timer: Timer | None = None
        self._dedup: dict[str, tuple[float, str, str | None]] = {}
        self._dedup_order: deque[tuple[float, str]] = deque()
        self._sequence = itertools.count(1)
        self._sent_ms, self._sent_text = -1, ""  # the last SentTimestamp, formatted
        self.sent = self.received = self.deleted = self.redriven_to_dlq = 0
        self.redriven_in = self.deduplicated = self.expired = self.purged = 0

    # -- storage of visible messages (subclass hooks) ------------------------------------------
    def _make_visible(self, msg: _Msg) -> None:
        raise NotImplementedError

    def _take(self, n: int) -> list[_Msg]:
        raise NotImplementedError

    def _clear_visible(self) -> None:
        raise NotImplementedError

    def _set_state(self, msg: _Msg, state: int) -> None:
        self._counts[msg.state] -= 1
        self._counts[state] += 1
        msg.state = state

    def _remove(self, msg: _Msg) -> None:
        self._set_state(msg, _GONE)
        messages = self._messages
        del messages[msg.message_id]
        if msg.handle is not None:
            self._handles.pop(msg.handle, None)
        # A message leaving early leaves stale heap entries (the expiry one lasts the whole
        # retention period): drop them once they outnumber the live ones, so the heaps (and the
        # messages they hold) do not grow with every message ever sent. Pop order is unchanged:
        # entries keep their (deadline, tiebreak) keys, which are unique.
        # (In place: ``advance`` may be iterating over them.)
        expiry, late = self._expiry, self._expiry_late
        while expiry and expiry[0].state == _GONE:
            expiry.popleft()  # messages mostly leave in send order: the head goes at once
        if len(expiry) + len(late) > 2 * len(messages) + _COMPACT_MIN:
            kept = [m for m in expiry if m.state != _GONE]
            expiry.clear()
            expiry.extend(kept)
            late[:] = [entry for entry in late if entry[2].state != _GONE]
            heapq.heapify(late)
        counts = self._counts
        if (len(self._inflight) > 2 * counts[_INFLIGHT] + _COMPACT_MIN
                or len(self._delayed) > 2 * counts[_DELAYED] + _COMPACT_MIN):
            self._compact()

    def _compact(self) -> None:
        """Drop stale entries from the delay and visibility heaps when they dominate."""
        counts = self._counts
        inflight, delayed = self._inflight, self._delayed
        if len(inflight) > 2 * counts[_INFLIGHT] + _COMPACT_MIN:
            inflight[:] = [e for e in inflight if self._live(e, _INFLIGHT)]
            heapq.heapify(inflight)
        if len(delayed) > 2 * counts[_DELAYED] + _COMPACT_MIN:
            delayed[:] = [e for e in delayed if self._live(e, _DELAYED)]
            heapq.heapify(delayed)

    # -- operations --------------------------------------------------------------------------
    def send(self, body: str, attributes: dict[str, MessageAttributeValue], delay: float,
             group_id: str | None, dedup_id: str | None) -> SendResult:
        now = self.clock.now()
        self.advance(now)
        if dedup_id is not None:
            original = self._dedup_lookup(dedup_id, now)
            if original is not None:
                self.deduplicated += 1
                return SendResult(original[1], md5_of_body(body),
                                  md5_of_message_attributes(attributes), original[2], True)
        sent_ms = int(self.clock.time() * 1000)
        if sent_ms != self._sent_ms:  # a burst of sends in one millisecond formats it once
            self._sent_ms, self._sent_text = sent_ms, str(sent_ms)
        msg = _Msg(_uuid4(), body, attributes, now, self._sent_text, md5_of_body(body),
                   md5_of_message_attributes(attributes) if attributes else None)
        msg.group_id, msg.dedup_id = group_id, dedup_id
        if _invocation_get() is not None or _delivery_get() is not None:
            # Sent from a handler (or a destination delivery): the message carries the event
            # chain, so the queue's mapping can stop a function -> queue -> function loop.
            chain = current_lineage()
            if chain:
                msg.trace_header = lineage_header(chain)
        if self.config.fifo:
            msg.sequence_number = f"{next(self._sequence):020d}"
        if dedup_id is not None:
            expires = now + DEDUPLICATION_INTERVAL
            self._dedup[dedup_id] = (expires, msg.message_id, msg.sequence_number)
            self._dedup_order.append((expires, dedup_id))
        msg.expires_at = now + self.config.message_retention_period
        self.sent += 1
        self._admit(msg, delay, now)
        self._arm()
        return SendResult(msg.message_id, msg.md5_of_body, msg.md5_of_attributes, msg.sequence_number)

    def _dedup_lookup(self, dedup_id: str, now: float) -> tuple[float, str, str | None] | None:
        order = self._dedup_order
        while order and order[0][0] <= now:
            expires, key = order.popleft()
            entry = self._dedup.get(key)
            if entry is not None and entry[0] == expires:
                del self._dedup[key]
        return self._dedup.get(dedup_id)

    def _admit(self, msg: _Msg, delay: float, now: float) -> None:
        self._messages[msg.message_id] = msg
        msg.order = next(self._tiebreak)
        expiry = self._expiry
        if not expiry or expiry[-1].expires_at <= msg.expires_at:
            expiry.append(msg)  # in (expires_at, tiebreak) order: the tiebreak only grows
        else:
            heapq.heappush(self._expiry_late, (msg.expires_at, msg.order, msg))
        if delay > 0:
            self._set_state(msg, _DELAYED)
            self._push(self._delayed, now + delay, msg)
        else:
            self._make_visible(msg)

    def accept_redriven(self, source: _Msg, source_name: str, moved_at: float) -> None:
        """Take a message moved here by the redrive policy of ``source_name``."""
        msg = source.moved_copy()
        msg.dead_letter_source = queue_arn(source_name)
        retention = self.config.message_retention_period
        msg.expires_at = (moved_at if self.config.fifo else msg.enqueued_at) + retention
        self.redriven_in += 1
        self._admit(msg, 0, self.clock.now())
        self._arm()

    def receive_now(self, n: int, visibility_timeout: float) -> list[Message]:
        now = self.clock.now()
        self.advance(now)
        taken = self._take(n)
        if not taken:
            return []
        wall_ms = str(int(self.clock.time() * 1000))
        deadline = now + visibility_timeout
        # One nonce per receive, as unguessable as one per handle was (32 random hex digits);
        # the handles of one receive still differ, by message id (and a message's handles by
        # receive count).
        prefix, suffix = f"{self._uid}.", f".{_getrandbits(128):032x}"
        handles, inflight, tiebreak = self._handles, self._inflight, self._tiebreak
        set_state, sender_id = self._set_state, self._sender_id
        out: list[Message] = []
        # Each message's delivery, written out in the loop (a call per message costs more).
        for msg in taken:
            count = msg.receive_count = msg.receive_count + 1
            if not msg.first_receive:
                msg.first_receive = wall_ms
            msg.received_at = now
            token = f"{prefix}{msg.message_id}.{count}{suffix}"
            # urlsafe_b64encode without its wrappers (same bytes).
            handle = binascii.b2a_base64(token.encode(), newline=False).translate(_URLSAFE).decode()
            if msg.handle is not None:
                handles.pop(msg.handle, None)
            handles[handle] = msg
            msg.handle = handle
            set_state(msg, _INFLIGHT)
            msg.version += 1  # _push(self._inflight, deadline, msg)
            msg.deadline = deadline
            heapq.heappush(inflight, (deadline, next(tiebreak), msg.version, msg))
            attributes = {
                "ApproximateReceiveCount": str(count),
                "SentTimestamp": msg.sent,
                "SenderId": sender_id,
                "ApproximateFirstReceiveTimestamp": msg.first_receive,
            }
            if msg.group_id is not None:
                attributes["MessageGroupId"] = msg.group_id
            if msg.dedup_id is not None:
                attributes["MessageDeduplicationId"] = msg.dedup_id
            if msg.sequence_number is not None:
                attributes["SequenceNumber"] = msg.sequence_number
            if msg.dead_letter_source is not None:
                attributes["DeadLetterQueueSourceArn"] = msg.dead_letter_source
            if msg.trace_header is not None:
                attributes["AWSTraceHeader"] = msg.trace_header
            # The attributes dict is copied so a receiver cannot change the queue's.
            message_attributes = msg.message_attributes
            out.append(Message(msg.message_id, handle, msg.body, attributes,
                               dict(message_attributes) if message_attributes else {},
                               msg.md5_of_body, msg.md5_of_attributes))
        self.received += len(out)
        self._arm()
        return out

    def _message_for(self, receipt_handle: str) -> _Msg | None:
        """The live message a handle refers to (``None`` if gone), after checking the handle."""
        try:
            uid, message_id, _, _ = base64.urlsafe_b64decode(receipt_handle.encode()).decode().split(".")
        except (AttributeError, ValueError, binascii.Error, UnicodeError):
            uid = message_id = ""
        if uid != self._uid:
            raise ReceiptHandleIsInvalid(
                f"the input receipt handle {receipt_handle!r} is not a valid receipt handle "
                f"for queue {self.config.name!r}")
        self.advance(self.clock.now())
        return self._messages.get(message_id)

    def delete(self, receipt_handle: str) -> None:
        """Delete by ``receipt_handle``; the caller re-arms the timer (``_arm``) afterwards."""
        try:
            msg = self._handles.get(receipt_handle)
        except TypeError:  # unhashable: not a handle (_message_for says so)
            msg = None
        if msg is not None:
            # The current handle of a live message: what decoding it would find. Applying due
            # state changes first may remove the message (then the handle is gone from the map).
            self.advance(self.clock.now())
            if msg.state == _GONE:
                return  # it left meanwhile (expired, redriven): a delete of a gone message is fine
        else:
            msg = self._message_for(receipt_handle)
            if msg is None:
                return
        current = msg.handle == receipt_handle
        if self.config.fifo and (not current or msg.state != _INFLIGHT):
            raise InvalidParameterValue(f"receipt handle {receipt_handle!r} is invalid: {_EXPIRED_HANDLE}")
        if current:
            self._remove(msg)
            self.deleted += 1

    def change_visibility(self, receipt_handle: str, timeout: float) -> None:
        msg = self._message_for(receipt_handle)
        if msg is None or msg.handle != receipt_handle:
            raise InvalidParameterValue(f"receipt handle {receipt_handle!r} is invalid: {_EXPIRED_HANDLE}")
        if msg.state != _INFLIGHT:
            raise MessageNotInflight(f"message {msg.message_id} is not in flight")
        now = self.clock.now()
        if now + timeout - msg.received_at > _MAX_IN_FLIGHT_TIME:
            raise InvalidParameterValue(f"visibility timeout {timeout} would keep message "
                                        f"{msg.message_id} in flight over 12 hours since its receive")
        self._push(self._inflight, now + timeout, msg)
        self._compact()  # the entry just superseded is stale
        self.advance(now)
        self._arm()

    def purge(self) -> None:
        self.advance(self.clock.now())
        self.purged += len(self._messages)
        for msg in self._messages.values():
            msg.state = _GONE
        self._messages.clear()
        self._counts = [0] * 5
        self._handles.clear()
        self._delayed.clear()
        self._inflight.clear()
        self._expiry.clear()
        self._expiry_late.clear()
        self._clear_visible()
        self._arm()

    def statistics(self) -> QueueStatistics:
        self.advance(self.clock.now())
        counts = self._counts
        return QueueStatistics(
            self.config.name, counts[_VISIBLE], counts[_INFLIGHT], counts[_DELAYED],
            sent=self.sent, received=self.received, deleted=self.deleted,
            redriven_to_dlq=self.redriven_to_dlq, redriven_in=self.redriven_in,
            deduplicated=self.deduplicated, expired=self.expired, purged=self.purged)

    # -- time ---------------------------------------------------------------------------------
    def _push(self, heap: list[_Entry], when: float, msg: _Msg) -> None:
        msg.version += 1
        msg.deadline = when
        heapq.heappush(heap, (when, next(self._tiebreak), msg.version, msg))

    @staticmethod
    def _live(entry: _Entry, state: int) -> bool:
        msg = entry[3]
        return msg.version == entry[2] and msg.state == state

    def advance(self, now: float) -> None:
        """Apply every state change due by ``now``, each as of its own deadline."""
        delayed, inflight, expiry = self._delayed, self._inflight, self._expiry
        while delayed and delayed[0][0] <= now:
            entry = heapq.heappop(delayed)
            if self._live(entry, _DELAYED):
                msg = entry[3]
                if msg.expires_at <= entry[0]:
                    self._expire(msg)
                else:
                    self._make_visible(msg)
        while inflight and inflight[0][0] <= now:
            entry = heapq.heappop(inflight)
            if self._live(entry, _INFLIGHT):
                self._end_visibility(entry[3], entry[0])
        late = self._expiry_late
        while True:  # the earlier (expires_at, tiebreak) of the deque's and the heap's heads
            if expiry and expiry[0].expires_at <= now:
                msg = expiry[0]
                if late and (late[0][0], late[0][1]) < (msg.expires_at, msg.order):
                    msg = heapq.heappop(late)[2]
                else:
                    expiry.popleft()
            elif late and late[0][0] <= now:
                msg = heapq.heappop(late)[2]
            else:
                break
            if msg.state != _GONE:  # still held (a message that left early is skipped)
                self._expire(msg)

    def _expire(self, msg: _Msg) -> None:
        self._remove(msg)
        self.expired += 1

    def _end_visibility(self, msg: _Msg, when: float) -> None:
        if msg.expires_at <= when:
            self._expire(msg)
            return
        policy = self.config.redrive_policy
        if policy is not None and msg.receive_count >= policy.max_receive_count:
            dead_letter_queue = self._resolve(policy.dead_letter_queue)
            if dead_letter_queue is not None and not dead_letter_queue.closed:
                self._remove(msg)
                self.redriven_to_dlq += 1
                dead_letter_queue.accept_redriven(msg, self.config.name, when)
                return
        self._make_visible(msg)

    def _next_deadline(self) -> float | None:
        # Runs after every operation: written out for both heaps rather than looped over.
        delayed, inflight = self._delayed, self._inflight
        while delayed:
            entry = delayed[0]
            msg = entry[3]
            if msg.version == entry[2] and msg.state == _DELAYED:
                break
            heapq.heappop(delayed)
        while inflight:
            entry = inflight[0]
            msg = entry[3]
            if msg.version == entry[2] and msg.state == _INFLIGHT:
                break
            heapq.heappop(inflight)
        if delayed:
            if inflight and inflight[0][0] < delayed[0][0]:
                return inflight[0][0]
            return delayed[0][0]
        return inflight[0][0] if inflight else None

    def _arm(self) -> None:
        """Keep one clock timer set for the next delay or visibility deadline."""
        when = self._next_deadline()
        timer = self._timer
        if timer is not None:
            if when is not None and timer.when <= when:
                return  # fires first; it re-arms for whatever is next
            timer.cancel()
            self._timer = None
        if when is not None and not self.closed:
            self._timer = self.clock.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if not self.closed:
            self.advance(self.clock.now())
            self._arm()

    # -- long polling ---------------------------------------------------------------------------
    def _notify(self) -> None:
        """Wake one waiting receiver: something became receivable."""
        while self._waiters:
            fut = next(iter(self._waiters))
            del self._waiters[fut]
            if not fut.done():
                fut.set_result(None)
                return

    async def wait(self, deadline: float) -> None:
        """Return when woken by ``_notify``, at ``deadline``, or when the queue closes."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[fut] = None

        def expire() -> None:
            if not fut.done():
                fut.set_result(None)

        timer = self.clock.call_at(deadline, expire)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._notify()  # we were woken but will not receive: pass the wake-up on
            raise
        finally:
            timer.cancel()
            self._waiters.pop(fut, None)

    def close(self) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiters, self._waiters = self._waiters, {}
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)


class _StandardQueue(_Queue):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        # May hold entries of messages that left while visible (deleted, expired): skipped on take.
        self._visible: deque[_Msg] = deque()

    def _make_visible(self, msg: _Msg) -> None:
        # _set_state and _notify written out: this runs once per send.
        counts = self._counts
        counts[msg.state] -= 1
        counts[_VISIBLE] += 1
        msg.state = _VISIBLE
        self._visible.append(msg)
        if self._waiters:
            self._notify()

    def _take(self, n: int) -> list[_Msg]:
        out: list[_Msg] = []
        visible = self._visible
        while visible and len(out) < n:
            msg = visible.popleft()
            if msg.state == _VISIBLE:
                out.append(msg)
        return out

    def _clear_visible(self) -> None:
        self._visible.clear()


class _Group:
    __slots__ = ("group_id", "inflight", "messages", "queued")

    def __init__(self, group_id: str) -> None:
        self.group_id = group_id
        self.messages: deque[_Msg] = deque()  # every live message of the group, in send order
        self.inflight = 0
        self.queued = False  # in the ready deque


class _FifoQueue(_Queue):
    """Groups are delivered whole-prefix-at-a-time: a group is *ready* when none of its messages
    is in flight and its oldest live message is visible."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._groups: dict[str, _Group] = {}
        self._ready: deque[_Group] = deque()

    def _admit(self, msg: _Msg, delay: float, now: float) -> None:
        assert msg.group_id is not None
        group = self._groups.get(msg.group_id)
        if group is None:
            group = self._groups[msg.group_id] = _Group(msg.group_id)
        group.messages.append(msg)
        super()._admit(msg, delay, now)

    def _set_state(self, msg: _Msg, state: int) -> None:
        old = msg.state
        super()._set_state(msg, state)
        if old == _INFLIGHT:
            self._groups[msg.group_id].inflight -= 1  # type: ignore[index]
        elif state == _INFLIGHT:
            self._groups[msg.group_id].inflight += 1  # type: ignore[index]

    def _make_visible(self, msg: _Msg) -> None:
        self._set_state(msg, _VISIBLE)
        self._refresh(msg)

    def _remove(self, msg: _Msg) -> None:
        super()._remove(msg)
        self._refresh(msg)

    def _refresh(self, msg: _Msg) -> None:
        group = self._groups[msg.group_id]  # type: ignore[index]
        messages = group.messages
        while messages and messages[0].state == _GONE:
            messages.popleft()
        if not messages:
            del self._groups[group.group_id]  # no message left, so none in flight
        elif group.inflight == 0 and messages[0].state == _VISIBLE and not group.queued:
            group.queued = True
            self._ready.append(group)
            self._notify()

    def _take(self, n: int) -> list[_Msg]:
        out: list[_Msg] = []
        while self._ready and len(out) < n:
            group = self._ready.popleft()
            group.queued = False
            if self._groups.get(group.group_id) is not group or group.inflight:
                continue
            for msg in group.messages:
                if msg.state == _GONE:
                    continue
                if msg.state != _VISIBLE or len(out) >= n:
                    break
                out.append(msg)
        return out

    def _clear_visible(self) -> None:
        self._groups.clear()
        self._ready.clear()


class MemoryQueueBackend(QueueBackend):
    """Queues held in this process, with SQS semantics, driven by ``clock`` (default real time).

    ``sender_id`` is reported as every message's ``SenderId``. See the module docstring for the
    choices made where SQS's documentation leaves room.
    """

    def __init__(self, *, clock: Clock | None = None, sender_id: str = "000000000000") -> None:
        self.clock: Clock = clock if clock is not None else RealClock()
        self._sender_id = sender_id
        self._queues: dict[str, _Queue] = {}
        self._closed = False

    def _get(self, name: str) -> _Queue:
        queue = self._queues.get(name)
        if queue is None:
            state = " (the backend is closed)" if self._closed else ""
            raise QueueDoesNotExist(f"queue {name!r} does not exist{state}")
        return queue

    async def create_queue(self, config: QueueConfig) -> None:
        if self._closed:
            raise QueueError("the queue backend is closed")
        existing = self._queues.get(config.name)
        if existing is not None:
            if existing.config != config:
                raise QueueNameExists(f"queue {config.name!r} exists with a different configuration")
            return
        policy = config.redrive_policy
        if policy is not None:
            target = self._queues.get(policy.dead_letter_queue)
            field = "redrive_policy.dead_letter_queue"
            if target is None:
                raise ConfigError(field, policy.dead_letter_queue,
                                  "no such queue; create the dead-letter queue first")
            if target.config.fifo != config.fifo:
                raise ConfigError(field, policy.dead_letter_queue,
                                  "must be of the same type as the source queue (FIFO or standard)")
        kind = _FifoQueue if config.fifo else _StandardQueue
        self._queues[config.name] = kind(config, self.clock, self._queues.get, self._sender_id)

    async def delete_queue(self, name: str) -> None:
        self._get(name).close()
        del self._queues[name]

    async def get_queue_config(self, name: str) -> QueueConfig:
        return self._get(name).config

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
        q = self._queues.get(queue) or self._get(queue)
        config = q.config
        validate_body(body)
        attributes = coerce_message_attributes(message_attributes)
        check_message_size(body, attributes, config.maximum_message_size)
        if group_id is not None:
            validate_fifo_id("group_id", group_id)
        if config.fifo:
            deduplication_id = self._fifo_dedup_id(config, body, delay_seconds, group_id,
                                                   deduplication_id)
            delay = float(config.delay_seconds)
        else:
            if deduplication_id is not None:
                raise InvalidParameterValue("deduplication_id applies to FIFO queues only")
            delay = (float(config.delay_seconds) if delay_seconds is None
                     else _param("delay_seconds", delay_seconds, 0, 900))
        return q.send(body, attributes, delay, group_id, deduplication_id)

    @staticmethod
    def _fifo_dedup_id(config: QueueConfig, body: str, delay_seconds: float | None,
                       group_id: str | None, deduplication_id: str | None) -> str:
        if delay_seconds is not None:
            raise InvalidParameterValue("FIFO queues take no per-message delay_seconds; "
                                        "set the queue's delay_seconds instead")
        if group_id is None:
            raise MissingParameter(f"FIFO queue {config.name!r} needs a group_id")
        if deduplication_id is not None:
            return validate_fifo_id("deduplication_id", deduplication_id)
        if not config.content_based_deduplication:
            raise MissingParameter(f"FIFO queue {config.name!r} needs a deduplication_id, or "
                                   "content_based_deduplication enabled")
        return hashlib.sha256(body.encode()).hexdigest()

    async def receive(
        self,
        queue: str,
        *,
        max_messages: int = 1,
        visibility_timeout: float | None = None,
        wait_time: float | None = None,
        extended_batch: bool = False,
    ) -> list[Message]:
        q = self._get(queue)
        limit = MAX_RECEIVE_MESSAGES_EXTENDED if extended_batch else MAX_RECEIVE_MESSAGES
        if isinstance(max_messages, bool) or not isinstance(max_messages, int) or not 1 <= max_messages <= limit:
            hint = "" if extended_batch else " (extended_batch=True allows up to 10000)"
            raise InvalidParameterValue(f"invalid max_messages={max_messages!r}: must be between 1 "
                                        f"and {limit}{hint}")
        visibility = (q.config.visibility_timeout if visibility_timeout is None
                      else _param("visibility_timeout", visibility_timeout, 0, _MAX_IN_FLIGHT_TIME))
        wait = (q.config.receive_wait_time if wait_time is None
                else _param("wait_time", wait_time, 0, 20))
        messages = q.receive_now(max_messages, visibility)
        if messages or wait <= 0:
            return messages
        deadline = self.clock.now() + wait
        while True:
            await q.wait(deadline)
            if q.closed:
                raise QueueDoesNotExist(f"queue {queue!r} was deleted while receiving")
            messages = q.receive_now(max_messages, visibility)
            if messages or self.clock.now() >= deadline:
                return messages

    async def delete(self, queue: str, receipt_handle: str) -> None:
        q = self._get(queue)
        try:
            q.delete(receipt_handle)
        finally:
            q._arm()

    async def delete_batch(self, queue: str, receipt_handles: Sequence[str]) -> BatchResult:
        """As :meth:`QueueBackend.delete_batch`, without a coroutine per handle."""
        if type(self).delete is not MemoryQueueBackend.delete:
            return await super().delete_batch(queue, receipt_handles)  # a subclass's delete
        _check_batch_ids(list(receipt_handles), limit=None)
        q = self._get(queue)
        successful: list[str] = []
        failed: dict[str, BatchError] = {}
        try:
            for handle in receipt_handles:
                try:
                    q.delete(handle)
                    successful.append(handle)
                except QueueDoesNotExist:
                    raise
                except QueueError as exc:
                    failed[handle] = BatchError(exc.code, str(exc))
        finally:
            q._arm()  # once for the batch: no timer can fire between its deletes
        return BatchResult(successful, failed)

    async def change_visibility(self, queue: str, receipt_handle: str, timeout: float) -> None:
        q = self._get(queue)
        q.change_visibility(receipt_handle, _param("timeout", timeout, 0, _MAX_IN_FLIGHT_TIME))

    async def purge(self, queue: str) -> None:
        self._get(queue).purge()

    async def statistics(self, queue: str) -> QueueStatistics:
        return self._get(queue).statistics()

    async def aclose(self) -> None:
        self._closed = True
        queues, self._queues = self._queues, {}
        for q in queues.values():
            q.close()
