"""Idempotent handlers: a handler's effects happen once per idempotency key, however often the
event is delivered.

Asynchronous invokes, queues and streams deliver *at least once* (as on Lambda): the same
event can reach a handler twice, or concurrently on two execution contexts. The ``idempotent``
decorator makes the duplicates harmless, in the way of Powertools for AWS Lambda's idempotency
utility (same configuration names, same exceptions, same record life cycle)::

    from asynclambda.idempotency import IdempotencyConfig, MemoryIdempotencyStore, idempotent

    store = MemoryIdempotencyStore(clock=rt.clock)

    @rt.function
    @idempotent(store, config=IdempotencyConfig(event_key_jmespath="body.order_id"))
    async def charge(event, context):
        ...                                  # runs once per order_id; duplicates get its result

Per invocation:

1. The key data is taken from the event (``event_key_jmespath``, a small JMESPath subset, or
   ``event_key_function``; the whole event by default) and hashed into the key
   ``"<function>.<module>.<handler>#<hash>"``. No key data: :class:`IdempotencyKeyError` with
   ``raise_on_no_idempotency_key``, else a warning and the handler runs unprotected.
2. An ``INPROGRESS`` record is put if no live record has the key. It expires with the
   invocation's remaining time (``context.get_remaining_time_in_millis()``), so a retry after a
   timed-out attempt is not locked out.
3. The key is taken: a ``COMPLETED`` record returns its stored response (the handler does not
   run); an ``INPROGRESS`` one raises :class:`IdempotencyAlreadyInProgressError` (Powertools'
   behaviour), or with ``on_in_progress="wait"`` waits for the first caller and returns its
   response (or runs itself if the first one failed).
4. The handler raises: the record is deleted, so a retry can run. It returns: the response is
   stored as JSON (msgspec, never pickle) in a ``COMPLETED`` record that expires after
   ``expires_after_seconds``.

Records live in an :class:`IdempotencyStore`; :class:`MemoryIdempotencyStore` keeps them in
memory (one process). Every expiry reads the store's injected clock, so a ``VirtualClock`` moves
them in tests.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import functools
import hashlib
import math
import re
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar, Final, Literal, TypeVar, cast

import msgspec

from asynclambda._resource import AsyncResource

from .clock import RealClock
from .config import _check_number
from .errors import AsyncLambdaError, ConfigError
from .handlers import is_async_callable
from .payloads import decode, encode
from .types import Clock, Timer

__all__ = [
    "COMPLETED",
    "INPROGRESS",
    "IdempotencyAlreadyInProgressError",
    "IdempotencyConfig",
    "IdempotencyError",
    "IdempotencyInconsistentStateError",
    "IdempotencyItemAlreadyExistsError",
    "IdempotencyKeyError",
    "IdempotencyPersistenceLayerError",
    "IdempotencyRecord",
    "IdempotencyStore",
    "IdempotencyStoreStatistics",
    "IdempotencyValidationError",
    "MemoryIdempotencyStore",
    "idempotent",
]

H = TypeVar("H", bound=Callable[..., Any])
T = TypeVar("T")

#: Record status while the handler runs.
INPROGRESS: Final = "INPROGRESS"
#: Record status once the handler returned (the record holds its response).
COMPLETED: Final = "COMPLETED"
Status = Literal["INPROGRESS", "COMPLETED"]

# How often the put/get race is retried when the store's state moves in between (Powertools: 2).
_MAX_INCONSISTENT_RETRIES: Final = 2


# -- errors ---------------------------------------------------------------------------------------
class IdempotencyError(AsyncLambdaError):
    """Base class of the idempotency errors (names as in Powertools for AWS Lambda)."""


class IdempotencyAlreadyInProgressError(IdempotencyError):
    """Another invocation with the same idempotency key is running now."""


class IdempotencyItemAlreadyExistsError(IdempotencyError):
    """Raised by :meth:`IdempotencyStore.put_if_absent`: a live record already has the key.

    ``old_record`` is that record when the store can return it at no extra cost, else ``None``
    (the decorator then reads it with :meth:`IdempotencyStore.get`).
    """

    def __init__(self, message: str = "", old_record: IdempotencyRecord | None = None) -> None:
        super().__init__(message or "a live idempotency record already has this key")
        self.old_record = old_record


class IdempotencyKeyError(IdempotencyError, LookupError):
    """The event holds no idempotency key data (with ``raise_on_no_idempotency_key``)."""


class IdempotencyValidationError(IdempotencyError, ValueError):
    """The payload differs from the one stored for this key (``payload_validation_jmespath``)."""


class IdempotencyInconsistentStateError(IdempotencyError):
    """The store's state kept changing between the put and the read (retried twice first)."""


class IdempotencyPersistenceLayerError(IdempotencyError):
    """The store failed, or the handler's response cannot be stored as JSON."""


# -- records and the store interface -------------------------------------------------------------
class IdempotencyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One idempotency key's record. Times are wall-clock seconds (the store clock's ``time()``).

    ``expires_at``: the record is gone after it. ``in_progress_until``: an ``INPROGRESS`` record
    is abandoned after it (the invocation that holds it ran out of time), so the key may be taken
    again. ``response`` is the handler's result as JSON; ``payload_hash`` the hash of the
    validated part of the payload (``None`` without payload validation).
    """

    key: str
    status: Status
    expires_at: float
    in_progress_until: float | None = None
    response: bytes | None = None
    payload_hash: str | None = None

    def is_live(self, now: float) -> bool:
        """True if the record still holds its key at wall time ``now``."""
        if now >= self.expires_at:
            return False
        return not (self.status == INPROGRESS and self.in_progress_until is not None
                    and now >= self.in_progress_until)


class IdempotencyStoreStatistics(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of a store: live records by status, waiters, and counters since creation."""

    records: int
    in_progress: int
    completed: int
    waiters: int
    acquired: int
    conflicts: int
    completions: int
    deletions: int


class IdempotencyStore(AsyncResource):
    """Where idempotency records live. Subclass it for a backend.

    Required: :meth:`get`, :meth:`put_if_absent`, :meth:`complete`, :meth:`delete`; each must be
    atomic for one key (``put_if_absent`` above all: two concurrent puts of one key, from any
    process, let exactly one win). :meth:`wait` polls by default; override it when the backend can
    notify. Every time comparison uses ``self.clock.time()``.

    **Threads.** Plain ``def`` handlers run on their execution context's own thread; the decorator
    then runs store calls on the event loop named by :attr:`loop` (set it when the store's I/O is
    bound to a loop), else on the runtime's loop, else on a private loop in the calling thread,
    which a store can only allow if it is thread-safe (the memory store is).
    """

    #: Seconds between two reads in the default :meth:`wait`.
    poll_interval: ClassVar[float] = 0.05

    def __init__(self, *, clock: Clock | None = None) -> None:
        self.clock: Clock = clock if clock is not None else RealClock()
        #: The event loop the store's I/O belongs to, if any (see the class docstring).
        self.loop: asyncio.AbstractEventLoop | None = None

    async def get(self, key: str) -> IdempotencyRecord | None:
        """The live record of ``key``, or ``None`` (absent, expired, or abandoned in progress)."""
        raise NotImplementedError

    async def put_if_absent(self, record: IdempotencyRecord) -> None:
        """Store ``record`` unless a live record has its key.

        Raises :class:`IdempotencyItemAlreadyExistsError` (with ``old_record`` if it is at hand)
        when one does. An expired record, or an abandoned ``INPROGRESS`` one, is replaced.
        """
        raise NotImplementedError

    async def complete(self, record: IdempotencyRecord) -> None:
        """Replace the record of ``record.key`` with this ``COMPLETED`` one."""
        raise NotImplementedError

    async def delete(self, key: str) -> None:
        """Remove the record of ``key`` (no error if there is none)."""
        raise NotImplementedError

    async def wait(self, key: str, until: float) -> None:
        """Return once ``key`` is no longer held ``INPROGRESS``, or at wall time ``until``.

        It may return early: callers read the record again. The default polls :meth:`get` every
        :attr:`poll_interval` seconds of the store's clock.
        """
        clock = self.clock
        while clock.time() < until:
            record = await self.get(key)
            if record is None or record.status != INPROGRESS:
                return
            await clock.sleep(min(self.poll_interval, until - clock.time()))

    async def aclose(self) -> None:
        """Release the store's resources (connections); the memory store has none."""



def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _wake_on(loop: asyncio.AbstractEventLoop, fut: asyncio.Future[None]) -> None:
    """Wake ``fut`` from any thread (a closed loop has nobody waiting any more)."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_wake, fut)


class MemoryIdempotencyStore(IdempotencyStore):
    """Idempotency records in a dict: the default for one process, and for tests.

    Thread-safe (one lock around the dict), so plain ``def`` handlers may call it from their
    threads. Waiters are woken when a record completes or is deleted, and by a timer on the
    store's clock when ``until`` comes.
    """

    def __init__(self, *, clock: Clock | None = None) -> None:
        super().__init__(clock=clock)
        self._records: dict[str, IdempotencyRecord] = {}
        self._waiters: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]] = {}
        self._lock = threading.Lock()
        self._acquired = self._conflicts = self._completions = self._deletions = 0

    def _live(self, key: str) -> IdempotencyRecord | None:
        record = self._records.get(key)
        if record is not None and not record.is_live(self.clock.time()):
            del self._records[key]
            return None
        return record

    async def get(self, key: str) -> IdempotencyRecord | None:
        with self._lock:
            return self._live(key)

    async def put_if_absent(self, record: IdempotencyRecord) -> None:
        with self._lock:
            old = self._live(record.key)
            if old is not None:
                self._conflicts += 1
                raise IdempotencyItemAlreadyExistsError(old_record=old)
            self._records[record.key] = record
            self._acquired += 1

    async def complete(self, record: IdempotencyRecord) -> None:
        with self._lock:
            self._records[record.key] = record
            self._completions += 1
            self._notify(record.key)

    async def delete(self, key: str) -> None:
        with self._lock:
            if self._records.pop(key, None) is not None:
                self._deletions += 1
            self._notify(key)

    def _notify(self, key: str) -> None:
        for loop, fut in self._waiters.pop(key, ()):
            _wake_on(loop, fut)

    async def wait(self, key: str, until: float) -> None:
        clock = self.clock
        if until <= clock.time():
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        waiter = (loop, fut)
        with self._lock:
            record = self._live(key)
            if record is None or record.status != INPROGRESS:
                return
            self._waiters.setdefault(key, []).append(waiter)
        # The clock runs its callbacks where it is driven; hand the wake-up to our loop.
        timer: Timer = clock.call_at(clock.now() + max(0.0, until - clock.time()),
                                     functools.partial(_wake_on, loop, fut))
        try:
            await fut
        finally:
            timer.cancel()
            with self._lock:
                waiters = self._waiters.get(key)
                if waiters is not None and waiter in waiters:
                    waiters.remove(waiter)
                    if not waiters:
                        del self._waiters[key]

    async def clear(self) -> None:
        """Drop every record (for tests: a fresh start between examples)."""
        with self._lock:
            keys = list(self._records)
            self._records.clear()
            for key in keys:
                self._notify(key)

    def records(self) -> list[IdempotencyRecord]:
        """A snapshot of the live records, oldest first (for tests and debugging)."""
        with self._lock:
            now = self.clock.time()
            return [r for r in self._records.values() if r.is_live(now)]

    def statistics(self) -> IdempotencyStoreStatistics:
        """A snapshot (expired records are not counted)."""
        with self._lock:
            now = self.clock.time()
            live = [r for r in self._records.values() if r.is_live(now)]
            return IdempotencyStoreStatistics(
                records=len(live),
                in_progress=sum(1 for r in live if r.status == INPROGRESS),
                completed=sum(1 for r in live if r.status == COMPLETED),
                waiters=sum(len(w) for w in self._waiters.values()),
                acquired=self._acquired, conflicts=self._conflicts,
                completions=self._completions, deletions=self._deletions)

    def __repr__(self) -> str:
        return f"<MemoryIdempotencyStore records={len(self._records)} clock={self.clock!r}>"


# -- key expressions: a JMESPath subset ----------------------------------------------------------
Getter = Callable[[Any], Any]

_TOKEN: Final = re.compile(r"""\s*(?:
      (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | "(?P<quoted>(?:[^"\\]|\\.)*)"
    | (?P<int>-?[0-9]+)
    | (?P<punct>[.\[\](),@])
    )""", re.VERBOSE)


def _json_function(value: Any) -> Any:
    if not isinstance(value, str | bytes):
        return None
    try:
        return decode(value)
    except msgspec.DecodeError:
        return None


def _base64_function(value: Any) -> Any:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


_FUNCTIONS: Final[dict[str, Getter]] = {
    "powertools_json": _json_function,
    "powertools_base64": _base64_function,
}


def _get_key(name: str) -> Getter:
    def get(data: Any) -> Any:
        return data.get(name) if isinstance(data, dict) else None
    return get


def _get_index(index: int) -> Getter:
    def get(data: Any) -> Any:
        if isinstance(data, list) and -len(data) <= index < len(data):
            return data[index]
        return None
    return get


def _chain(steps: list[Getter]) -> Getter:
    if len(steps) == 1:
        return steps[0]

    def get(data: Any) -> Any:
        for step in steps:
            data = step(data)
            if data is None:
                return None
        return data
    return get


class _PathParser:
    """Recursive descent over the tokens of a key expression.

    ::

        expression := '[' path (',' path)* ']'        multi-select list
                    | path
        path       := primary ('.' name | '[' int ']')*
        primary    := name | '@' | '[' int ']' | function '(' path ')'
        name       := identifier | '"quoted"'
        function   := powertools_json | powertools_base64
    """

    def __init__(self, expression: str, field: str) -> None:
        self.expression = expression
        self.field = field
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = expression.rstrip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise self.error(f"unexpected character {text[pos:].strip()[:1]!r}")
            kind = m.lastgroup or ""
            value = m.group(kind)
            if kind == "quoted":
                value = value.replace('\\"', '"').replace("\\\\", "\\")
            self.tokens.append((kind, value))
            pos = m.end()
        self.i = 0

    def error(self, reason: str) -> ConfigError:
        return ConfigError(self.field, self.expression,
                           f"{reason} (supported: dotted names, \"quoted\" names, [index], "
                           "[multi, select], powertools_json(...), powertools_base64(...))")

    def peek(self, offset: int = 0) -> tuple[str, str]:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else ("end", "")

    def take(self, kind: str, value: str | None = None) -> str:
        k, v = self.peek()
        if k != kind or (value is not None and v != value):
            raise self.error(f"expected {value or kind!r}, found {v or 'the end'!r}")
        self.i += 1
        return v

    def parse(self) -> Getter:
        if not self.tokens:
            raise self.error("is empty")
        if self.peek() == ("punct", "[") and self.peek(1)[0] != "int":
            self.take("punct", "[")
            getters = [self.path()]
            while self.peek() == ("punct", ","):
                self.take("punct", ",")
                getters.append(self.path())
            self.take("punct", "]")
            getter: Getter = functools.partial(_select, tuple(getters))
        else:
            getter = self.path()
        if self.peek()[0] != "end":
            raise self.error(f"unexpected {self.peek()[1]!r}")
        return getter

    def path(self) -> Getter:
        steps = [self.primary()]
        while True:
            kind, value = self.peek()
            if (kind, value) == ("punct", "."):
                self.take("punct", ".")
                steps.append(self.name())
            elif (kind, value) == ("punct", "["):
                steps.append(self.index())
            else:
                return _chain(steps)

    def primary(self) -> Getter:
        kind, value = self.peek()
        if (kind, value) == ("punct", "@"):
            self.take("punct")
            return _identity
        if (kind, value) == ("punct", "["):
            return self.index()
        if kind == "name" and self.peek(1) == ("punct", "("):
            function = _FUNCTIONS.get(value)
            if function is None:
                raise self.error(f"unknown function {value!r}")
            self.take("name")
            self.take("punct", "(")
            inner = self.path()
            self.take("punct", ")")
            return _chain([inner, function])
        return self.name()

    def name(self) -> Getter:
        kind, value = self.peek()
        if kind not in ("name", "quoted"):
            raise self.error(f"expected a name, found {value or 'the end'!r}")
        self.take(kind)
        return _get_key(value)

    def index(self) -> Getter:
        self.take("punct", "[")
        index = int(self.take("int"))
        self.take("punct", "]")
        return _get_index(index)


def _identity(data: Any) -> Any:
    return data


def _select(getters: tuple[Getter, ...], data: Any) -> Any:
    return [g(data) for g in getters]


def _compile_path(expression: str, field: str = "event_key_jmespath") -> Getter:
    """Compile a key expression (see :class:`_PathParser`) into ``getter(data)``.

    Like JMESPath, a missing name or index gives ``None`` rather than an error.
    """
    return _PathParser(expression, field).parse()


# -- configuration --------------------------------------------------------------------------------
class IdempotencyConfig(msgspec.Struct, frozen=True, kw_only=True):
    """How :func:`idempotent` finds the key and keeps records (Powertools' names and defaults).

    Parameters:
        event_key_jmespath: where the key data is in the event: dotted names, ``"quoted"``
            names, ``[index]``, a multi-select list ``[a, b.c]``, and Powertools'
            ``powertools_json(...)`` / ``powertools_base64(...)``; e.g. ``"body.order_id"``,
            ``"Records[0].messageId"``, ``"powertools_json(body).order_id"``. Empty: the whole
            event.
        event_key_function: instead of a path, ``function(event) -> key data`` (a JSON value).
        payload_validation_jmespath: the part of the event that must match the stored record's
            for a duplicate to get the stored response (else :class:`IdempotencyValidationError`).
        raise_on_no_idempotency_key: raise :class:`IdempotencyKeyError` when the key data is
            missing (``None``, empty, or all-``None``); otherwise warn and run unprotected.
        expires_after_seconds: how long a completed record (and its response) is kept.
        use_local_cache, local_cache_max_items: keep completed records in an in-process LRU too.
        hash_function: a :mod:`hashlib` name for hashing key data and payloads.
        response_hook: ``hook(response, record) -> response``, called when a duplicate gets a
            stored response.
        on_in_progress: what a concurrent duplicate does: ``"raise"``
            :class:`IdempotencyAlreadyInProgressError` (Powertools), or ``"wait"`` for the first
            invocation and return its response (bounded by its own remaining time).
        key_prefix: replaces ``"<function>.<module>.<handler>"`` in keys (share keys between
            handlers, or keep them stable across a rename).
    """

    event_key_jmespath: str = ""
    event_key_function: Any = None
    payload_validation_jmespath: str = ""
    raise_on_no_idempotency_key: bool = False
    expires_after_seconds: float = 3600.0
    use_local_cache: bool = False
    local_cache_max_items: int = 256
    hash_function: str = "md5"
    response_hook: Any = None
    on_in_progress: Literal["raise", "wait"] = "raise"
    key_prefix: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.event_key_jmespath, str):
            raise ConfigError("event_key_jmespath", self.event_key_jmespath, "must be a string")
        if self.event_key_jmespath:
            _compile_path(self.event_key_jmespath, "event_key_jmespath")
        if self.event_key_function is not None:
            if not callable(self.event_key_function):
                raise ConfigError("event_key_function", self.event_key_function,
                                  "must be a callable event -> key data")
            if self.event_key_jmespath:
                raise ConfigError("event_key_function", self.event_key_function,
                                  "give either event_key_jmespath or event_key_function")
        if not isinstance(self.payload_validation_jmespath, str):
            raise ConfigError("payload_validation_jmespath", self.payload_validation_jmespath,
                              "must be a string")
        if self.payload_validation_jmespath:
            _compile_path(self.payload_validation_jmespath, "payload_validation_jmespath")
        _check_number("expires_after_seconds", self.expires_after_seconds, 0, math.inf,
                      "seconds", lo_open=True)
        if (isinstance(self.local_cache_max_items, bool)
                or not isinstance(self.local_cache_max_items, int)
                or self.local_cache_max_items < 1):
            raise ConfigError("local_cache_max_items", self.local_cache_max_items,
                              "must be a positive integer")
        try:
            hashlib.new(self.hash_function, b"", usedforsecurity=False).hexdigest()
        except (ValueError, TypeError):
            raise ConfigError("hash_function", self.hash_function,
                              "must name a hashlib algorithm with a fixed digest size "
                              "(md5, sha256 ...)") from None
        if self.response_hook is not None and not callable(self.response_hook):
            raise ConfigError("response_hook", self.response_hook,
                              "must be a callable (response, record) -> response")
        if self.on_in_progress not in ("raise", "wait"):
            raise ConfigError("on_in_progress", self.on_in_progress, "must be 'raise' or 'wait'")
        if self.key_prefix is not None and (not isinstance(self.key_prefix, str)
                                            or not self.key_prefix):
            raise ConfigError("key_prefix", self.key_prefix, "must be a non-empty string")


# -- the decorator --------------------------------------------------------------------------------
_key_encoder: Final = msgspec.json.Encoder(order="sorted", decimal_format="number")


def _plain_data(event: Any) -> Any:
    """The event as JSON-shaped builtins (typed events, dataclasses), for paths and hashes."""
    if isinstance(event, msgspec.Struct):
        return msgspec.to_builtins(event)
    if dataclasses.is_dataclass(event) and not isinstance(event, type):
        return dataclasses.asdict(event)
    return getattr(event, "raw_event", event)


def _is_missing(data: Any) -> bool:
    """Powertools' rule: ``None``, empty, or a list/dict whose values are all ``None``."""
    if isinstance(data, dict):
        return all(v is None for v in data.values())
    if isinstance(data, list | tuple):
        return all(v is None for v in data)
    if isinstance(data, bool | int | float):
        return False
    return not data


class _Call:
    """One invocation's key, payload hash and remaining time."""

    __slots__ = ("key", "payload_hash", "remaining")

    def __init__(self, key: str, payload_hash: str | None, remaining: float | None) -> None:
        self.key = key
        self.payload_hash = payload_hash
        self.remaining = remaining


class _Stored:
    """A duplicate's answer: the completed record whose response it returns."""

    __slots__ = ("record",)

    def __init__(self, record: IdempotencyRecord) -> None:
        self.record = record


class _Idempotency:
    """The protocol of one decorated handler (shared by its async and its sync wrapper)."""

    def __init__(self, handler: Callable[..., Any], store: IdempotencyStore,
                 config: IdempotencyConfig) -> None:
        self.store = store
        self.config = config
        self.handler_name = (f"{getattr(handler, '__module__', '?')}."
                             f"{getattr(handler, '__qualname__', type(handler).__name__)}")
        self.key_getter: Getter | None = (_compile_path(config.event_key_jmespath)
                                          if config.event_key_jmespath else None)
        self.validation_getter: Getter | None = (
            _compile_path(config.payload_validation_jmespath, "payload_validation_jmespath")
            if config.payload_validation_jmespath else None)
        self.cache: OrderedDict[str, IdempotencyRecord] | None = (
            OrderedDict() if config.use_local_cache else None)
        self.cache_lock = threading.Lock()

    # -- keys ---------------------------------------------------------------------------------
    def _hash(self, data: Any, what: str) -> str:
        try:
            raw = _key_encoder.encode(data)
        except (TypeError, ValueError, OverflowError, msgspec.EncodeError) as exc:
            raise IdempotencyKeyError(f"the {what} is not JSON-encodable: {exc}") from None
        return hashlib.new(self.config.hash_function, raw, usedforsecurity=False).hexdigest()

    def prepare(self, event: Any, context: Any) -> _Call | None:
        """The call's key, or ``None`` when the key data is missing and that is allowed."""
        config = self.config
        data = _plain_data(event)
        if config.event_key_function is not None:
            key_data = config.event_key_function(data)
        elif self.key_getter is not None:
            key_data = self.key_getter(data)
        else:
            key_data = data
        if _is_missing(key_data):
            where = config.event_key_jmespath or getattr(config.event_key_function, "__name__",
                                                         "the event")
            if config.raise_on_no_idempotency_key:
                raise IdempotencyKeyError(
                    f"No data found to create a hashed idempotency key ({where})")
            warnings.warn(f"No idempotency key value found ({where}): the handler runs without "
                          "idempotency", stacklevel=3)
            return None
        prefix = config.key_prefix or (
            f"{getattr(context, 'function_name', 'test-func')}.{self.handler_name}")
        key = f"{prefix}#{self._hash(key_data, 'idempotency key data')}"
        payload_hash = (self._hash(self.validation_getter(data), "validated payload")
                        if self.validation_getter is not None else None)
        remaining: float | None = None
        get_remaining = getattr(context, "get_remaining_time_in_millis", None)
        if callable(get_remaining):
            remaining = get_remaining() / 1000.0
        return _Call(key, payload_hash, remaining)

    # -- local cache --------------------------------------------------------------------------
    def _cached(self, key: str) -> IdempotencyRecord | None:
        cache = self.cache
        if cache is None:
            return None
        with self.cache_lock:
            record = cache.get(key)
            if record is None:
                return None
            if not record.is_live(self.store.clock.time()):
                del cache[key]
                return None
            cache.move_to_end(key)
            return record

    def _remember(self, record: IdempotencyRecord) -> None:
        cache = self.cache
        if cache is None or record.status != COMPLETED:  # in-progress can change elsewhere
            return
        with self.cache_lock:
            cache[record.key] = record
            cache.move_to_end(record.key)
            while len(cache) > self.config.local_cache_max_items:
                cache.popitem(last=False)

    def _forget(self, key: str) -> None:
        if self.cache is not None:
            with self.cache_lock:
                self.cache.pop(key, None)

    # -- the protocol -------------------------------------------------------------------------
    def _validate(self, call: _Call, record: IdempotencyRecord) -> None:
        if self.validation_getter is not None and record.payload_hash != call.payload_hash:
            raise IdempotencyValidationError(
                "Payload does not match stored record for this event key")

    async def begin(self, call: _Call) -> _Stored | None:
        """Take the key (``None``) or return the stored answer of a completed duplicate."""
        store = self.store
        clock = store.clock
        config = self.config
        deadline = clock.time() + call.remaining if call.remaining is not None else None
        inconsistent = 0
        while True:
            cached = self._cached(call.key)
            if cached is not None:
                self._validate(call, cached)
                return _Stored(cached)
            now = clock.time()
            record = IdempotencyRecord(key=call.key, status=INPROGRESS,
                                       expires_at=now + config.expires_after_seconds,
                                       in_progress_until=deadline, payload_hash=call.payload_hash)
            try:
                await store.put_if_absent(record)
                return None
            except IdempotencyItemAlreadyExistsError as exc:
                old = exc.old_record
            except IdempotencyError:
                raise
            except Exception as exc:
                raise IdempotencyPersistenceLayerError(
                    f"Failed to save in progress record to idempotency store: {exc}") from exc
            if old is None:
                old = await self._get(call.key)
            if old is None:  # deleted or expired between the put and the read
                inconsistent += 1
                if inconsistent > _MAX_INCONSISTENT_RETRIES:
                    raise IdempotencyInconsistentStateError(
                        "put_if_absent and get return inconsistent results")
                continue
            self._validate(call, old)
            if old.status == COMPLETED:
                self._remember(old)
                return _Stored(old)
            in_progress = IdempotencyAlreadyInProgressError(
                f"Execution already in progress with idempotency key: "
                f"{config.event_key_jmespath or 'event'}={call.key}")
            if config.on_in_progress == "raise":
                raise in_progress
            until = old.in_progress_until if old.in_progress_until is not None else old.expires_at
            if deadline is not None:
                if clock.time() >= deadline:
                    raise in_progress  # our own time is up: report it rather than run late
                until = min(until, deadline)
            await store.wait(call.key, until)

    async def _get(self, key: str) -> IdempotencyRecord | None:
        try:
            return await self.store.get(key)
        except IdempotencyError:
            raise
        except Exception as exc:
            raise IdempotencyPersistenceLayerError(
                f"Failed to get record from idempotency store: {exc}") from exc

    def answer(self, stored: _Stored) -> Any:
        """A duplicate's response: the stored JSON, decoded (and passed to the response hook)."""
        record = stored.record
        response = decode(record.response) if record.response else None
        hook = self.config.response_hook
        return hook(response, record) if hook is not None else response

    async def succeed(self, call: _Call, result: Any) -> None:
        try:
            response = encode(result)
        except (TypeError, ValueError, OverflowError, msgspec.EncodeError) as exc:
            await self.fail(call)
            raise IdempotencyPersistenceLayerError(
                "Failed to update record state to success in idempotency store: the response "
                f"cannot be stored as JSON ({exc})") from exc
        record = IdempotencyRecord(
            key=call.key, status=COMPLETED,
            expires_at=self.store.clock.time() + self.config.expires_after_seconds,
            response=response, payload_hash=call.payload_hash)
        try:
            await self.store.complete(record)
        except Exception as exc:
            raise IdempotencyPersistenceLayerError(
                f"Failed to update record state to success in idempotency store: {exc}") from exc
        self._remember(record)

    async def fail(self, call: _Call) -> None:
        self._forget(call.key)
        try:
            await self.store.delete(call.key)
        except Exception as exc:
            raise IdempotencyPersistenceLayerError(
                f"Failed to delete record from idempotency store: {exc}") from exc

    # -- plain def handlers: store calls from the handler's thread -----------------------------
    def blocking(self, context: Any, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        """Run ``fn(*args)`` to completion from a thread that has no running loop."""
        loop = self.store.loop or _runtime_loop(context)
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None:
            raise RuntimeError(
                "an idempotent plain 'def' handler was called on a running event loop's thread: "
                "it would block that loop; invoke it through a Runtime, or from a thread")
        if loop is not None and loop.is_running():
            return asyncio.run_coroutine_threadsafe(fn(*args), loop).result()
        private = asyncio.new_event_loop()  # the thread's own loop (if any) is left alone
        try:
            return private.run_until_complete(fn(*args))
        finally:
            private.close()


def _runtime_loop(context: Any) -> asyncio.AbstractEventLoop | None:
    """The runtime's event loop, seen from a plain handler's thread (``None`` outside one)."""
    info = getattr(context, "_info", None)
    runner = getattr(getattr(info, "execution", None), "runner", None)
    loop = getattr(runner, "_loop", None)
    return loop if isinstance(loop, asyncio.AbstractEventLoop) else None


async def _unwind(idem: _Idempotency, call: _Call, exc: BaseException) -> None:
    """Delete the in-progress record after the handler raised ``exc``."""
    if isinstance(exc, asyncio.CancelledError):
        # Cancelled (the invocation's deadline, or the caller left): the delete must not be
        # cancelled with us, or the key stays locked until the in-progress expiry. A store
        # error must not replace the cancellation either: the record then expires on its own.
        with contextlib.suppress(Exception):
            await asyncio.shield(asyncio.ensure_future(idem.fail(call)))
    else:
        await idem.fail(call)


def idempotent(persistence_store: IdempotencyStore, *,
               config: IdempotencyConfig | None = None) -> Callable[[H], H]:
    """Decorator: make a handler ``(event, context)`` idempotent (see the module docstring).

    Works on ``async def`` and plain ``def`` handlers (the result stays the same kind, so the
    runtime runs a plain handler on its context's thread as before). Put it *under*
    ``@rt.function``; ``functools.wraps`` keeps the handler's event annotation visible, so typed
    events still reach it (their JSON shape is what key expressions address).
    """
    if not isinstance(persistence_store, IdempotencyStore):
        raise ConfigError("persistence_store", persistence_store,
                          "must be an IdempotencyStore (e.g. MemoryIdempotencyStore())")
    cfg = config if config is not None else IdempotencyConfig()

    def decorate(handler: H) -> H:
        if not callable(handler):
            raise ConfigError("handler", handler, "must be a callable (event, context)")
        idem = _Idempotency(handler, persistence_store, cfg)

        if is_async_callable(handler):
            @functools.wraps(handler)
            async def async_wrapper(event: Any, context: Any) -> Any:
                call = idem.prepare(event, context)
                if call is None:
                    return await handler(event, context)
                stored = await idem.begin(call)
                if stored is not None:
                    return idem.answer(stored)
                try:
                    result = await handler(event, context)
                except BaseException as exc:
                    await _unwind(idem, call, exc)
                    raise
                await idem.succeed(call, result)
                return result

            return cast(H, async_wrapper)

        @functools.wraps(handler)
        def sync_wrapper(event: Any, context: Any) -> Any:
            call = idem.prepare(event, context)
            if call is None:
                return handler(event, context)
            stored = idem.blocking(context, idem.begin, call)
            if stored is not None:
                return idem.answer(stored)
            try:
                result = handler(event, context)
            except BaseException:
                idem.blocking(context, idem.fail, call)
                raise
            idem.blocking(context, idem.succeed, call, result)
            return result

        return cast(H, sync_wrapper)

    return decorate
