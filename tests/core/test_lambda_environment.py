"""Real Lambda handlers find Lambda's environment: region variables, the execution environment,
Lambda's ``module.function`` handler syntax with a code directory, and layers."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

import asynclambda as al

pytestmark = pytest.mark.anyio

SAM_APP = Path(__file__).parent.parent / "fixtures" / "sam_app"


def _env(event: object, context: object) -> dict[str, Any]:
    return {k: os.environ.get(k) for k in ("AWS_REGION", "AWS_DEFAULT_REGION",
                                            "AWS_EXECUTION_ENV")}


async def test_region_variables_default_to_us_east_1_as_lambda_sets_them() -> None:
    rt = al.Runtime()
    rt.add_function("fn", _env)
    async with rt:
        r = await rt.invoke("fn")
    assert r.payload == {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
                         "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info[0]}."
                                              f"{sys.version_info[1]}"}


async def test_region_follows_the_hosts_aws_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    rt = al.Runtime()
    assert rt.region == "ap-south-1"
    monkeypatch.setenv("AWS_REGION", "eu-central-1")  # AWS_REGION wins, as in botocore
    assert al.Runtime().region == "eu-central-1"


async def test_runtime_region_sets_the_variables_and_every_arn() -> None:
    rt = al.Runtime(region="eu-west-1")

    def fn(event: object, context: al.LambdaContext) -> list[Any]:
        return [os.environ["AWS_REGION"], os.environ["AWS_DEFAULT_REGION"],
                context.invoked_function_arn]

    rt.add_function("fn", fn)
    async with rt:
        r = await rt.invoke("arn:aws:lambda:eu-west-1:000000000000:function:fn")
    assert r.payload == ["eu-west-1", "eu-west-1",
                         "arn:aws:lambda:eu-west-1:000000000000:function:fn"]


def test_aws_region_in_environment_is_refused_and_says_where_it_goes() -> None:
    rt = al.Runtime()
    with pytest.raises(al.ConfigError, match=r"AWS_REGION.*Runtime\(region=") as info:
        rt.add_function("fn", _env, environment={"AWS_REGION": "eu-west-1"})
    assert info.value.field == "environment['AWS_REGION']"


@pytest.mark.parametrize("region", ["", "EU WEST", 5])
def test_bad_region_names_the_field(region: Any) -> None:
    with pytest.raises(al.ConfigError, match="region"):
        al.Runtime(region=region)


async def test_module_level_boto3_client_in_a_sam_handler_initialises() -> None:
    """What every SAM template says: ``Handler: app.lambda_handler`` with ``CodeUri``."""
    rt = al.Runtime(region="eu-north-1")
    rt.add_function("HelloWorldFunction", "app.lambda_handler",
                    code_dir=str(SAM_APP / "hello_world"))
    async with rt:
        r = await rt.invoke("HelloWorldFunction", {})
    assert r.ok, r.payload
    body = json.loads(r.payload["body"])
    assert body == {"message": "hello world", "region": "eu-north-1",
                    "handler": "app.lambda_handler",
                    "task_root": str(SAM_APP / "hello_world")}


async def test_path_style_handler_with_a_layer_and_relative_imports() -> None:
    rt = al.Runtime()
    rt.add_function("orders", "src/orders/app.handler", code_dir=str(SAM_APP),
                    layers=[str(SAM_APP / "layer")])
    async with rt:
        r = await rt.invoke("orders", {"name": "Ada"})
    assert r.payload == {"greeting": "hello Ada", "model": "orders-model",
                         "module": "src.orders.app"}


async def test_two_functions_with_the_same_module_name_load_their_own_code(
        tmp_path: Path) -> None:
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.py").write_text(
            f"def lambda_handler(event, context):\n    return {name!r}\n")
    rt = al.Runtime()
    rt.add_function("one", "app.lambda_handler", code_dir=str(tmp_path / "one"))
    rt.add_function("two", "app.lambda_handler", code_dir=str(tmp_path / "two"))
    async with rt:
        assert (await rt.invoke("one")).payload == "one"
        assert (await rt.invoke("two")).payload == "two"


async def test_missing_module_in_the_code_dir_is_import_module_error(tmp_path: Path) -> None:
    rt = al.Runtime()
    rt.add_function("fn", "nothere.lambda_handler", code_dir=str(tmp_path))
    async with rt:
        r = await rt.invoke("fn")
    assert r.payload["errorType"] == "Runtime.ImportModuleError"
    assert "Unable to import module 'nothere'" in r.payload["errorMessage"]


async def test_builtin_module_name_is_a_conflict(tmp_path: Path) -> None:
    rt = al.Runtime()
    rt.add_function("fn", "sys.lambda_handler", code_dir=str(tmp_path))
    async with rt:
        r = await rt.invoke("fn")
    assert r.payload["errorType"] == "Runtime.BuiltInModuleConflict"


# -- INIT of a Lambda module runs on its context's own thread ---------------------------------------

MODULES = Path(__file__).parent.parent / "fixtures" / "lambda_modules"


async def test_module_level_asyncio_run_and_get_event_loop_work_in_a_lambda_module() -> None:
    rt = al.Runtime()
    rt.add_function("fn", "loop_at_import.lambda_handler", code_dir=str(MODULES))
    async with rt:
        r = await rt.invoke("fn")
        again = await rt.invoke("fn")
    assert r.ok, r.payload
    # The module body ran on the thread that runs the handler (Lambda's runtime thread).
    assert r.payload == again.payload == {"warm": "warmed", "same_thread": True,
                                          "loop_usable": "warmed"}


# -- handler modules in sys.modules, per context ----------------------------------------------------

async def test_pickling_a_module_level_class_does_not_rerun_the_module_body() -> None:
    rt = al.Runtime()
    rt.add_function("fn", "pickling.lambda_handler", code_dir=str(MODULES))
    async with rt:
        first, second = await asyncio.gather(rt.invoke("fn", {"n": 1}), rt.invoke("fn", {"n": 2}))
        warm = await rt.invoke("fn", {"n": 3})
        assert rt.statistics().functions["fn"].versions["$LATEST"].contexts == 2
    for r in (first, second, warm):
        # One module body per context, its own class, and sys.modules routes to it.
        assert r.payload == {"n": r.payload["n"], "same_class": True, "loads": 1,
                             "me_is_mine": True}
    assert "pickling" not in sys.modules  # given back when the runtime closed


async def test_sys_modules_never_shows_one_context_anothers_module() -> None:
    rt = al.Runtime()
    rt.add_function("fn", "pickling.lambda_handler", code_dir=str(MODULES))
    seen: list[Any] = []

    async def probe(event: object, context: object) -> None:
        seen.append(getattr(sys.modules["pickling"], "Order", None))

    rt.add_function("other", probe)
    async with rt:
        await rt.invoke("fn", {"n": 1})
        await rt.invoke("other")
        router = sys.modules["pickling"]
        with pytest.raises(AttributeError):
            router.Order  # noqa: B018 - host code, outside every context: no instance to show
        assert router.__name__ == "pickling"
    assert seen == [None]


# -- the context object is a plain object -------------------------------------------------------------

_LAMBDA_ATTRIBUTES = {"aws_request_id", "log_group_name", "log_stream_name", "function_name",
                      "memory_limit_in_mb", "function_version", "invoked_function_arn",
                      "tenant_id", "client_context", "identity"}


async def test_context_object_is_plain_and_serialises_to_lambdas_attributes_only() -> None:
    import pickle

    import jsonpickle

    rt = al.Runtime()
    rt.add_function("secret", _env, environment={"DB_PASSWORD": "hunter2"})

    def fn(event: object, context: al.LambdaContext) -> list[Any]:
        context.custom = "a handler may set its own attributes, as on Lambda"  # type: ignore[attr-defined]
        text = jsonpickle.encode(context, keys=True)
        clone = pickle.loads(pickle.dumps(context))
        return [sorted(vars(context)), text, clone.aws_request_id, context.tenant_id]

    rt.add_function("fn", fn, environment={"TABLE": "orders"})
    async with rt:
        await rt.invoke("secret")
        r = await rt.invoke("fn", tenant_id="tenant-7")
    names, text, cloned_id, tenant = r.payload
    assert set(names) == _LAMBDA_ATTRIBUTES | {"cold_start", "attempt", "custom"}
    assert len(text) < 2048, len(text)
    assert "hunter2" not in text and "orders" not in text and "Runtime" not in text
    assert cloned_id == r.request_id and tenant == "tenant-7"


# -- threads a handler starts see its environment ----------------------------------------------------

async def test_threads_and_executors_a_handler_starts_see_its_environment() -> None:
    import concurrent.futures
    import threading

    shared = concurrent.futures.ThreadPoolExecutor(max_workers=1)  # the host's pool, shared

    def read() -> str | None:
        return os.environ.get("TABLE")

    def fn(event: object, context: object) -> list[Any]:
        box: list[Any] = []
        t = threading.Thread(target=lambda: box.append(read()))
        t.start()
        t.join()
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            pooled = pool.submit(read).result()
        return [box[0], pooled, shared.submit(read).result()]

    async def afn(event: object, context: object) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, read)

    rt = al.Runtime()
    rt.add_function("orders", fn, environment={"TABLE": "orders"})
    rt.add_function("users", fn, environment={"TABLE": "users"})
    rt.add_function("async", afn, environment={"TABLE": "async"})
    try:
        async with rt:
            assert (await rt.invoke("orders")).payload == ["orders"] * 3
            # The shared pool's worker thread was started from the first context's job: it
            # must not carry that context's environment into the next one.
            assert (await rt.invoke("users")).payload == ["users"] * 3
            assert (await rt.invoke("async")).payload == "async"
        assert shared.submit(read).result() is None  # outside every context: the process's
    finally:
        shared.shutdown()
