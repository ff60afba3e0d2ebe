"""Logs and metrics: Lambda's START / END / REPORT records, handler logs bound to the request id.

Records go through structlog (logger name ``asynclambda``), so they land wherever the application
sends its structlog output. Per-invocation records are **off by default** in the library
(``Runtime(invocation_logs=True)`` turns them on; the CLI does): rendering a log line costs more
than a warm invoke itself, so an embedded runtime does not pay it unless asked. Errors (init
failures, failing shutdown hooks) are always logged.

REPORT carries Lambda's fields: Duration (ms, 2 decimals), Billed Duration (1 ms steps), Memory
Size, and Init Duration on cold starts. *Max Memory Used* is left out on purpose: contexts share one
process, so no per-invocation figure would be honest.

For handler logs, :func:`add_lambda_context` (a structlog processor) and :class:`RequestIdFilter`
(a ``logging`` filter) add the current invocation's request id, as the AWS Python runtime's
formatter does; :func:`configure_logging` wires both with a Lambda-like text or JSON format.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, Literal, TextIO

import msgspec
import structlog

from .execution import current_invocation

if TYPE_CHECKING:
    from .execution import InitFailure
    from .invocation import InvocationResult

__all__ = ["LambdaTextRenderer", "Observer", "RequestIdFilter", "add_lambda_context",
           "configure_logging"]

_PLATFORM_EVENTS = frozenset({"START", "END", "REPORT", "INIT_ERROR"})


class Observer:
    """Emits the runtime's records. One per runtime; ``enabled`` gates per-invocation ones."""

    __slots__ = ("_log", "enabled")

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._log = structlog.get_logger("asynclambda")

    def start(self, request_id: str, function: str, version: str) -> None:
        self._log.info("START", request_id=request_id, function=function, version=version)

    def report(self, result: InvocationResult, memory_mb: int) -> None:
        # One record for END and REPORT (the text renderer prints both lines): a log call costs
        # more than a warm invoke, so an invocation makes two, not three.
        log = self._log
        fields: dict[str, Any] = {
            "request_id": result.request_id,
            "duration_ms": round(result.duration_ms, 2),
            "billed_duration_ms": result.billed_duration_ms,
            "memory_size_mb": memory_mb,
            "status": "error" if result.function_error else "success",
        }
        if result.init_duration_ms is not None:
            fields["init_duration_ms"] = round(result.init_duration_ms, 2)
        if result.function_error:
            err = result.error or {}
            fields["error_type"] = err.get("errorType")
        log.info("REPORT", **fields)

    def init_error(self, request_id: str, version: str, failure: InitFailure) -> None:
        self._log.error("INIT_ERROR", request_id=request_id, version=version,
                        error_type=failure.error_type, error_message=failure.message)

    def handler_error(self, request_id: str, exc: BaseException) -> None:
        self._log.error("handler raised", request_id=request_id,
                        error_type=type(exc).__name__, error_message=str(exc))

    def shutdown_error(self, context_id: str, exc: BaseException) -> None:
        self._log.error("shutdown hook failed", context=context_id,
                        error_type=type(exc).__name__, error_message=str(exc))

    def provisioning_failed(self, function: str, version: str, failure: InitFailure) -> None:
        self._log.error("provisioned concurrency INIT failed", function=function,
                        version=version, error_type=failure.error_type,
                        error_message=failure.message)

    def warning(self, event: str, **fields: Any) -> None:
        self._log.warning(event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log.error(event, **fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log.info(event, **fields)


def add_lambda_context(logger: Any, method_name: str,
                       event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: add ``aws_request_id`` and ``function_name`` inside an invocation."""
    lctx = current_invocation.get()
    if lctx is not None:
        event_dict.setdefault("aws_request_id", lctx.aws_request_id)
        event_dict.setdefault("function_name", lctx.function_name)
    return event_dict


class RequestIdFilter(logging.Filter):
    """``logging`` filter: sets ``record.aws_request_id`` (empty outside an invocation).

    The AWS Python runtime's formatter is
    ``"[%(levelname)s]\\t%(asctime)s.%(msecs)03dZ\\t%(aws_request_id)s\\t%(message)s"``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        lctx = current_invocation.get()
        record.aws_request_id = lctx.aws_request_id if lctx is not None else ""
        return True


class LambdaTextRenderer:
    """structlog renderer: START/END/REPORT as Lambda prints them, other events as key=value."""

    def __call__(self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> str:
        event = event_dict.pop("event", "")
        if event in _PLATFORM_EVENTS:
            return self._platform(event, event_dict)
        level = str(event_dict.pop("level", method_name)).upper()
        ts = event_dict.pop("timestamp", "")
        rid = event_dict.pop("aws_request_id", "")
        rest = " ".join(f"{k}={v!r}" if isinstance(v, str) and " " in v else f"{k}={v}"
                        for k, v in event_dict.items())
        return f"[{level}]\t{ts}\t{rid}\t{event}" + (f" {rest}" if rest else "")

    @staticmethod
    def _platform(event: str, d: MutableMapping[str, Any]) -> str:
        rid = d.get("request_id", "")
        if event == "START":
            fn = d.get("function")
            prefix = f"[{fn}] " if fn else ""
            return f"{prefix}START RequestId: {rid} Version: {d.get('version', '')}"
        if event == "END":
            return f"END RequestId: {rid}"
        end = f"END RequestId: {rid}\n"
        if event == "INIT_ERROR":
            return (f"INIT_REPORT RequestId: {rid} Status: error "
                    f"Error Type: {d.get('error_type')} {d.get('error_message', '')}")
        parts = [f"REPORT RequestId: {rid}",
                 f"Duration: {d.get('duration_ms', 0):.2f} ms",
                 f"Billed Duration: {d.get('billed_duration_ms', 0)} ms",
                 f"Memory Size: {d.get('memory_size_mb', 0)} MB"]
        if "init_duration_ms" in d:
            parts.append(f"Init Duration: {d['init_duration_ms']:.2f} ms")
        if d.get("status") == "error":
            parts.append(f"Status: error ({d.get('error_type')})")
        return end + "\t".join(parts)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return msgspec.json.encode({
            "timestamp": self.formatTime(record), "level": record.levelname,
            "aws_request_id": getattr(record, "aws_request_id", ""), "logger": record.name,
            "message": record.getMessage()}).decode()


def configure_logging(fmt: Literal["text", "json"] = "text", *, stream: TextIO | None = None,
                      level: int = logging.INFO) -> None:
    """Set up structlog and ``logging`` the way Lambda formats function logs.

    ``text``: Lambda's tab-separated lines (``[INFO] <time> <request id> message``) and its
    START/END/REPORT lines; ``json``: one JSON object per line with the same fields. Handler
    logs made with ``logging`` or structlog carry the request id of the invocation they belong to.
    This configures global logging: call it from an application (the CLI does), not a library.
    """
    out = stream if stream is not None else sys.stdout
    renderer: Any = (structlog.processors.JSONRenderer() if fmt == "json"
                     else LambdaTextRenderer())
    structlog.configure(
        processors=[
            add_lambda_context,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(out)
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        formatter = logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S")
        formatter.converter = time.gmtime  # Lambda's timestamps are UTC
        handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not getattr(h, "_asynclambda", False)]
    handler._asynclambda = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
