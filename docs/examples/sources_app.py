"""Event sources end to end: a queue of thumbnail jobs, a stream of posts, a cron job.

* ``thumbnail`` is fed by an SQS-style queue (``jobs``) in batches of 5 and reports partial batch
  failures; jobs it cannot handle (GIFs) come back until the queue's redrive policy moves them to
  the dead-letter queue ``jobs-dlq``.
* ``hashtags`` is fed by a Kinesis-style stream (``posts``, 2 shards) and counts hashtags per
  2-second tumbling window; the final invocation of each window prints the trending tags.
* ``report`` runs on a schedule (``rate(1 minute)``: a new rate schedule fires at once).

Run it with ``python docs/examples/sources_app.py`` (it stops by itself within seconds), or with
``asynclambda run docs/examples/sources_app.py``, which calls ``main(rt)`` inside ``async with rt``.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import json
import time
from typing import Any

import asynclambda as al
from asynclambda.events import KinesisEvent, SQSEvent
from asynclambda.sources import (
    MemoryQueueBackend,
    MemoryStreamBackend,
    QueueConfig,
    QueueEventSourceMapping,
    RedrivePolicy,
    Schedule,
    StreamConfig,
    StreamEventSourceMapping,
)

rt = al.Runtime()
queues = MemoryQueueBackend(clock=rt.clock)
streams = MemoryStreamBackend(clock=rt.clock)
trending: list[dict[str, Any]] = []


class Resources:
    """Creates the queues and the stream when the runtime starts (before the mappings start:
    components start in the order they were added)."""

    async def start(self, runtime: al.Runtime) -> None:
        await queues.create_queue(QueueConfig("jobs-dlq"))
        await queues.create_queue(QueueConfig(
            "jobs", visibility_timeout=1, redrive_policy=RedrivePolicy("jobs-dlq", 2)))
        await streams.create_stream(StreamConfig("posts", shard_count=2))

    async def aclose(self) -> None:
        return None


rt.add_component(Resources())


@rt.function(timeout=1)
async def thumbnail(event: SQSEvent, context: al.LambdaContext) -> dict[str, Any]:
    """Make thumbnails; report the jobs that failed so only those come back."""
    failures = []
    for record in event.records:
        job = json.loads(record.body)
        if job["key"].endswith(".gif"):
            failures.append({"itemIdentifier": record.message_id})
    return {"batchItemFailures": failures}


@rt.function(timeout=1)
async def hashtags(event: KinesisEvent, context: al.LambdaContext) -> dict[str, Any]:
    """Count hashtags per tumbling window; the window's final invocation publishes them."""
    state = collections.Counter(event.state or {})
    for record in event.records:
        post = json.loads(base64.b64decode(record.kinesis.data))
        state.update(word for word in post["text"].split() if word.startswith("#"))
    if event.is_final_invoke_for_window:
        trending.append({"window": event.window.start if event.window else None,
                         "shard": event.shard_id, "top": state.most_common(3)})
    return {"state": dict(state)}


@rt.function
async def report(event: dict[str, Any], context: al.LambdaContext) -> dict[str, Any]:
    print(f"[report] scheduled run, request {context.aws_request_id}")
    return {"ok": True}


jobs = QueueEventSourceMapping(rt, function_name="thumbnail", queue="jobs", backend=queues,
                               batch_size=5, report_batch_item_failures=True)
posts = StreamEventSourceMapping(rt, function_name="hashtags", stream="posts", backend=streams,
                                 starting_position="TRIM_HORIZON", batch_size=10,
                                 tumbling_window=2)
cron = Schedule(rt, name="report", expression="rate(1 minute)", function_name="report")


async def main(rt: al.Runtime) -> None:
    keys = ["cat.jpg", "dog.png", "party.gif", "beach.jpg", "logo.png", "meme.gif", "sky.jpg"]
    for key in keys:
        await queues.send("jobs", json.dumps({"key": key, "width": 128}))
    tags = ["#python", "#asyncio", "#aws", "#lambda"]
    for i in range(40):
        text = f"post {i} {tags[i % 4]} {tags[(i * 3) % 4]} #python"
        await streams.put_record("posts", json.dumps({"text": text}).encode(), f"user-{i % 7}")

    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        dead = (await queues.statistics("jobs-dlq")).in_queue
        if dead == 2 and len({t["shard"] for t in trending}) == 2:
            break
        await asyncio.sleep(0.05)

    print("jobs:", _counts(jobs.statistics()), "dead-lettered:",
          (await queues.statistics("jobs-dlq")).in_queue)
    print("posts:", _counts(posts.statistics()))
    for window in trending:
        print("trending", window)
    print("report schedule:", cron.statistics().invocations, "run(s), next at",
          cron.statistics().next_fire)


def _counts(stats: Any) -> dict[str, int]:
    return {k: getattr(stats, k) for k in ("batches", "invocations", "records", "succeeded",
                                           "failed", "filtered", "throttles")}


async def _run() -> None:
    async with rt:
        await main(rt)


if __name__ == "__main__":
    asyncio.run(_run())
