"""What the runtime's scenarios share: a started runtime with one function, sample events.

Not a scenario (``run_all`` only discovers ``bench_*.py``). Everything here is setup: nothing
in it is timed.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from asynclambda import Runtime

#: The request of the warm-path scenarios and the small dict their handler returns.
EVENT: dict[str, Any] = {"n": 1}
RESPONSE: dict[str, Any] = {"ok": True, "n": 1}

#: One SQS message as Lambda's SQS mapping delivers it (the AWS documentation's example).
SQS_EVENT: dict[str, Any] = {
    "Records": [
        {
            "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
            "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
            "body": '{"n": 1}',
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1545082649183",
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": "1545082649185",
            },
            "messageAttributes": {},
            "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:my-queue",
            "awsRegion": "us-east-2",
        }
    ]
}


@contextlib.asynccontextmanager
async def started(
    handler: Any,
    *,
    name: str = "fn",
    warm: Any = EVENT,
    runtime: dict[str, Any] | None = None,
    **config: Any,
) -> AsyncIterator[Runtime]:
    """A started :class:`Runtime` (library defaults unless ``runtime`` says otherwise) with
    ``handler`` registered as ``name``, warmed by one invoke that must succeed."""
    rt = Runtime(**(runtime or {}))
    rt.add_function(name, handler, **config)
    async with rt:
        if warm is not None:
            check(await rt.invoke(name, warm))
        yield rt


def check(result: Any) -> Any:
    """Fail the benchmark loudly if an invoke did not succeed (a broken path is not a number)."""
    if not result.ok:
        raise RuntimeError(f"invoke failed: {result.function_error}: {result.payload!r}")
    return result


def version_stats(rt: Runtime, name: str = "fn") -> dict[str, Any]:
    """``$LATEST``'s counters as a plain dict (for ``Measurement.extra``)."""
    import msgspec

    stats = rt.statistics().functions[name].versions["$LATEST"]
    return msgspec.structs.asdict(stats)
