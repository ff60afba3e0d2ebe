"""The child-side measurement API: what a benchmark function uses inside its fresh process.

A benchmark function is named by a config (``"benchmarks.floors:f2_queue"``) and called in a
child process as ``fn(params, loop)``; it may be ``async def`` (then the child runs it on
``loop``) or a plain function (for work that needs no loop, or drives the loop itself). It
returns a :class:`Measurement` (or a bare float: seconds per event).

Two passes call the same function. ``params.percentiles`` says which one this is:

* the **throughput** pass times whole chunks of events and divides: no timer call per event;
* the **percentile** pass times every event with ``time.perf_counter_ns`` and returns the
  samples; the harness turns them into p50/p99/p99.9.

:func:`events` (async) and :func:`events_sync` pick the right shape for the pass, so a scenario
writes its setup once and hands over two callables: ``batch(n)`` runs ``n`` events back to back,
``one()`` runs a single event (defaults to ``batch(1)``).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Batch",
    "Measurement",
    "One",
    "Params",
    "Skip",
    "SyncBatch",
    "SyncOne",
    "awaiting",
    "each",
    "events",
    "events_sync",
    "latencies",
    "latencies_sync",
    "throughput",
    "throughput_sync",
]

#: ``await batch(n)`` runs ``n`` events back to back.
Batch = Callable[[int], Awaitable[object]]
#: ``await one()`` runs a single event.
One = Callable[[], Awaitable[object]]
SyncBatch = Callable[[int], object]
SyncOne = Callable[[], object]

# Sizes. Full size aims at ~0.3 s of measured time per process (plus calibration and one
# discarded warm-up chunk); --quick runs a handful of events so a smoke run takes milliseconds.
_DEFAULT_SECONDS = 0.3
_DEFAULT_CHUNKS = 5
_CALIBRATE_MIN_S = 0.02
_QUICK_EVENTS = 50
_QUICK_SAMPLES = 50
_MIN_SAMPLES = 2_000
_MAX_SAMPLES = 200_000
_MAX_CALIBRATE_N = 1 << 26


class Skip(Exception):
    """Raise in a benchmark function to report the config as skipped (e.g. a missing extra)."""


@dataclass(frozen=True, slots=True)
class Params(Mapping[str, Any]):
    """The config's params, plus what the harness says about this run."""

    data: Mapping[str, Any] = field(default_factory=dict)
    #: ``--quick``: tiny sizes, the run only proves the code still works.
    quick: bool = False
    #: True in the instrumented percentile pass, False in the throughput pass.
    percentiles: bool = False

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __iter__(self) -> Any:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    @property
    def seconds(self) -> float:
        """Target measured time for this process (param ``seconds``)."""
        return float(self.data.get("seconds", _DEFAULT_SECONDS))


@dataclass(slots=True)
class Measurement:
    """What a benchmark function returns."""

    #: Mean seconds per event over the measured chunks (the throughput number).
    per_event_s: float
    #: Events measured (warm-up and calibration excluded).
    events: int
    #: Per-event nanoseconds (percentile pass only).
    samples_ns: list[int] | None = None
    #: Anything else worth recording (JSON-encodable).
    extra: dict[str, Any] = field(default_factory=dict)


def awaiting(fn: Callable[[Any], Awaitable[object]], event: Any) -> Batch:
    """The simplest batch: ``await fn(event)`` ``n`` times in a plain loop."""

    async def batch(n: int) -> None:
        for _ in range(n):
            await fn(event)

    return batch


# -- sizing ------------------------------------------------------------------------------------


def _fixed_plan(params: Params, default_chunks: int) -> tuple[int, int] | None:
    """(chunk size, chunk count) when params fix it or the run is quick; None: calibrate."""
    chunks = int(params.get("chunks", 1 if params.quick else default_chunks))
    if "n" in params:
        return max(1, int(params["n"]) // chunks), chunks
    if params.quick:
        return int(params.get("quick_n", _QUICK_EVENTS)), chunks
    return None


def _grow(n: int, elapsed: float) -> int | None:
    """The next calibration size, or None once a batch of ``n`` takes long enough to time."""
    if elapsed >= _CALIBRATE_MIN_S or n >= _MAX_CALIBRATE_N:
        return None
    return n * (2 if elapsed > _CALIBRATE_MIN_S / 8 else 8)


def _scaled_plan(params: Params, n: int, elapsed: float, default_chunks: int) -> tuple[int, int]:
    """Chunk size so that ``chunks`` chunks take ``params.seconds`` in total."""
    chunks = int(params.get("chunks", default_chunks))
    per_event = max(elapsed, 1e-9) / n
    chunk = max(1, round(params.seconds / chunks / per_event))
    if "max_n" in params:
        chunk = min(chunk, max(1, int(params["max_n"]) // chunks))
    return chunk, chunks


def _summarise(times: list[float], chunk: int, calibrated: int) -> Measurement:
    total = chunk * len(times)
    per_chunk = sorted(t / chunk for t in times)
    return Measurement(
        per_event_s=sum(times) / total,
        events=total,
        extra={
            "chunk": chunk,
            "chunks": len(times),
            "chunk_min_s": per_chunk[0],
            "chunk_median_s": per_chunk[len(per_chunk) // 2],
            "calibrated_n": calibrated,
        },
    )


# -- throughput ----------------------------------------------------------------------------------


async def throughput(batch: Batch, params: Params) -> Measurement:
    """Calibrate ``n``, run one warm-up chunk (discarded), then time ``chunks`` chunks.

    Returns the mean seconds per event over the timed chunks. Calibration doubles ``n`` until a
    batch takes >= 20 ms, then sizes chunks so the timed part lasts ``params.seconds``.
    Params: ``n`` (fixed total, no calibration), ``chunks``, ``seconds``, ``max_n``,
    ``calibrate_from``, ``quick_n``.
    """
    clock = time.perf_counter

    async def timed(n: int) -> float:
        t0 = clock()
        await batch(n)
        return clock() - t0

    plan = _fixed_plan(params, _DEFAULT_CHUNKS)
    n = int(params.get("calibrate_from", 16))
    if plan is None:
        while True:
            elapsed = await timed(n)
            grown = _grow(n, elapsed)
            if grown is None:
                break
            n = grown
        plan = _scaled_plan(params, n, elapsed, _DEFAULT_CHUNKS)
    chunk, chunks = plan
    gc.collect()
    await timed(chunk)  # warm-up chunk, discarded
    times = [await timed(chunk) for _ in range(chunks)]
    return _summarise(times, chunk, n)


def throughput_sync(batch: SyncBatch, params: Params) -> Measurement:
    """:func:`throughput` for work that needs no event loop (imports, exec, fork)."""
    clock = time.perf_counter

    def timed(n: int) -> float:
        t0 = clock()
        batch(n)
        return clock() - t0

    plan = _fixed_plan(params, _DEFAULT_CHUNKS)
    n = int(params.get("calibrate_from", 16))
    if plan is None:
        while True:
            elapsed = timed(n)
            grown = _grow(n, elapsed)
            if grown is None:
                break
            n = grown
        plan = _scaled_plan(params, n, elapsed, _DEFAULT_CHUNKS)
    chunk, chunks = plan
    gc.collect()
    timed(chunk)  # warm-up chunk, discarded
    times = [timed(chunk) for _ in range(chunks)]
    return _summarise(times, chunk, n)


# -- percentiles ---------------------------------------------------------------------------------


def _sample_count(params: Params, per_event_s: float) -> int:
    if "samples" in params:
        return int(params["samples"])
    if params.quick:
        return int(params.get("quick_samples", _QUICK_SAMPLES))
    wanted = round(params.seconds / max(per_event_s, 1e-9))
    return max(_MIN_SAMPLES, min(_MAX_SAMPLES, wanted))


def _warmup_count(params: Params, samples: int) -> int:
    return int(params.get("warmup", max(1, samples // 10)))


async def latencies(one: One, params: Params) -> Measurement:
    """Time every event with ``perf_counter_ns``: warm up, then collect ``samples`` samples.

    The sample count is sized for ~``params.seconds`` (at least 2,000 so p99.9 means something,
    at most 200,000) from a short probe; params ``samples`` and ``warmup`` fix it.
    """
    clock = time.perf_counter_ns
    probe = 64 if not params.quick else 4
    t0 = clock()
    for _ in range(probe):
        await one()
    samples = _sample_count(params, (clock() - t0) / 1e9 / probe)
    for _ in range(_warmup_count(params, samples)):
        await one()
    gc.collect()
    out = [0] * samples
    for i in range(samples):
        t0 = clock()
        await one()
        out[i] = clock() - t0
    return Measurement(per_event_s=sum(out) / len(out) / 1e9, events=samples, samples_ns=out)


def latencies_sync(one: SyncOne, params: Params) -> Measurement:
    """:func:`latencies` for work that needs no event loop."""
    clock = time.perf_counter_ns
    probe = 16 if not params.quick else 2
    t0 = clock()
    for _ in range(probe):
        one()
    samples = _sample_count(params, (clock() - t0) / 1e9 / probe)
    for _ in range(_warmup_count(params, samples)):
        one()
    gc.collect()
    out = [0] * samples
    for i in range(samples):
        t0 = clock()
        one()
        out[i] = clock() - t0
    return Measurement(per_event_s=sum(out) / len(out) / 1e9, events=samples, samples_ns=out)


# -- one event at a time, with untimed work between events -------------------------------------


async def each(
    params: Params,
    one: One,
    between: Callable[[], Awaitable[object]] | None = None,
    *,
    default_max: int = 50_000,
) -> Measurement:
    """Time every ``one()`` on its own and run ``between()`` untimed after each of them.

    For events that must be set up or torn down one by one, where the teardown must not be
    billed: a cold start (the context has to go away before the next one), a scale-out round (a
    fresh runtime per round), a fresh module file per import. Both passes time each event with
    ``perf_counter_ns`` (two timer calls, ~0.1 us, against events of tens of us or more); the
    throughput pass returns the mean, the percentile pass the samples too.

    Sizing: a short probe estimates the cost of one event (``between`` included, so the process
    lasts about ``params.seconds``); params ``n`` (fixed count), ``max_n`` (cap; default
    ``default_max``), ``warmup`` (default: a tenth, at most 100), ``quick_n`` under ``--quick``.
    """
    clock = time.perf_counter_ns

    async def step() -> int:
        t0 = clock()
        await one()
        elapsed = clock() - t0
        if between is not None:
            await between()
        return elapsed

    probe = 2 if params.quick else 8
    t0 = clock()
    for _ in range(probe):
        await step()
    wall_per_event = (clock() - t0) / 1e9 / probe
    if "n" in params:
        n = int(params["n"])
    elif params.quick:
        n = int(params.get("quick_n", _QUICK_EVENTS))
    else:
        n = round(params.seconds / max(wall_per_event, 1e-9))
        n = max(20, min(int(params.get("max_n", default_max)), n))
    for _ in range(int(params.get("warmup", min(100, max(1, n // 10))))):
        await step()
    gc.collect()
    out = [0] * n
    for i in range(n):
        out[i] = await step()
    ordered = sorted(out)
    return Measurement(
        per_event_s=sum(out) / n / 1e9,
        events=n,
        samples_ns=out if params.percentiles else None,
        extra={
            "median_us": ordered[n // 2] / 1e3,
            "min_us": ordered[0] / 1e3,
            "wall_per_event_us": wall_per_event * 1e6,
        },
    )


# -- the usual entry points ----------------------------------------------------------------------


async def events(params: Params, batch: Batch, one: One | None = None) -> Measurement:
    """Throughput of ``batch`` or, in the percentile pass, per-event latencies of ``one``."""
    if params.percentiles:
        if one is None:

            async def one() -> object:
                return await batch(1)

        return await latencies(one, params)
    return await throughput(batch, params)


def events_sync(params: Params, batch: SyncBatch, one: SyncOne | None = None) -> Measurement:
    """:func:`events` for work that needs no event loop."""
    if params.percentiles:
        return latencies_sync(one if one is not None else (lambda: batch(1)), params)
    return throughput_sync(batch, params)
