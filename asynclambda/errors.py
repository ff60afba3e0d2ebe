"""One exception tree for asynclambda, with AWS Lambda's names where Lambda has them.

::

    AsyncLambdaError
     ├── ConfigError (ValueError)              a configuration value is invalid; names field and value
     ├── RuntimeClosedError (RuntimeError)     the runtime is not running (not started, or closed)
     ├── LifecycleError (RuntimeError)         start()/aclose() used from tasks that cannot own it
     ├── LambdaServiceError                    an error of the Invoke API itself (not of the function)
     │    ├── ResourceNotFoundException (LookupError)         404: no such function/version/alias
     │    ├── InvalidRequestContentException (ValueError)     400: the request is not valid JSON
     │    ├── RecursiveInvocationException                     400: an event chain looped too often
     │    ├── RequestTooLargeException (ValueError)            413: payload over the limit
     │    ├── TooManyRequestsException                         429: a concurrency limit is reached
     │    ├── ResourceConflictException                        409: the operation conflicts with state
     │    └── ServiceException                                 500: asynclambda failed internally
     └── FunctionError                         raised by ``InvocationResult.raise_for_error()``:
                                               the handler failed (``function_error`` is set)

Errors of the Invoke API are raised to the caller of a synchronous invoke, and drive retries of
asynchronous ones. A *function* error (the handler raised, timed out, or returned something that
cannot be encoded) is not an exception of the API: like Lambda, a synchronous invoke returns status
200 with ``function_error`` set and an error payload ``{"errorMessage", "errorType", ...}``.

Control signals that handlers raise (``Retry``) are not errors and live in ``asynclambda.signals``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AsyncLambdaError",
    "ConfigError",
    "FunctionError",
    "InvalidRequestContentException",
    "LambdaServiceError",
    "LifecycleError",
    "RecursiveInvocationException",
    "RequestTooLargeException",
    "ResourceConflictException",
    "ResourceNotFoundException",
    "RuntimeClosedError",
    "ServiceException",
    "TooManyRequestsException",
]


class AsyncLambdaError(Exception):
    """Base class of every exception asynclambda raises on purpose."""


class ConfigError(AsyncLambdaError, ValueError):
    """A configuration value is invalid.

    The message always names the field and shows the offending value, e.g.
    ``invalid timeout=0: must be between 1 and 900 seconds``.
    """

    def __init__(self, field: str, value: Any, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"invalid {field}={value!r}: {reason}")


class RuntimeClosedError(AsyncLambdaError, RuntimeError):
    """The runtime is not running: use ``async with runtime:`` before invoking."""


class LifecycleError(AsyncLambdaError, RuntimeError):
    """The runtime's lifecycle was driven from the wrong place.

    ``Runtime.start()`` enters a task group in the calling task, so ``aclose()`` must come from
    that task; frameworks whose startup and shutdown hooks run in different tasks use
    ``Runtime.start(background=True)`` or ``task_group.start(runtime.serve)``.
    """


class LambdaServiceError(AsyncLambdaError):
    """An error of the Invoke API, with Lambda's error type name and HTTP status code."""

    status_code: int = 500

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)

    @property
    def error_type(self) -> str:
        """Lambda's name for this error, e.g. ``"TooManyRequestsException"``."""
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        """The error as Lambda's API returns it: ``{"Type", "Message"}`` plus the status code."""
        return {"Type": "User", "Message": self.message, "StatusCode": self.status_code,
                "ErrorType": self.error_type}


class ResourceNotFoundException(LambdaServiceError, LookupError):
    """The function, version or alias does not exist (404)."""

    status_code = 404


class InvalidRequestContentException(LambdaServiceError, ValueError):
    """The request payload is not valid JSON, or not JSON-encodable (400)."""

    status_code = 400


class RecursiveInvocationException(LambdaServiceError):
    """An event chain invoked the same function more than 16 times (400)."""

    status_code = 400


class RequestTooLargeException(LambdaServiceError, ValueError):
    """The request payload is larger than the limit for its invocation type (413)."""

    status_code = 413


class TooManyRequestsException(LambdaServiceError):
    """A concurrency limit is reached (429).

    ``reason`` is Lambda's: ``ConcurrentInvocationLimitExceeded`` (the runtime-wide limit),
    ``ReservedFunctionConcurrentInvocationLimitExceeded`` (the function's reserved concurrency)
    or ``FunctionInvocationRateLimitExceeded`` (the function scaled faster than Lambda's 1,000
    new execution contexts per 10 seconds).
    """

    status_code = 429

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["Reason"] = self.reason
        return d


class ResourceConflictException(LambdaServiceError):
    """The operation conflicts with the resource's current state (409)."""

    status_code = 409


class ServiceException(LambdaServiceError):
    """asynclambda failed internally (500)."""

    status_code = 500


class FunctionError(AsyncLambdaError):
    """The handler failed; raised only by ``InvocationResult.raise_for_error()``.

    ``error_type`` and ``error_message`` come from Lambda's error payload, ``kind`` is Lambda's
    ``FunctionError`` value (``"Unhandled"``).
    """

    def __init__(self, error_type: str, error_message: str, kind: str = "Unhandled",
                 payload: Any = None) -> None:
        self.error_type = error_type
        self.error_message = error_message
        self.kind = kind
        self.payload = payload
        super().__init__(f"{error_type}: {error_message}")
