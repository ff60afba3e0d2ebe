"""What a handler sees (the Lambda context object) and what a caller gets back (the result).

The context object has Lambda's exact attribute names (``aws_request_id``, ``function_name``,
``function_version``, ``invoked_function_arn``, ``memory_limit_in_mb``, ``log_group_name``,
``log_stream_name``, ``identity``, ``client_context``, ``get_remaining_time_in_millis()``), with
Lambda's types (``memory_limit_in_mb`` is a string, as the AWS Python runtime sets it), plus
asynclambda's own ``cold_start``, ``attempt``, ``state`` (what the init hook returned) and
``tmp_dir`` (the context's ephemeral storage).
"""

from __future__ import annotations

import json
import math
from functools import cached_property
from typing import TYPE_CHECKING, Any

from .errors import FunctionError
from .payloads import decode

if TYPE_CHECKING:
    from .types import Clock

__all__ = ["ClientContext", "CognitoIdentity", "InvocationResult", "LambdaContext"]


class CognitoIdentity:
    """``context.identity``: the Amazon Cognito identity (empty unless the caller gave one)."""

    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, cognito_identity_id: str | None = None,
                 cognito_identity_pool_id: str | None = None) -> None:
        self.cognito_identity_id = cognito_identity_id
        self.cognito_identity_pool_id = cognito_identity_pool_id

    def __repr__(self) -> str:
        return (f"CognitoIdentity(cognito_identity_id={self.cognito_identity_id!r}, "
                f"cognito_identity_pool_id={self.cognito_identity_pool_id!r})")


class ClientContext:
    """``context.client_context``: what the caller passed as ``client_context`` (mobile SDK shape).

    ``client`` (app info), ``custom`` (free-form dict) and ``env`` (environment dict), as the AWS
    Python runtime builds it from the ``{"client": ..., "custom": ..., "env": ...}`` JSON.
    """

    __slots__ = ("client", "custom", "env")

    def __init__(self, client: Any = None, custom: Any = None, env: Any = None) -> None:
        self.client = client
        self.custom = custom
        self.env = env

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ClientContext | None:
        if data is None:
            return None
        return cls(data.get("client"), data.get("custom"), data.get("env"))

    def __repr__(self) -> str:
        return f"ClientContext(client={self.client!r}, custom={self.custom!r}, env={self.env!r})"


_NO_IDENTITY = CognitoIdentity()


class ContextInfo:
    """What every invocation served by one execution context shares (built once per context).

    ``public`` holds the Lambda attributes that are the same for every invocation of the context;
    each :class:`LambdaContext` starts from a copy of it.
    """

    __slots__ = ("clock", "execution", "function_name", "function_version",
                 "invoked_function_arn", "log_group_name", "log_stream_name",
                 "memory_limit_in_mb", "public", "state")

    def __init__(self, function_name: str, function_version: str, invoked_function_arn: str,
                 memory_limit_in_mb: str, log_group_name: str, log_stream_name: str,
                 clock: Clock, execution: Any) -> None:
        self.function_name = function_name
        self.function_version = function_version
        self.invoked_function_arn = invoked_function_arn
        self.memory_limit_in_mb = memory_limit_in_mb
        self.log_group_name = log_group_name
        self.log_stream_name = log_stream_name
        self.clock = clock
        self.execution = execution
        self.state: Any = None
        # Lambda's attributes, in the order the AWS Python runtime sets them.
        self.public: dict[str, Any] = {
            "aws_request_id": "",
            "log_group_name": log_group_name,
            "log_stream_name": log_stream_name,
            "function_name": function_name,
            "memory_limit_in_mb": memory_limit_in_mb,
            "function_version": function_version,
            "invoked_function_arn": invoked_function_arn,
            "tenant_id": None,
            "client_context": None,
            "identity": _NO_IDENTITY,
            "cold_start": False,
            "attempt": 1,
        }


_new = object.__new__


class LambdaContext:
    """The context object passed to a handler: a plain object with Lambda's attributes.

    Like the AWS Python runtime's, it is a plain object: ``vars(context)`` lists exactly its
    attributes (``aws_request_id``, ``log_group_name``, ``log_stream_name``, ``function_name``,
    ``memory_limit_in_mb``, ``function_version``, ``invoked_function_arn``, ``tenant_id``,
    ``client_context``, ``identity``, and asynclambda's ``cold_start`` and ``attempt``), and
    pickling it or serialising it for a log line (``jsonpickle``, Powertools) sees only those,
    never the runtime behind it. ``state`` and ``tmp_dir`` are asynclambda's, read through
    properties. A handler may set attributes of its own on it, as on Lambda.
    """

    __slots__ = ("__dict__", "_deadline", "_info", "_lineage")

    _deadline: float
    _info: ContextInfo
    _lineage: Any
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    function_name: str
    memory_limit_in_mb: str
    function_version: str
    invoked_function_arn: str
    tenant_id: str | None
    client_context: ClientContext | None
    identity: CognitoIdentity
    cold_start: bool
    attempt: int

    def __new__(cls, info: ContextInfo, request_id: str, deadline: float,
                cold_start: bool = False, attempt: int = 1,
                client_context: ClientContext | None = None,
                invoked_function_arn: str | None = None, lineage: Any = None,
                identity: CognitoIdentity | None = None,
                tenant_id: str | None = None) -> LambdaContext:
        self = _new(cls)
        self._info = info
        self._deadline = deadline
        self._lineage = lineage
        self.__dict__ = d = info.public.copy()  # (a copy is cheaper than update() into {})
        d["aws_request_id"] = request_id
        d["cold_start"] = cold_start
        if attempt != 1:
            d["attempt"] = attempt
        if client_context is not None:
            d["client_context"] = client_context
        if invoked_function_arn is not None:
            d["invoked_function_arn"] = invoked_function_arn
        if identity is not None:
            d["identity"] = identity
        if tenant_id is not None:
            d["tenant_id"] = tenant_id
        return self

    @property
    def state(self) -> Any:
        """*ours*: what the function's init hook returned for this execution context."""
        return self._info.state

    @property
    def tmp_dir(self) -> str:
        """*ours*: this execution context's ephemeral storage directory (created on first use)."""
        return str(self._info.execution.tmp_dir)

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before this invocation times out (0 once past the deadline)."""
        try:
            left = self._deadline - self._info.clock.now()
        except AttributeError:  # a copy restored from a pickle: detached from any clock
            return 0
        return int(left * 1000) if left > 0 else 0

    def log(self, msg: str) -> None:
        """Lambda's ``context.log``: write a line to the function's log (stdout)."""
        print(msg, end="" if msg.endswith("\n") else "\n")

    # Serialising a context (pickle, copy, jsonpickle) sees Lambda's attributes only.
    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._deadline = 0.0
        self._lineage = None

    def __reduce__(self) -> Any:
        return (_restore_context, (self.__getstate__(),))

    def __repr__(self) -> str:
        return (f"LambdaContext(aws_request_id={self.aws_request_id!r}, "
                f"function_name={self.function_name!r}, "
                f"function_version={self.function_version!r}, cold_start={self.cold_start!r})")


def _restore_context(state: dict[str, Any]) -> LambdaContext:
    """Unpickling: a detached context (its remaining time reads 0)."""
    self: LambdaContext = _new(LambdaContext)
    self.__setstate__(state)
    return self


class InvocationResult:
    """The outcome of an invoke, as Lambda's Invoke API reports it.

    ``status_code`` is 200 for a synchronous invoke (even when the function failed), 202 for an
    accepted ``Event`` invoke and 204 for ``DryRun``. When the function failed,
    ``function_error`` is ``"Unhandled"`` and ``payload`` is Lambda's error object
    ``{"errorMessage", "errorType", "requestId", "stackTrace"}``. ``raw_payload`` holds the exact
    response bytes; ``payload`` decodes them (once, on first access).
    """

    __slots__ = ("__dict__", "cold_start", "duration_ms", "executed_version", "function_error",
                 "init_duration_ms", "raw_payload", "request_id", "retry_delay", "status_code")

    def __init__(self, status_code: int, raw_payload: bytes, request_id: str,
                 executed_version: str | None, function_error: str | None = None,
                 cold_start: bool = False, duration_ms: float = 0.0,
                 init_duration_ms: float | None = None) -> None:
        self.status_code = status_code
        self.raw_payload = raw_payload
        self.request_id = request_id
        self.executed_version = executed_version
        self.function_error = function_error
        self.cold_start = cold_start
        self.duration_ms = duration_ms
        self.init_duration_ms = init_duration_ms
        #: Set when the handler raised ``Retry(delay=...)`` (used by asynchronous invocation).
        self.retry_delay: float | None = None

    @property
    def billed_duration_ms(self) -> int:
        """Lambda bills in 1 ms steps, rounding up; a run bills at least 1 ms (0 for 202/204)."""
        if self.status_code != 200:
            return 0
        # Rounding to the nanosecond first keeps float noise (200.00000000000003) from costing
        # a whole millisecond.
        return max(1, math.ceil(round(self.duration_ms, 6)))

    @cached_property
    def payload(self) -> Any:
        """The decoded response (``None`` for an empty one; raw text if it is not JSON).

        ``NaN`` and ``Infinity``, which the AWS runtime writes for non-finite numbers, decode
        to floats."""
        raw = self.raw_payload
        if not raw:
            return None
        try:
            return decode(raw)
        except Exception:
            pass
        try:  # NaN / Infinity, as the AWS runtime writes them (not strict JSON)
            return json.loads(raw)
        except Exception:
            return raw.decode("utf-8", errors="replace")

    @property
    def ok(self) -> bool:
        """True if the invoke was accepted and the function (if it ran) did not fail."""
        return self.function_error is None and self.status_code < 300

    @property
    def error(self) -> dict[str, Any] | None:
        """The error object when the function failed, else ``None``."""
        if self.function_error is None:
            return None
        p = self.payload
        return p if isinstance(p, dict) else {"errorMessage": str(p), "errorType": "Unknown"}

    def raise_for_error(self) -> InvocationResult:
        """Raise :class:`~asynclambda.errors.FunctionError` if the function failed; else return self."""
        err = self.error
        if err is not None:
            raise FunctionError(str(err.get("errorType", "")), str(err.get("errorMessage", "")),
                                self.function_error or "Unhandled", err)
        return self

    def __repr__(self) -> str:
        extra = f", function_error={self.function_error!r}" if self.function_error else ""
        return (f"InvocationResult(status_code={self.status_code}, request_id={self.request_id!r}, "
                f"executed_version={self.executed_version!r}, cold_start={self.cold_start}"
                f"{extra}, duration_ms={self.duration_ms:.3f})")
