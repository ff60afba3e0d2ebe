"""asynclambda: AWS Lambda's execution model inside any asyncio program.

Functions run in execution contexts that serve one invocation at a time, created cold (INIT) or
reused warm, scaled out under load and reaped when idle, with Lambda's names, limits and errors::

    import asynclambda as al

    rt = al.Runtime()

    @rt.function(timeout=3)
    async def hello(event, context):
        return {"hello": event.get("name", "world"), "request_id": context.aws_request_id}

    async with rt:
        result = await rt.invoke("hello", {"name": "Lambda"})
"""

from __future__ import annotations

from .clock import RealClock, VirtualClock
from .config import EventInvokeConfig, FunctionConfig
from .errors import (
    AsyncLambdaError,
    ConfigError,
    FunctionError,
    InvalidRequestContentException,
    LambdaServiceError,
    LifecycleError,
    RecursiveInvocationException,
    RequestTooLargeException,
    ResourceConflictException,
    ResourceNotFoundException,
    RuntimeClosedError,
    ServiceException,
    TooManyRequestsException,
)
from .invocation import ClientContext, CognitoIdentity, InvocationResult, LambdaContext
from .observability import configure_logging
from .pool import VersionStatistics
from .runtime import FunctionStatistics, Runtime, RuntimeStatistics
from .signals import Retry
from .types import Clock

__version__ = "0.1.0.dev0"

__all__ = [
    "AsyncLambdaError",
    "ClientContext",
    "Clock",
    "CognitoIdentity",
    "ConfigError",
    "EventInvokeConfig",
    "FunctionConfig",
    "FunctionError",
    "FunctionStatistics",
    "InvalidRequestContentException",
    "InvocationResult",
    "LambdaContext",
    "LambdaServiceError",
    "LifecycleError",
    "RealClock",
    "RecursiveInvocationException",
    "RequestTooLargeException",
    "ResourceConflictException",
    "ResourceNotFoundException",
    "Retry",
    "Runtime",
    "RuntimeClosedError",
    "RuntimeStatistics",
    "ServiceException",
    "TooManyRequestsException",
    "VersionStatistics",
    "VirtualClock",
    "__version__",
    "configure_logging",
]
