"""Real Lambda handlers find Lambda's environment: region variables, the execution environment,
Lambda's ``module.function`` handler syntax with a code directory, and layers."""

from __future__ import annotations

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
