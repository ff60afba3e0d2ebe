"""Versions and aliases: frozen code + config, qualifiers, weighted routing, a pool per version."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest
from helpers import spawn

import asynclambda as al

pytestmark = pytest.mark.anyio

ARN = "arn:aws:lambda:us-east-1:000000000000:function:fn"


def _v1(event: object, context: al.LambdaContext) -> list[object]:
    return ["v1", context.function_version, context.get_remaining_time_in_millis()]


def _v2(event: object, context: al.LambdaContext) -> list[object]:
    return ["v2", context.function_version, context.get_remaining_time_in_millis()]


async def _async_v1(event: object, context: al.LambdaContext) -> str:
    return "v1"


def _two_versions(rt: al.Runtime) -> None:
    """``fn``: version 1 runs ``_v1`` with a 5 s timeout, version 2 ``_v2`` with 7 s."""
    rt.add_function("fn", _v1, timeout=5, environment={"STAGE": "one"})
    assert rt.publish_version("fn") == "1"
    rt.update_function("fn", handler=_v2, timeout=7, environment={"STAGE": "two"})
    assert rt.publish_version("fn") == "2"


async def test_published_version_keeps_its_code_and_config_after_latest_changes() -> None:
    rt = al.Runtime(clock=al.VirtualClock())
    rt.add_function("fn", _v1, timeout=5, memory_mb=256)
    assert rt.publish_version("fn") == "1"
    rt.update_function("fn", handler=_v2, timeout=7, memory_mb=512)
    async with rt:
        old = await rt.invoke("fn", qualifier="1")
        new = await rt.invoke("fn")
    assert old.payload == ["v1", "1", 5000]  # the frozen handler and its 5 s timeout
    assert new.payload == ["v2", "$LATEST", 7000]
    assert rt.get_function("fn", "1").memory_mb == 256
    assert rt.get_function("fn").memory_mb == 512


async def test_version_numbers_count_up_and_carry_the_description() -> None:
    rt = al.Runtime()
    rt.add_function("fn", _v1, description="orders")
    assert rt.publish_version("fn") == "1"
    rt.update_function("fn", timeout=4)  # a change: Lambda publishes only what changed
    assert rt.publish_version("fn", description="hotfix") == "2"
    assert rt.get_function("fn", "1").description == "orders"  # defaults to $LATEST's
    assert rt.get_function("fn", "2").description == "hotfix"
    assert rt.get_function("fn").description == "orders"  # $LATEST is untouched


async def test_executed_version_and_invoked_arn_follow_the_qualifier() -> None:
    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: [c.function_version, c.invoked_function_arn])
    rt.publish_version("fn")
    rt.update_function("fn", memory_mb=256)  # a change, so a second version
    rt.publish_version("fn")
    rt.create_alias("fn", "prod", "1")
    cases = {
        None: ("$LATEST", ARN),
        "$LATEST": ("$LATEST", f"{ARN}:$LATEST"),
        "1": ("1", f"{ARN}:1"),
        "2": ("2", f"{ARN}:2"),
        "prod": ("1", f"{ARN}:prod"),
    }
    async with rt:
        for qualifier, (version, arn) in cases.items():
            r = await rt.invoke("fn", qualifier=qualifier)
            assert r.executed_version == version, qualifier
            assert r.payload == [version, arn], qualifier


async def test_invoking_by_name_qualifier_and_arn_qualifier() -> None:
    rt = al.Runtime()
    _two_versions(rt)
    rt.create_alias("fn", "prod", "2")
    async with rt:
        assert (await rt.invoke("fn:1")).payload[0] == "v1"
        assert (await rt.invoke(f"{ARN}:1")).executed_version == "1"
        by_alias = await rt.invoke(f"{ARN}:prod")
        assert by_alias.executed_version == "2" and by_alias.payload[:2] == ["v2", "2"]


async def test_alias_can_be_repointed() -> None:
    rt = al.Runtime()
    _two_versions(rt)
    rt.create_alias("fn", "prod", "1")
    async with rt:
        assert (await rt.invoke("fn", qualifier="prod")).executed_version == "1"
        rt.update_alias("fn", "prod", "2")
        assert (await rt.invoke("fn", qualifier="prod")).executed_version == "2"
        rt.delete_alias("fn", "prod")
        with pytest.raises(al.ResourceNotFoundException, match="fn:prod"):
            await rt.invoke("fn", qualifier="prod")
        with pytest.raises(al.ResourceNotFoundException, match="Alias not found"):
            rt.delete_alias("fn", "prod")


async def _route(seed: int, n: int, weight: float) -> list[str]:
    rt = al.Runtime(rng=random.Random(seed))
    _two_versions(rt)
    rt.create_alias("fn", "prod", "1", routing={"2": weight})
    async with rt:
        return [str((await rt.invoke("fn", qualifier="prod")).executed_version)
                for _ in range(n)]


async def test_weighted_alias_sends_about_its_weight_to_the_second_version() -> None:
    versions = await _route(seed=2026, n=1000, weight=0.3)
    counts = Counter(versions)
    assert set(counts) == {"1", "2"}
    assert 200 <= counts["2"] <= 400  # 0.3 of 1000, well within binomial spread
    assert counts["1"] + counts["2"] == 1000


async def test_weighted_routing_is_reproducible_with_an_injected_rng() -> None:
    first = await _route(seed=7, n=200, weight=0.5)
    assert await _route(seed=7, n=200, weight=0.5) == first
    assert await _route(seed=8, n=200, weight=0.5) != first


@pytest.mark.parametrize(("weight", "expected"), [(0.0, {"1"}), (1.0, {"2"})])
async def test_weights_zero_and_one_are_exclusive(weight: float, expected: set[str]) -> None:
    assert set(await _route(seed=1, n=50, weight=weight)) == expected


async def test_routed_invocation_reports_the_alias_arn_and_the_executed_version() -> None:
    rt = al.Runtime(rng=random.Random(0))
    rt.add_function("fn", lambda e, c: [c.function_version, c.invoked_function_arn])
    rt.publish_version("fn")
    rt.update_function("fn", memory_mb=256)  # a change, so a second version
    rt.publish_version("fn")
    rt.create_alias("fn", "prod", "1", routing={"2": 1.0})
    async with rt:
        r = await rt.invoke("fn", qualifier="prod")
    assert r.executed_version == "2"
    assert r.payload == ["2", f"{ARN}:prod"]


def test_get_function_by_alias_gives_the_primary_version() -> None:
    rt = al.Runtime()
    _two_versions(rt)
    rt.create_alias("fn", "prod", "1")
    assert rt.get_function("fn", "prod").timeout == 5
    rt.update_alias("fn", "prod", "2")
    assert rt.get_function("fn", "prod").timeout == 7


def test_get_function_by_weighted_alias_ignores_the_routing() -> None:
    rt = al.Runtime()
    _two_versions(rt)
    rt.create_alias("fn", "prod", "1", routing={"2": 0.9})
    assert rt.get_function("fn", "prod").timeout == 5  # version 1's, the alias's own


@pytest.mark.parametrize("alias", ["123", "", "a" * 129, "bad name", "$LATEST", "a:b", 7])
def test_invalid_alias_name_is_a_config_error(alias: object) -> None:
    rt = al.Runtime()
    rt.add_function("fn", _v1)
    rt.publish_version("fn")
    with pytest.raises(al.ConfigError) as info:
        rt.create_alias("fn", alias, "1")  # type: ignore[arg-type]
    assert info.value.field == "alias" and info.value.value == alias
    assert str(info.value).startswith(f"invalid alias={alias!r}: ")


@pytest.mark.parametrize(("routing", "field"), [
    pytest.param({"2": -0.1}, "routing['2']", id="negative"),
    pytest.param({"2": 1.5}, "routing['2']", id="over-one"),
    pytest.param({"2": "0.3"}, "routing['2']", id="string"),
    pytest.param({"2": True}, "routing['2']", id="bool"),
    pytest.param({"2": float("nan")}, "routing['2']", id="nan"),
    pytest.param({"1": 0.5}, "routing", id="same-version"),
    pytest.param({"$LATEST": 0.5}, "routing", id="latest"),
    pytest.param({"2": 0.1, "3": 0.1}, "routing", id="two-extra-versions"),
])
def test_invalid_alias_routing_is_a_config_error(routing: dict[str, object], field: str) -> None:
    rt = al.Runtime()
    rt.add_function("fn", _v1)
    for memory in (128, 256, 512):  # three changes, three versions
        rt.update_function("fn", memory_mb=memory)
        rt.publish_version("fn")
    with pytest.raises(al.ConfigError) as info:
        rt.create_alias("fn", "prod", "1", routing=routing)  # type: ignore[arg-type]
    assert info.value.field == field
    with pytest.raises(al.ResourceNotFoundException):
        rt.get_function("fn", "prod")  # nothing was created


def test_alias_to_an_unknown_version_is_resource_not_found() -> None:
    rt = al.Runtime()
    rt.add_function("fn", _v1)
    rt.publish_version("fn")
    with pytest.raises(al.ResourceNotFoundException, match=r"fn:9 \(function_version\)"):
        rt.create_alias("fn", "prod", "9")
    with pytest.raises(al.ResourceNotFoundException, match=r"fn:9 \(routing\)"):
        rt.create_alias("fn", "prod", "1", routing={"9": 0.5})
    with pytest.raises(al.ResourceNotFoundException, match="function:nope"):
        rt.create_alias("nope", "prod", "1")
    with pytest.raises(al.ResourceNotFoundException, match="function:nope"):
        rt.publish_version("nope")


async def test_unknown_version_is_resource_not_found() -> None:
    rt = al.Runtime()
    rt.add_function("fn", _v1)
    rt.publish_version("fn")
    async with rt:
        with pytest.raises(al.ResourceNotFoundException, match=r"function:fn:2$"):
            await rt.invoke("fn", qualifier="2")
    with pytest.raises(al.ResourceNotFoundException):
        rt.get_function("fn", "2")


async def test_each_version_has_its_own_pool_and_statistics() -> None:
    rt = al.Runtime()
    _two_versions(rt)
    async with rt:
        for qualifier in ("1", "1", "1", "2", None):
            await rt.invoke("fn", qualifier=qualifier)
        stats = rt.statistics().functions["fn"]
    v = stats.versions
    assert set(v) == {"$LATEST", "1", "2"}
    assert (v["1"].invocations, v["1"].cold_starts, v["1"].contexts_created) == (3, 1, 1)
    assert (v["2"].invocations, v["2"].cold_starts) == (1, 1)
    assert (v["$LATEST"].invocations, v["$LATEST"].cold_starts) == (1, 1)
    assert stats.total("invocations") == 5.0


async def test_versions_do_not_share_warm_contexts() -> None:
    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: [c.cold_start, c.log_stream_name])
    rt.publish_version("fn")
    async with rt:
        latest = (await rt.invoke("fn")).payload
        one = (await rt.invoke("fn", qualifier="1")).payload
    assert latest[0] and one[0]  # each version's first call is a cold start
    assert "[$LATEST]" in latest[1] and "[1]" in one[1]


async def test_each_version_sees_its_own_environment() -> None:
    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: __import__("os").environ["STAGE"],
                    environment={"STAGE": "one"})
    rt.publish_version("fn")
    rt.update_function("fn", environment={"STAGE": "two"})
    async with rt:
        assert (await rt.invoke("fn", qualifier="1")).payload == "one"
        assert (await rt.invoke("fn")).payload == "two"


async def test_provisioned_concurrency_on_a_version_published_before_start() -> None:
    inits: list[str] = []
    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: c.cold_start,
                    init=lambda info: inits.append(info.function_version))
    rt.publish_version("fn", provisioned_concurrency=2)
    async with rt:
        assert inits == ["1", "1"]  # warm before start returned; $LATEST has none
        stats = rt.statistics().functions["fn"].versions
        assert (stats["1"].provisioned_contexts, stats["$LATEST"].contexts) == (2, 0)
        r = await rt.invoke("fn", qualifier="1")
    assert r.payload is False and not r.cold_start
    assert rt.get_function("fn", "1").provisioned_concurrency == 2
    assert rt.get_function("fn").provisioned_concurrency == 0


async def test_provisioned_concurrency_on_a_version_published_while_running() -> None:
    clock = al.VirtualClock()
    rt = al.Runtime(clock=clock)
    rt.add_function("fn", lambda e, c: c.cold_start)
    async with rt:
        version = rt.publish_version("fn", provisioned_concurrency=3)
        await clock.settle()
        stats = rt.statistics().functions["fn"].versions[version]
        assert (stats.provisioned_contexts, stats.idle_contexts) == (3, 3)
        assert not (await rt.invoke("fn", qualifier=version)).cold_start


def test_provisioned_concurrency_on_a_version_cannot_exceed_reserved() -> None:
    rt = al.Runtime()
    rt.add_function("fn", _v1, reserved_concurrency=1)
    with pytest.raises(al.ConfigError, match=r"invalid provisioned_concurrency=2: cannot exceed"):
        rt.publish_version("fn", provisioned_concurrency=2)


async def test_update_function_resets_latest_while_in_flight_invocations_finish() -> None:
    clock = al.VirtualClock()
    gate = asyncio.Event()
    shutdowns: list[str] = []

    async def old(event: dict, context: al.LambdaContext) -> list[object]:
        if event.get("hold"):
            await gate.wait()
        return ["old", context.cold_start]

    rt = al.Runtime(clock=clock)
    rt.add_function("fn", old, shutdown=lambda state: shutdowns.append("old"))
    async with rt:
        assert (await rt.invoke("fn")).payload == ["old", True]
        held = spawn(rt.invoke("fn", {"hold": True}))
        await clock.settle()
        rt.update_function("fn", handler=lambda e, c: ["new", c.cold_start])
        await clock.settle()
        assert shutdowns == []  # the busy old context is not shut down under its invocation
        assert rt.statistics().functions["fn"].concurrent_executions == 1
        assert (await rt.invoke("fn")).payload == ["new", True]  # a fresh context, new code
        gate.set()
        assert (await held).payload == ["old", False]  # finished on the old code
        await clock.settle()
        assert shutdowns == ["old"]  # ...and then its context was shut down
        assert rt.statistics().functions["fn"].concurrent_executions == 0
        assert (await rt.invoke("fn")).payload == ["new", False]


async def test_update_function_shuts_down_idle_latest_contexts() -> None:
    clock = al.VirtualClock()
    shutdowns: list[object] = []
    rt = al.Runtime(clock=clock)
    # An async handler: its hooks run on the loop, so settle() sees SHUTDOWN finish.
    rt.add_function("fn", _async_v1, init=lambda info: "state", shutdown=shutdowns.append)
    rt.publish_version("fn")
    async with rt:
        await rt.invoke("fn")
        await rt.invoke("fn", qualifier="1")
        rt.update_function("fn", timeout=9)
        await clock.settle()
        assert shutdowns == ["state"]  # $LATEST's idle context only
        assert rt.statistics().functions["fn"].versions["1"].idle_contexts == 1
        assert not (await rt.invoke("fn", qualifier="1")).cold_start  # versions are untouched
        assert (await rt.invoke("fn")).cold_start


async def test_put_function_concurrency_keeps_warm_contexts() -> None:
    rt = al.Runtime()
    rt.add_function("fn", _v1)
    async with rt:
        await rt.invoke("fn")
        rt.put_function_concurrency("fn", 5)
        assert not (await rt.invoke("fn")).cold_start
        assert rt.statistics().functions["fn"].reserved_concurrency == 5
        rt.put_function_concurrency("fn", None)
        assert rt.statistics().functions["fn"].reserved_concurrency is None


async def test_remove_function_deletes_every_version_and_shuts_contexts_down() -> None:
    clock = al.VirtualClock()
    shutdowns: list[str] = []
    rt = al.Runtime(clock=clock)
    rt.add_function("fn", _async_v1, shutdown=lambda state: shutdowns.append("down"))
    rt.publish_version("fn")
    async with rt:
        await rt.invoke("fn")
        await rt.invoke("fn", qualifier="1")
        rt.remove_function("fn")
        await clock.settle()
        assert shutdowns == ["down", "down"]
        assert rt.functions() == [] and "fn" not in rt.statistics().functions
        for qualifier in (None, "1"):
            with pytest.raises(al.ResourceNotFoundException):
                await rt.invoke("fn", qualifier=qualifier)
        with pytest.raises(al.ResourceNotFoundException):
            rt.remove_function("fn")
        rt.add_function("fn", _v2)  # the name is free again
        assert (await rt.invoke("fn")).payload[0] == "v2"


async def test_remove_function_returns_its_reservation_to_the_pool() -> None:
    rt = al.Runtime(concurrency_limit=10, unreserved_concurrency_minimum=0)
    rt.add_function("fn", _v1, reserved_concurrency=8)
    assert rt.statistics().unreserved_concurrency_limit == 2
    rt.remove_function("fn")
    assert rt.statistics().unreserved_concurrency_limit == 10
