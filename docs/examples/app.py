"""Example app: an image pipeline and a greeter, run with ``asynclambda run docs/examples/app.py``.

Shows cold and warm invocations (with Lambda's REPORT lines), scale-out under concurrency, a
plain ``def`` handler on its own thread, a handler file loaded per execution context, typed
events, a function error, and the runtime's statistics. Runs in well under a second.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import asynclambda as al
from asynclambda.events import S3Event

HERE = Path(__file__).parent
rt = al.Runtime()


def load_model(info: object) -> dict[str, int]:
    """INIT work: runs once per execution context, its result is ``context.state``."""
    return {"thumbnail_px": 128}


@rt.function(memory_mb=512, timeout=10, init=load_model)
async def make_thumbnail(event: S3Event, context: al.LambdaContext) -> dict[str, object]:
    """Object-created event -> a (pretend) thumbnail key per uploaded image."""
    size = context.state["thumbnail_px"]
    out = []
    for record in event.records:
        key = record.s3.object.key
        if not key.endswith((".jpg", ".png")):
            raise ValueError(f"not an image: {key}")
        await asyncio.sleep(0.001)  # the resize itself
        digest = hashlib.sha256(key.encode()).hexdigest()[:8]
        out.append(f"thumbnails/{size}/{digest}-{Path(key).name}")
    return {"thumbnails": out, "cold_start": context.cold_start}


@rt.function(reserved_concurrency=2)
def audit(event: dict[str, object], context: al.LambdaContext) -> str:
    """A plain ``def`` handler: runs on its execution context's own thread."""
    return f"audited {event['key']} in {context.function_name}"


rt.add_function("greeter", f"{HERE / 'handlers' / 'greeter.py'}:lambda_handler",
                environment={"GREETING": "Bonjour"}, timeout=5)


def s3_event(key: str) -> dict[str, object]:
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-01-01T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "EXAMPLE"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "EXAMPLE", "x-amz-id-2": "EXAMPLE"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "thumbnails",
               "bucket": {"name": "photos", "ownerIdentity": {"principalId": "EXAMPLE"},
                          "arn": "arn:aws:s3:::photos"},
               "object": {"key": key, "size": 1024, "eTag": "0123456789abcdef", "sequencer": "0A1B2C"}},
    }]}


async def main(rt: al.Runtime) -> int:
    print("-- cold, then warm: the first call INITs a context (see Init Duration), the next reuse it")
    for key in ("cat.jpg", "dog.png", "bird.jpg"):
        r = await rt.invoke("make_thumbnail", s3_event(key))
        print("  ->", r.payload)

    print("-- scale-out: 4 uploads at once need 4 contexts (1 warm + 3 cold)")
    results = await asyncio.gather(*(rt.invoke("make_thumbnail", s3_event(f"img{i}.jpg"))
                                     for i in range(4)))
    print("  -> cold starts:", [r.cold_start for r in results])

    print("-- a function error is a result, not an exception (status 200, function_error set)")
    r = await rt.invoke("make_thumbnail", s3_event("notes.txt"))
    print("  ->", r.function_error, r.payload["errorType"], r.payload["errorMessage"])

    print("-- a plain def handler, and a handler file with its own module state and environment")
    print("  ->", (await rt.invoke("audit", {"key": "cat.jpg"})).payload)
    for name in ("Ada", "Grace"):
        print("  ->", (await rt.invoke("greeter", {"name": name})).payload)

    print("-- statistics")
    for fn, stats in rt.statistics().functions.items():
        v = stats.versions["$LATEST"]
        print(f"  {fn:15} invocations={v.invocations} errors={v.errors} "
              f"cold_starts={v.cold_starts} contexts={v.contexts} "
              f"avg_duration={v.duration_ms_avg:.2f}ms")
    return 0


if __name__ == "__main__":
    async def _standalone() -> int:
        async with rt:
            return await main(rt)

    raise SystemExit(asyncio.run(_standalone()))
