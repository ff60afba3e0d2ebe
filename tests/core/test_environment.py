"""The os.environ overlay: each execution context sees its function's environment and Lambda's
own variables; writes stay in the context; code outside any context sees the process's."""

from __future__ import annotations

import asyncio
import os
import sys
from os import environ  # bound long before any runtime starts: must get the overlay too
from typing import Any

import pytest
from helpers import spawn

import asynclambda as al

pytestmark = pytest.mark.anyio

PLAIN_ENVIRON = type(os.environ)

_LAMBDA_KEYS = {"AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_GROUP_NAME",
                "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_LAMBDA_INITIALIZATION_TYPE", "_HANDLER",
                "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "LAMBDA_TASK_ROOT"}


def _reads() -> dict[str, Any]:
    return {"os.environ": os.environ.get("TABLE_NAME"),
            "subscript": os.environ["TABLE_NAME"],
            "contains": "orders" if "TABLE_NAME" in os.environ else None,
            "os.getenv": os.getenv("TABLE_NAME"),
            "from os import environ": environ.get("TABLE_NAME")}


_ORDERS = dict.fromkeys(
    ["os.environ", "subscript", "contains", "os.getenv", "from os import environ"], "orders")


async def test_async_handler_sees_its_function_environment() -> None:
    rt = al.Runtime()

    async def fn(event: object, context: object) -> dict[str, Any]:
        return _reads()

    rt.add_function("fn", fn, environment={"TABLE_NAME": "orders"})
    async with rt:
        assert (await rt.invoke("fn")).payload == _ORDERS
        assert "TABLE_NAME" not in os.environ  # not outside, while the runtime runs


async def test_plain_handler_sees_its_function_environment() -> None:
    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: _reads(), environment={"TABLE_NAME": "orders"})
    async with rt:
        assert (await rt.invoke("fn")).payload == _ORDERS


async def test_init_hook_and_tasks_started_by_the_handler_see_it() -> None:
    rt = al.Runtime()

    async def read_later() -> str | None:
        await asyncio.sleep(0)
        return os.getenv("TABLE_NAME")

    async def fn(event: object, context: al.LambdaContext) -> list[object]:
        child = asyncio.get_running_loop().create_task(read_later())
        return [context.state, await child]

    rt.add_function("fn", fn, environment={"TABLE_NAME": "orders"},
                    init=lambda info: os.environ["TABLE_NAME"])
    async with rt:
        assert (await rt.invoke("fn")).payload == ["orders", "orders"]


async def test_module_body_of_a_handler_file_sees_it(fixtures_dir: str) -> None:
    spec = f"{fixtures_dir}/env_handler.py:handler"
    rt = al.Runtime()
    rt.add_function("fn", spec, environment={"TABLE_NAME": "orders"})
    async with rt:
        r = await rt.invoke("fn")
    assert r.ok, r.payload
    at_import = r.payload["at_import"]
    assert {k: at_import[k] for k in ("os.environ", "os.getenv", "from os import environ")} == (
        dict.fromkeys(("os.environ", "os.getenv", "from os import environ"), "orders"))
    assert at_import["AWS_LAMBDA_FUNCTION_NAME"] == "fn"
    assert at_import["_HANDLER"] == spec


async def test_lambda_task_root_is_set_from_the_first_context(fixtures_dir: str) -> None:
    rt = al.Runtime()
    rt.add_function("fn", f"{fixtures_dir}/env_handler.py:handler")
    async with rt:
        r = await rt.invoke("fn")
    assert r.payload["at_import"]["LAMBDA_TASK_ROOT"] == fixtures_dir
    assert r.payload["task_root"] == fixtures_dir


async def test_lambda_task_root_is_the_handler_files_directory(fixtures_dir: str) -> None:
    rt = al.Runtime()
    rt.add_function("fn", f"{fixtures_dir}/env_handler.py:handler")
    async with rt:
        await rt.invoke("fn")
        # Two at once: one of them runs in a second execution context.
        results = await asyncio.gather(rt.invoke("fn"), rt.invoke("fn"))
    assert sum(r.cold_start for r in results) == 1
    new = next(r for r in results if r.cold_start).payload
    assert new["task_root"] == new["at_import"]["LAMBDA_TASK_ROOT"] == fixtures_dir


async def test_lambdas_own_variables_describe_the_context() -> None:
    rt = al.Runtime()

    def fn(event: object, context: al.LambdaContext) -> dict[str, Any]:
        env = {k: os.environ[k] for k in _LAMBDA_KEYS}
        env["stream matches"] = env["AWS_LAMBDA_LOG_STREAM_NAME"] == context.log_stream_name
        return env

    rt.add_function("orders", fn, memory_mb=1024)
    rt.publish_version("orders")
    async with rt:
        latest = (await rt.invoke("orders")).payload
        one = (await rt.invoke("orders", qualifier="1")).payload
    assert latest == {
        "AWS_LAMBDA_FUNCTION_NAME": "orders",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/orders",
        "AWS_LAMBDA_LOG_STREAM_NAME": latest["AWS_LAMBDA_LOG_STREAM_NAME"],
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "_HANDLER": f"{__name__}.test_lambdas_own_variables_describe_the_context.<locals>.fn",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info[0]}.{sys.version_info[1]}",
        "LAMBDA_TASK_ROOT": os.getcwd(),
        "stream matches": True,
    }
    assert one["AWS_LAMBDA_FUNCTION_VERSION"] == "1"
    assert "[1]" in one["AWS_LAMBDA_LOG_STREAM_NAME"]


async def test_initialization_type_is_provisioned_concurrency_for_provisioned_contexts() -> None:
    clock = al.VirtualClock()
    gate = asyncio.Event()
    rt = al.Runtime(clock=clock)

    async def fn(event: object, context: object) -> str:
        await gate.wait()
        return os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]

    rt.add_function("fn", fn)
    rt.create_alias("fn", "live", rt.publish_version("fn"))
    rt.put_provisioned_concurrency_config("fn", "live", 1)  # on the alias's version
    async with rt:
        tasks = [spawn(rt.invoke("fn", qualifier="live")) for _ in range(2)]  # one provisioned, one on demand
        await clock.settle()
        gate.set()
        kinds = sorted([(await t).payload for t in tasks])
    assert kinds == ["on-demand", "provisioned-concurrency"]


async def test_function_variable_shadows_the_process_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASYNCLAMBDA_TEST_PORT", "1111")
    monkeypatch.setenv("ASYNCLAMBDA_TEST_HOME", "/srv")
    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: [os.environ["ASYNCLAMBDA_TEST_PORT"],
                                        os.environ["ASYNCLAMBDA_TEST_HOME"]],
                    environment={"ASYNCLAMBDA_TEST_PORT": "2222"})
    async with rt:
        assert (await rt.invoke("fn")).payload == ["2222", "/srv"]
        assert os.environ["ASYNCLAMBDA_TEST_PORT"] == "1111"


async def test_writes_stay_in_their_execution_context() -> None:
    clock = al.VirtualClock()
    gate = asyncio.Event()
    rt = al.Runtime(clock=clock)

    async def fn(event: dict, context: al.LambdaContext) -> list[object]:
        if "set" in event:
            os.environ["CACHE_STATE"] = event["set"]
        if event.get("hold"):
            await gate.wait()
        return [os.environ.get("CACHE_STATE"), context.log_stream_name]

    rt.add_function("fn", fn)
    rt.add_function("other", lambda e, c: os.environ.get("CACHE_STATE"))
    async with rt:
        written, stream = (await rt.invoke("fn", {"set": "warm"})).payload
        assert written == "warm"
        assert os.environ.get("CACHE_STATE") is None  # the process never sees it
        assert (await rt.invoke("other")).payload is None  # nor does another function
        assert (await rt.invoke("fn")).payload == ["warm", stream]  # the same context does
        # Two at once: the second one runs in a new context, with a fresh overlay.
        tasks = [spawn(rt.invoke("fn", {"hold": True})) for _ in range(2)]
        await clock.settle()
        gate.set()
        seen = sorted([(await t).payload for t in tasks], key=lambda p: p[1] != stream)
    assert seen[0] == ["warm", stream]
    assert seen[1][0] is None and seen[1][1] != stream


async def test_deletes_stay_in_their_execution_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASYNCLAMBDA_TEST_PROC", "process")
    rt = al.Runtime()

    def fn(event: dict, context: object) -> dict[str, Any]:
        if event.get("delete"):
            del os.environ["TABLE_NAME"]
            assert os.environ.pop("ASYNCLAMBDA_TEST_PROC") == "process"
            try:
                del os.environ["TABLE_NAME"]
            except KeyError:
                pass
            else:
                raise AssertionError("deleted twice")
        return {"table": os.getenv("TABLE_NAME"), "proc": os.getenv("ASYNCLAMBDA_TEST_PROC"),
                "in": ["TABLE_NAME" in os.environ, "ASYNCLAMBDA_TEST_PROC" in os.environ],
                "listed": "ASYNCLAMBDA_TEST_PROC" in list(os.environ)}

    rt.add_function("fn", fn, environment={"TABLE_NAME": "orders"})
    async with rt:
        gone = (await rt.invoke("fn", {"delete": True}))
        assert gone.ok, gone.payload
        assert gone.payload == {"table": None, "proc": None, "in": [False, False],
                                "listed": False}
        assert (await rt.invoke("fn")).payload["proc"] is None  # still gone, warm
        assert os.environ["ASYNCLAMBDA_TEST_PROC"] == "process"  # never gone outside


async def test_non_string_writes_are_rejected_inside_a_context() -> None:
    rt = al.Runtime()

    def fn(event: object, context: object) -> None:
        os.environ["PORT"] = 8080  # type: ignore[assignment]

    rt.add_function("fn", fn)
    async with rt:
        r = await rt.invoke("fn")
    assert r.payload["errorType"] == "TypeError"
    assert "str expected, not int" in r.payload["errorMessage"]


async def test_iteration_len_and_copy_inside_and_outside() -> None:
    rt = al.Runtime()

    def fn(event: object, context: object) -> dict[str, Any]:
        return {"keys": sorted(os.environ), "len": len(os.environ),
                "copy": os.environ.copy().get("TABLE_NAME"), "dict": dict(os.environ)["TABLE_NAME"],
                "items": dict(os.environ.items()).get("TABLE_NAME")}

    rt.add_function("fn", fn, environment={"TABLE_NAME": "orders"})
    async with rt:
        inside = (await rt.invoke("fn")).payload
        outside_keys = set(os.environ)
        outside_len = len(os.environ)
        outside_copy = os.environ.copy()
    added = {"TABLE_NAME"} | _LAMBDA_KEYS
    assert set(inside["keys"]) == outside_keys | added
    assert inside["len"] == len(outside_keys | added) == len(inside["keys"])
    assert inside["copy"] == inside["dict"] == inside["items"] == "orders"
    assert outside_len == len(outside_keys) and not (added & outside_keys)
    assert "TABLE_NAME" not in outside_copy and isinstance(outside_copy, dict)


async def test_two_functions_see_their_own_value_of_one_variable_concurrently() -> None:
    clock = al.VirtualClock()
    gate = asyncio.Event()
    rt = al.Runtime(clock=clock)

    async def fn(event: object, context: object) -> list[str | None]:
        before = os.environ.get("TABLE_NAME")
        await gate.wait()  # both functions are mid-invocation here
        return [before, os.environ.get("TABLE_NAME")]

    rt.add_function("orders", fn, environment={"TABLE_NAME": "orders"})
    rt.add_function("users", fn, environment={"TABLE_NAME": "users"})
    async with rt:
        a, b = spawn(rt.invoke("orders")), spawn(rt.invoke("users"))
        await clock.settle()
        assert rt.statistics().concurrent_executions == 2
        gate.set()
        assert (await a).payload == ["orders", "orders"]
        assert (await b).payload == ["users", "users"]


async def test_isolate_environment_false_turns_the_overlay_off() -> None:
    rt = al.Runtime(isolate_environment=False)
    rt.add_function("fn", lambda e, c: [type(os.environ) is PLAIN_ENVIRON,
                                        os.environ.get("TABLE_NAME"),
                                        os.environ.get("AWS_LAMBDA_FUNCTION_NAME")],
                    environment={"TABLE_NAME": "orders"})
    async with rt:
        assert type(os.environ) is PLAIN_ENVIRON
        assert (await rt.invoke("fn")).payload == [True, None, None]


async def test_os_environ_is_the_plain_class_again_after_close() -> None:
    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: type(os.environ).__name__)
    assert type(os.environ) is PLAIN_ENVIRON
    async with rt:
        assert type(os.environ) is not PLAIN_ENVIRON
        assert (await rt.invoke("fn")).payload == "_ContextEnviron"
    assert type(os.environ) is PLAIN_ENVIRON
    assert os.environ is environ  # the same object throughout, only its class changed


async def test_overlay_stays_on_until_the_last_runtime_closes() -> None:
    outer, inner = al.Runtime(), al.Runtime()
    outer.add_function("fn", lambda e, c: os.getenv("TABLE_NAME"),
                       environment={"TABLE_NAME": "orders"})
    async with outer:
        async with inner:
            pass
        assert (await outer.invoke("fn")).payload == "orders"
    assert type(os.environ) is PLAIN_ENVIRON


async def test_subprocess_environment_is_the_process_one() -> None:
    # Documented: the C-level environment (what a subprocess inherits) is not overlaid.
    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: [os.environ["TABLE_NAME"],
                                        os.environb.get(b"TABLE_NAME")],
                    environment={"TABLE_NAME": "orders"})
    async with rt:
        assert (await rt.invoke("fn")).payload == ["orders", None]
