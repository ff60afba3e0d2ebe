"""Frozen, validated configuration: a function's settings, as Lambda names and bounds them.

Every check raises :class:`~asynclambda.errors.ConfigError` naming the field and the bad value.
Numbers are Lambda's (its documented quotas and defaults) unless marked *ours*.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

import msgspec

from .errors import ConfigError

__all__ = [
    "DEFAULT_KEEP_ALIVE",
    "RESERVED_ENVIRONMENT_KEYS",
    "EventInvokeConfig",
    "FunctionConfig",
    "default_region",
    "validate_function_name",
]

#: *ours*: how long an idle execution context is kept before it is reaped (seconds).
DEFAULT_KEEP_ALIVE = 600.0
#: Lambda's INIT phase limit (seconds).
INIT_TIMEOUT = 10.0
#: Lambda's INIT limit for provisioned concurrency: the larger of this and the function timeout.
PROVISIONED_INIT_TIMEOUT = 130.0
#: Lambda's SHUTDOWN phase limit for the runtime (seconds).
SHUTDOWN_TIMEOUT = 2.0
#: Lambda's limit on an Invoke's ClientContext: bytes of base64-encoded JSON.
CLIENT_CONTEXT_LIMIT = 3583
#: Lambda keeps at least this much of the account's concurrency unreserved.
UNRESERVED_CONCURRENCY_MINIMUM = 100
#: Lambda's per-function scaling rate: new execution contexts per window (seconds).
SCALING_RATE = (1000, 10.0)

_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ENV_KEY_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
#: Environment variables Lambda sets itself; a function may not set them (Lambda rejects them too).
RESERVED_ENVIRONMENT_KEYS = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})
#: Lambda's limit on the total size of a function's environment variables (bytes).
ENVIRONMENT_SIZE_LIMIT = 4096


def default_region() -> str:
    """The region Lambda would report when none is given: the host's ``AWS_REGION`` /
    ``AWS_DEFAULT_REGION``, else ``us-east-1``."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def validate_function_name(name: object, field: str = "name") -> str:
    """Return ``name`` if it is a valid function name (1-64 of ``[A-Za-z0-9_-]``)."""
    if not isinstance(name, str) or _NAME_RE.fullmatch(name) is None:
        raise ConfigError(field, name, "must be 1-64 characters of letters, digits, '-' and '_'")
    return name


def _check_number(field: str, value: object, lo: float, hi: float, unit: str,
                  *, integer: bool = False, lo_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(field, value, f"must be a number of {unit}")
    if integer and not isinstance(value, int):
        raise ConfigError(field, value, f"must be a whole number of {unit}")
    if not math.isfinite(value) or value > hi or (value <= lo if lo_open else value < lo):
        bound = f"greater than {lo:g}" if lo_open else f"at least {lo:g}"
        raise ConfigError(field, value, f"must be {bound} and at most {hi:g} {unit}")


class FunctionConfig(msgspec.Struct, frozen=True, kw_only=True):
    """A function's code and configuration, frozen once registered.

    ``handler`` is an ``async def handler(event, context)``, a plain ``def`` (run on the execution
    context's own thread), or a string loaded as a fresh module per execution context: Lambda's
    ``"module.function"`` (``"app.lambda_handler"``, ``"src/app.lambda_handler"``, looked up in
    ``code_dir``), ``"package.module:func"`` or ``"path/to/file.py:func"``.
    """

    name: str
    handler: Any
    #: Seconds, 1-900 in Lambda; *ours*: fractional values down to 1 ms are allowed, for tests.
    timeout: float = 3.0
    memory_mb: int = 128
    #: Size of the per-context temporary directory (``context.tmp_dir``), 512-10240 MB.
    ephemeral_storage_mb: int = 512
    environment: Mapping[str, str] = msgspec.field(default_factory=dict)
    #: ``None`` = draw from the runtime's unreserved concurrency; 0 = always throttled.
    reserved_concurrency: int | None = None
    #: Contexts initialised when the runtime starts, re-created if lost, never reaped. As on
    #: Lambda only a published version has it (``publish_version(..., provisioned_concurrency=)``
    #: or ``put_provisioned_concurrency_config``); ``$LATEST`` refuses it.
    provisioned_concurrency: int = 0
    #: *ours*: seconds an idle context is kept before it is reaped; ``None`` = the runtime's default.
    keep_alive: float | None = None
    #: Runs once per context during INIT (after loading); its result is ``context.state``.
    init: Any = None
    #: Runs once per context during SHUTDOWN (2 s limit) with the init hook's state.
    shutdown: Any = None
    init_timeout: float = INIT_TIMEOUT
    description: str = ""
    recursive_loop: Literal["Terminate", "Allow"] = "Terminate"
    #: Where failed asynchronous events go (Lambda's DeadLetterConfig): a queue destination, a
    #: callable, ... (resolved with ``asynclambda.destinations.as_destination``).
    dead_letter_queue: Any = None
    #: Lambda's task root (SAM's ``CodeUri``): where a string handler's module is looked up and
    #: what ``LAMBDA_TASK_ROOT`` says; ``None`` = the working directory.
    code_dir: str | None = None
    #: Extra import directories, like Lambda layers (a layer's ``python/`` subdirectory when it
    #: has one, as Lambda lays out ``/opt``).
    layers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        validate_function_name(self.name)
        self._check_handler()
        self._check_paths()
        _check_number("timeout", self.timeout, 0.001, 900, "seconds")
        _check_number("memory_mb", self.memory_mb, 128, 10240, "MB", integer=True)
        _check_number("ephemeral_storage_mb", self.ephemeral_storage_mb, 512, 10240, "MB",
                      integer=True)
        _check_number("init_timeout", self.init_timeout, 0, 900, "seconds", lo_open=True)
        if self.reserved_concurrency is not None:
            _check_number("reserved_concurrency", self.reserved_concurrency, 0, 1_000_000,
                          "executions", integer=True)
        _check_number("provisioned_concurrency", self.provisioned_concurrency, 0, 1_000_000,
                      "executions", integer=True)
        if (self.reserved_concurrency is not None
                and self.provisioned_concurrency > self.reserved_concurrency):
            raise ConfigError("provisioned_concurrency", self.provisioned_concurrency,
                              f"cannot exceed reserved_concurrency={self.reserved_concurrency}")
        if self.keep_alive is not None:
            _check_number("keep_alive", self.keep_alive, 0, 86_400 * 365, "seconds")
        for hook in ("init", "shutdown"):
            value = getattr(self, hook)
            if value is not None and not callable(value):
                raise ConfigError(hook, value, "must be a callable (sync or async) or None")
        if self.recursive_loop not in ("Terminate", "Allow"):
            raise ConfigError("recursive_loop", self.recursive_loop,
                              "must be 'Terminate' or 'Allow'")
        if not isinstance(self.description, str) or len(self.description) > 256:
            raise ConfigError("description", self.description, "must be a string of <= 256 chars")
        # Freeze the environment: a read-only copy, so a caller's dict cannot change it later.
        msgspec.structs.force_setattr(self, "environment", _check_environment(self.environment))

    def _check_handler(self) -> None:
        h = self.handler
        if isinstance(h, str):
            if ":" in h:
                mod, _, attr = h.rpartition(":")
            else:
                mod, _, attr = h.rpartition(".")
            if not mod or not attr or not attr.isidentifier() or len(h) > 128 \
                    or any(c.isspace() for c in h):
                raise ConfigError("handler", h,
                                  "must look like Lambda's 'module.function' (e.g. "
                                  "'app.lambda_handler'), 'package.module:func' or "
                                  "'path/to/file.py:func'")
        elif not callable(h):
            raise ConfigError("handler", h,
                              "must be a callable or a string like 'app.lambda_handler'")

    def _check_paths(self) -> None:
        if self.code_dir is not None:
            if not isinstance(self.code_dir, str | os.PathLike):
                raise ConfigError("code_dir", self.code_dir, "must be a directory path")
            path = os.fspath(self.code_dir)
            if not os.path.isdir(path):
                raise ConfigError("code_dir", self.code_dir, "is not a directory")
            if not isinstance(self.handler, str):
                raise ConfigError("code_dir", self.code_dir,
                                  "only applies to a string handler such as 'app.lambda_handler'")
            msgspec.structs.force_setattr(self, "code_dir", path)
        layers = self.layers
        if isinstance(layers, str | os.PathLike) or not isinstance(layers, tuple | list):
            raise ConfigError("layers", layers, "must be a list of directories")
        for layer in layers:
            if not isinstance(layer, str | os.PathLike) or not os.path.isdir(layer):
                raise ConfigError("layers", layer, "is not a directory")
        msgspec.structs.force_setattr(self, "layers", tuple(os.fspath(x) for x in layers))

    @property
    def handler_name(self) -> str:
        """The handler as Lambda shows it (``_HANDLER``): the string, or ``module.qualname``."""
        h = self.handler
        if isinstance(h, str):
            return h
        return f"{getattr(h, '__module__', '?')}.{getattr(h, '__qualname__', repr(h))}"

    def replace(self, **changes: Any) -> FunctionConfig:
        """A copy with ``changes`` applied and validated again."""
        return msgspec.structs.replace(self, **changes)


def _check_environment(env: object) -> Mapping[str, str]:
    if not isinstance(env, Mapping):
        raise ConfigError("environment", env, "must be a mapping of str to str")
    size = 0
    for key, value in env.items():
        if not isinstance(key, str) or _ENV_KEY_RE.fullmatch(key) is None:
            raise ConfigError("environment", key,
                              "keys must start with a letter and contain only letters, digits, '_'")
        if key in RESERVED_ENVIRONMENT_KEYS:
            hint = (" (set the region with Runtime(region=...))"
                    if key in ("AWS_REGION", "AWS_DEFAULT_REGION") else "")
            raise ConfigError(f"environment[{key!r}]", value,
                              f"is reserved: Lambda sets this variable itself{hint}")
        if not isinstance(value, str):
            raise ConfigError(f"environment[{key!r}]", value, "values must be strings")
        size += len(key.encode()) + len(value.encode())
    if size > ENVIRONMENT_SIZE_LIMIT:
        raise ConfigError("environment", f"{size} bytes",
                          f"must total at most {ENVIRONMENT_SIZE_LIMIT} bytes (Lambda's limit)")
    return MappingProxyType(dict(env))


class EventInvokeConfig(msgspec.Struct, frozen=True, kw_only=True):
    """How asynchronous (``Event``) invocations of a function are retried and where they end.

    Lambda's ``PutFunctionEventInvokeConfig``: ``maximum_retry_attempts`` 0-2 (default 2) for
    function errors (timeouts included), ``maximum_event_age`` 60 s - 6 h (default 6 h) for how
    long an event may wait and be retried; ``on_success`` / ``on_failure`` destinations (a
    destination object, a callable, or ``"function:NAME"``), checked when registered.
    """

    maximum_retry_attempts: int = 2
    #: Seconds, a whole number (Lambda's ``MaximumEventAgeInSeconds``).
    maximum_event_age: int = 21_600
    on_success: Any = None
    on_failure: Any = None

    def __post_init__(self) -> None:
        _check_number("maximum_retry_attempts", self.maximum_retry_attempts, 0, 2, "attempts",
                      integer=True)
        _check_number("maximum_event_age", self.maximum_event_age, 60, 21_600, "seconds",
                      integer=True)
