"""Bad input: every mistake a caller can make gets a clear error naming the field and the value."""

from __future__ import annotations

import asyncio
import base64
import math
from pathlib import Path
from typing import Any

import pytest
from helpers import spawn

import asynclambda as al

pytestmark = pytest.mark.anyio


def _handler(event: object, context: object) -> str:
    return "ok"


async def _init_failure(rt: al.Runtime, name: str, error_type: str,
                        message: str) -> al.InvocationResult:
    """Invoke ``name`` once, check Lambda's INIT failure result, and that no context was kept."""
    r = await rt.invoke(name)
    assert r.status_code == 200 and r.function_error == "Unhandled" and r.cold_start
    assert r.payload["errorType"] == error_type
    assert message in r.payload["errorMessage"]
    assert r.payload["requestId"] == r.request_id
    stats = rt.statistics().functions[name].versions["$LATEST"]
    assert (stats.invocations, stats.errors, stats.init_errors) == (1, 1, 1)
    assert (stats.contexts, stats.idle_contexts, stats.cold_starts) == (0, 0, 0)
    assert stats.concurrent_executions == 0
    return r


# -- unknown functions, versions, aliases -------------------------------------------------------

async def test_unknown_function_is_resource_not_found_with_its_arn() -> None:
    rt = al.Runtime()
    async with rt:
        with pytest.raises(al.ResourceNotFoundException) as info:
            await rt.invoke("orders")
    err = info.value
    assert str(err) == "Function not found: arn:aws:lambda:us-east-1:000000000000:function:orders"
    assert err.status_code == 404 and err.error_type == "ResourceNotFoundException"
    assert isinstance(err, LookupError)


async def test_unknown_qualifier_and_alias_are_resource_not_found() -> None:
    rt = al.Runtime()
    rt.add_function("fn", _handler)
    rt.publish_version("fn")
    rt.create_alias("fn", "prod", "1")
    async with rt:
        with pytest.raises(al.ResourceNotFoundException, match=r"function:fn:7$"):
            await rt.invoke("fn", qualifier="7")
        with pytest.raises(al.ResourceNotFoundException, match=r"function:fn:staging$"):
            await rt.invoke("fn", qualifier="staging")
        with pytest.raises(al.ResourceNotFoundException, match=r"function:fn:staging$"):
            await rt.invoke("fn:staging")
        assert (await rt.invoke("fn", qualifier="prod")).ok  # the real ones still resolve


async def test_unknown_function_by_arn_is_resource_not_found() -> None:
    rt = al.Runtime()
    rt.add_function("fn", _handler)
    async with rt:
        with pytest.raises(al.ResourceNotFoundException, match="function:nope"):
            await rt.invoke("arn:aws:lambda:us-east-1:000000000000:function:nope")
        with pytest.raises(al.ResourceNotFoundException, match="function:fn:9"):
            await rt.invoke("arn:aws:lambda:us-east-1:000000000000:function:fn:9")
        with pytest.raises(al.ResourceNotFoundException):
            await rt.invoke("arn:aws:lambda:us-east-1:000000000000:layer:fn")  # not a function ARN


async def test_arn_of_another_region_or_account_is_resource_not_found() -> None:
    rt = al.Runtime()
    rt.add_function("fn", _handler)
    async with rt:
        with pytest.raises(al.ResourceNotFoundException):
            await rt.invoke("arn:aws:lambda:eu-west-1:123456789012:function:fn")


async def test_partial_arn_resolves_like_lambdas() -> None:
    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: c.function_name)
    async with rt:
        assert (await rt.invoke("000000000000:function:fn")).payload == "fn"


async def test_function_name_that_is_not_a_string_is_a_clear_error() -> None:
    rt = al.Runtime()
    async with rt:
        with pytest.raises(al.AsyncLambdaError, match="123"):
            await rt.invoke(123)  # type: ignore[arg-type]


# -- configuration ------------------------------------------------------------------------------

_BIG_ENV = {"BLOB": "x" * 4093}  # 4 + 4093 = 4097 bytes

#: (keyword arguments to add_function, the field the error names, the value it shows)
CONFIG_CASES: list[Any] = [
    pytest.param({"name": "f" * 65}, "name", "f" * 65, id="name-too-long"),
    pytest.param({"name": ""}, "name", "", id="name-empty"),
    pytest.param({"name": "bad name"}, "name", "bad name", id="name-space"),
    pytest.param({"name": "fn.v2"}, "name", "fn.v2", id="name-dot"),
    pytest.param({"name": 5}, "name", 5, id="name-not-str"),
    pytest.param({"timeout": 0}, "timeout", 0, id="timeout-0"),
    pytest.param({"timeout": 901}, "timeout", 901, id="timeout-901"),
    pytest.param({"timeout": "3"}, "timeout", "3", id="timeout-str"),
    pytest.param({"timeout": math.nan}, "timeout", math.nan, id="timeout-nan"),
    pytest.param({"timeout": math.inf}, "timeout", math.inf, id="timeout-inf"),
    pytest.param({"timeout": True}, "timeout", True, id="timeout-bool"),
    pytest.param({"memory_mb": 127}, "memory_mb", 127, id="memory-127"),
    pytest.param({"memory_mb": 10241}, "memory_mb", 10241, id="memory-10241"),
    pytest.param({"memory_mb": 128.5}, "memory_mb", 128.5, id="memory-fraction"),
    pytest.param({"memory_mb": "128"}, "memory_mb", "128", id="memory-str"),
    pytest.param({"ephemeral_storage_mb": 511}, "ephemeral_storage_mb", 511, id="storage-511"),
    pytest.param({"ephemeral_storage_mb": 10241}, "ephemeral_storage_mb", 10241,
                 id="storage-10241"),
    pytest.param({"ephemeral_storage_mb": 600.5}, "ephemeral_storage_mb", 600.5,
                 id="storage-fraction"),
    pytest.param({"reserved_concurrency": -1}, "reserved_concurrency", -1, id="reserved-neg"),
    pytest.param({"reserved_concurrency": 1.5}, "reserved_concurrency", 1.5,
                 id="reserved-fraction"),
    pytest.param({"provisioned_concurrency": -1}, "provisioned_concurrency", -1,
                 id="provisioned-neg"),
    pytest.param({"reserved_concurrency": 1, "provisioned_concurrency": 2},
                 "provisioned_concurrency", 2, id="provisioned-over-reserved"),
    pytest.param({"keep_alive": -1}, "keep_alive", -1, id="keep-alive-neg"),
    pytest.param({"keep_alive": "10"}, "keep_alive", "10", id="keep-alive-str"),
    pytest.param({"init_timeout": 0}, "init_timeout", 0, id="init-timeout-0"),
    pytest.param({"init": "connect"}, "init", "connect", id="init-not-callable"),
    pytest.param({"shutdown": 3}, "shutdown", 3, id="shutdown-not-callable"),
    pytest.param({"recursive_loop": "Stop"}, "recursive_loop", "Stop", id="recursive-loop"),
    pytest.param({"description": "d" * 257}, "description", "d" * 257, id="description-long"),
    pytest.param({"description": 5}, "description", 5, id="description-not-str"),
    pytest.param({"environment": {"1TABLE": "x"}}, "environment", "1TABLE", id="env-key-digit"),
    pytest.param({"environment": {"TABLE-NAME": "x"}}, "environment", "TABLE-NAME",
                 id="env-key-dash"),
    pytest.param({"environment": {"AWS_REGION": "eu-west-1"}}, "environment['AWS_REGION']",
                 "eu-west-1", id="env-reserved-region"),
    pytest.param({"environment": {"AWS_LAMBDA_FUNCTION_NAME": "x"}},
                 "environment['AWS_LAMBDA_FUNCTION_NAME']", "x", id="env-reserved-function-name"),
    pytest.param({"environment": {"_HANDLER": "x"}}, "environment", "_HANDLER",
                 id="env-reserved-underscore"),
    pytest.param({"environment": {"PORT": 8080}}, "environment['PORT']", 8080,
                 id="env-value-not-str"),
    pytest.param({"environment": _BIG_ENV}, "environment", "4097 bytes", id="env-over-4kb"),
    pytest.param({"environment": ["TABLE"]}, "environment", ["TABLE"], id="env-not-mapping"),
    pytest.param({"timout": 3}, "timout", 3, id="unknown-keyword"),
    pytest.param({"handler": 42}, "handler", 42, id="handler-not-callable"),
    pytest.param({"handler": "lambda_handler"}, "handler", "lambda_handler",
                 id="handler-no-module"),
    pytest.param({"handler": "app.lambda-handler"}, "handler", "app.lambda-handler",
                 id="handler-function-not-identifier"),
    pytest.param({"handler": "app. handler"}, "handler", "app. handler", id="handler-space"),
    pytest.param({"handler": "app.handler", "code_dir": "/no/such/dir"}, "code_dir",
                 "/no/such/dir", id="code-dir-missing"),
    pytest.param({"layers": ["/no/such/layer"]}, "layers", "/no/such/layer", id="layer-missing"),
    pytest.param({"layers": "/tmp"}, "layers", "/tmp", id="layers-not-a-list"),
    pytest.param({"code_dir": "/tmp"}, "code_dir", "/tmp", id="code-dir-with-callable"),
    pytest.param({"handler": ":handler"}, "handler", ":handler", id="handler-colon-no-module"),
    pytest.param({"handler": "app:"}, "handler", "app:", id="handler-no-attribute"),
]


@pytest.mark.parametrize(("config", "field", "value"), CONFIG_CASES)
def test_invalid_function_config_names_field_and_value(config: dict[str, Any], field: str,
                                                       value: object) -> None:
    config = dict(config)
    name = config.pop("name", "fn")
    handler = config.pop("handler", _handler)
    rt = al.Runtime()
    with pytest.raises(al.ConfigError) as info:
        rt.add_function(name, handler, **config)
    err = info.value
    assert err.field == field
    assert repr(err.value) == repr(value)  # repr: nan != nan
    assert str(err).startswith(f"invalid {field}={value!r}: ")
    assert err.reason and isinstance(err, ValueError)
    assert rt.functions() == []  # nothing half-registered


def test_function_config_validates_when_built_directly() -> None:
    with pytest.raises(al.ConfigError, match=r"^invalid timeout=901: must be at least"):
        al.FunctionConfig(name="fn", handler=_handler, timeout=901)


def test_decorator_validates_like_add_function() -> None:
    rt = al.Runtime()
    with pytest.raises(al.ConfigError, match=r"invalid memory_mb=64"):

        @rt.function(memory_mb=64)
        async def fn(event: object, context: object) -> None: ...

    assert rt.functions() == []


def test_update_function_validates_the_new_config() -> None:
    rt = al.Runtime()
    rt.add_function("fn", _handler, timeout=5)
    with pytest.raises(al.ConfigError, match=r"^invalid timeout=0: "):
        rt.update_function("fn", timeout=0)
    with pytest.raises(al.ResourceNotFoundException, match="function:nope"):
        rt.update_function("nope", timeout=1)
    assert rt.get_function("fn").timeout == 5  # unchanged


def test_update_function_unknown_keyword_is_a_config_error() -> None:
    rt = al.Runtime()
    rt.add_function("fn", _handler)
    with pytest.raises(al.ConfigError, match=r"^invalid timout=3: is not a function"):
        rt.update_function("fn", timout=3)


def test_update_function_cannot_rename() -> None:
    rt = al.Runtime()
    rt.add_function("fn", _handler)
    with pytest.raises(al.ConfigError, match=r"^invalid name='other': cannot be changed"):
        rt.update_function("fn", name="other")  # type: ignore[misc]


@pytest.mark.parametrize(("kwargs", "field"), [
    pytest.param({"concurrency_limit": 0}, "concurrency_limit", id="concurrency-0"),
    pytest.param({"concurrency_limit": -5}, "concurrency_limit", id="concurrency-neg"),
    pytest.param({"concurrency_limit": 10.5}, "concurrency_limit", id="concurrency-fraction"),
    pytest.param({"concurrency_limit": True}, "concurrency_limit", id="concurrency-bool"),
    pytest.param({"keep_alive": -1}, "keep_alive", id="keep-alive-neg"),
    pytest.param({"keep_alive": "600"}, "keep_alive", id="keep-alive-str"),
    pytest.param({"shutdown_grace": -1}, "shutdown_grace", id="grace-neg"),
    pytest.param({"shutdown_grace": None}, "shutdown_grace", id="grace-none"),
])
def test_invalid_runtime_parameters_name_field_and_value(kwargs: dict[str, Any],
                                                         field: str) -> None:
    (value,) = kwargs.values()
    with pytest.raises(al.ConfigError) as info:
        al.Runtime(**kwargs)
    assert info.value.field == field
    assert str(info.value).startswith(f"invalid {field}={value!r}: ")


def test_reservation_over_the_runtime_limit_names_the_numbers() -> None:
    rt = al.Runtime(concurrency_limit=10, unreserved_concurrency_minimum=0)
    rt.add_function("a", _handler, reserved_concurrency=8)
    with pytest.raises(al.ConfigError, match=r"invalid reserved_concurrency=3: .*limit is 10, "
                                             r"8 is already reserved"):
        rt.add_function("b", _handler, reserved_concurrency=3)


def test_duplicate_function_name_is_a_conflict() -> None:
    rt = al.Runtime()
    rt.add_function("fn", _handler)
    with pytest.raises(al.ResourceConflictException, match="fn") as info:
        rt.add_function("fn", lambda e, c: "other")
    assert info.value.status_code == 409
    with pytest.raises(al.ResourceConflictException):

        @rt.function
        def fn(event: object, context: object) -> None: ...


# -- payloads -----------------------------------------------------------------------------------

async def test_non_json_bytes_payload_is_invalid_request_content() -> None:
    ran: list[object] = []
    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: ran.append(e))
    async with rt:
        for raw in (b"{not json", b"", b'{"a": 1} trailing', b"\xff\xfe"):
            with pytest.raises(al.InvalidRequestContentException,
                               match="Could not parse request body into json") as info:
                await rt.invoke("fn", raw)
            assert info.value.status_code == 400
    assert ran == []  # rejected before any handler ran


@pytest.mark.parametrize("payload", [object(), {"nested": [1, object()]}],
                         ids=["object", "nested-object"])
async def test_unencodable_payload_names_the_type(payload: object) -> None:
    rt = al.Runtime()
    rt.add_function("fn", _handler)
    async with rt:
        with pytest.raises(al.InvalidRequestContentException,
                           match=r"Could not serialize request payload: .*type object"):
            await rt.invoke("fn", payload)


@pytest.mark.parametrize("payload", [{"b", "a"}, {"tags": frozenset({"x"})}],
                         ids=["set", "nested-frozenset"])
async def test_set_payload_is_invalid_request_content(payload: object) -> None:
    rt = al.Runtime()
    rt.add_function("fn", _handler)
    async with rt:
        with pytest.raises(al.InvalidRequestContentException, match="set"):
            await rt.invoke("fn", payload)


async def test_payload_over_6_mb_is_request_too_large_and_states_the_limit() -> None:
    limit = 6 * 1024 * 1024
    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: len(e))
    async with rt:
        # Lambda: "Request must be *smaller than* 6291456 bytes". One byte under: accepted.
        assert (await rt.invoke("fn", "x" * (limit - 3))).payload == limit - 3
        # Exactly 6291456 bytes (limit - 2 characters plus the quotes) is over it.
        for payload in ("x" * (limit - 2), b'"' + b"x" * limit + b'"'):
            with pytest.raises(al.RequestTooLargeException) as info:
                await rt.invoke("fn", payload)
            assert "Request must be smaller than 6291456 bytes for the Invoke operation" in str(
                info.value)
            assert info.value.status_code == 413


async def test_unserialisable_nested_object_in_response_is_a_marshal_error() -> None:
    class Money:
        pass

    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: {"order": {"lines": [{"price": Money()}]}})
    async with rt:
        r = await rt.invoke("fn")
        assert r.status_code == 200 and r.function_error == "Unhandled"
        assert r.payload["errorType"] == "Runtime.MarshalError"
        assert r.payload["errorMessage"] == (
            "Unable to marshal response: Object of type Money is not JSON serializable")
        # A marshal error is the function's failure, not the context's: it stays warm.
        assert not (await rt.invoke("fn")).cold_start


async def test_set_in_response_is_a_marshal_error() -> None:
    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: {"tags": {"a", "b"}})
    async with rt:
        r = await rt.invoke("fn")
    assert r.function_error == "Unhandled"
    assert r.payload["errorType"] == "Runtime.MarshalError"
    assert r.payload["errorMessage"] == (
        "Unable to marshal response: Object of type set is not JSON serializable")


# -- handler strings and INIT failures ------------------------------------------------------------

async def test_missing_module_is_import_module_error_naming_it() -> None:
    rt = al.Runtime()
    rt.add_function("fn", "no_such_module_for_asynclambda:handler")
    async with rt:
        r = await _init_failure(rt, "fn", "Runtime.ImportModuleError",
                                "Unable to import module 'no_such_module_for_asynclambda': "
                                "No module named 'no_such_module_for_asynclambda'")
    assert r.payload["stackTrace"] == []


async def test_missing_handler_file_is_import_module_error(tmp_path: Path) -> None:
    path = tmp_path / "gone" / "app.py"
    rt = al.Runtime()
    rt.add_function("fn", f"{path}:handler")
    async with rt:
        r = await _init_failure(rt, "fn", "Runtime.ImportModuleError",
                                "Unable to import module 'app'")
    assert str(path) in r.payload["errorMessage"]


async def test_import_error_in_module_body_is_import_module_error(fixtures_dir: str) -> None:
    rt = al.Runtime()
    rt.add_function("fn", f"{fixtures_dir}/broken_import.py:handler")
    async with rt:
        await _init_failure(rt, "fn", "Runtime.ImportModuleError",
                            "Unable to import module 'broken_import': "
                            "No module named 'this_module_does_not_exist'")


async def test_missing_attribute_is_handler_not_found_naming_it(fixtures_dir: str) -> None:
    rt = al.Runtime()
    rt.add_function("fn", f"{fixtures_dir}/counter_handler.py:lambda_handler")
    async with rt:
        await _init_failure(rt, "fn", "Runtime.HandlerNotFound",
                            "Handler 'lambda_handler' missing on module 'counter_handler'")


async def test_attribute_that_is_not_callable_is_handler_not_found(fixtures_dir: str) -> None:
    rt = al.Runtime()
    rt.add_function("fn", f"{fixtures_dir}/counter_handler.py:TABLE")
    async with rt:
        await _init_failure(rt, "fn", "Runtime.HandlerNotFound", "'TABLE'")


async def test_syntax_error_is_user_code_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "typo.py"
    path.write_text("def handler(event, context)\n    return 1\n")
    rt = al.Runtime()
    rt.add_function("fn", f"{path}:handler")
    async with rt:
        r = await _init_failure(rt, "fn", "Runtime.UserCodeSyntaxError",
                                "Syntax error in module 'typo'")
    assert any(str(path) in line and "Line 1" in line for line in r.payload["stackTrace"])


async def test_exception_in_module_body_is_init_error(fixtures_dir: str) -> None:
    rt = al.Runtime()
    rt.add_function("fn", f"{fixtures_dir}/raises_at_import.py:handler")
    async with rt:
        # As the AWS Python runtime reports it: the exception's class name and str(exc).
        r = await _init_failure(rt, "fn", "RuntimeError", "cannot connect to the database")
    assert r.payload["errorMessage"] == "cannot connect to the database"
    assert any("raises_at_import.py" in line for line in r.payload["stackTrace"])


async def test_failed_load_fails_every_cold_start_and_keeps_no_context(fixtures_dir: str) -> None:
    rt = al.Runtime()
    rt.add_function("fn", f"{fixtures_dir}/raises_at_import.py:handler")
    async with rt:
        for _ in range(3):
            r = await rt.invoke("fn")
            assert r.payload["errorType"] == "RuntimeError" and r.cold_start
    stats = rt.statistics().functions["fn"].versions["$LATEST"]
    assert (stats.init_errors, stats.contexts_created, stats.contexts) == (3, 3, 0)
    assert stats.contexts_reset == 0  # a failed INIT is not a reset of a working context


async def test_init_hook_that_raises_is_init_error_and_next_invoke_is_cold() -> None:
    calls: list[int] = []

    def init(info: object) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("database unreachable")
        return "connected"

    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: c.state, init=init)
    async with rt:
        r = await _init_failure(rt, "fn", "ConnectionError", "database unreachable")
        assert any("database unreachable" in line for line in r.payload["stackTrace"])
        again = await rt.invoke("fn")
    assert again.ok and again.cold_start and again.payload == "connected"
    stats = rt.statistics().functions["fn"].versions["$LATEST"]
    assert (stats.contexts_created, stats.cold_starts, stats.init_errors) == (2, 1, 1)


async def test_init_over_its_limit_is_retried_in_the_first_invoke_and_times_out_there() -> None:
    """Lambda's suppressed init: an on-demand INIT that overruns (here 2.5 s) is retried inside
    the first invoke, under the function's timeout (3 s); overrunning that too is the invoke's
    ``Sandbox.Timedout``. The hook is cancelled both times."""
    clock = al.VirtualClock()
    cancelled: list[float] = []

    async def init(info: object) -> None:
        try:
            await clock.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(clock.now())
            raise

    rt = al.Runtime(clock=clock)
    rt.add_function("fn", _handler, init=init, init_timeout=2.5)
    async with rt:
        task = spawn(_init_failure(rt, "fn", "Sandbox.Timedout",
                                   "Task timed out after 3.00 seconds"))
        await clock.advance(5.499)
        assert not task.done()
        await clock.advance(0.001)
        await task
    assert cancelled == [2.5, 5.5]
    stats = rt.statistics().functions["fn"].versions["$LATEST"]
    assert (stats.contexts_created, stats.timeouts) == (2, 1)


async def test_suppressed_init_succeeds_within_the_function_timeout() -> None:
    clock = al.VirtualClock()
    inits: list[float] = []

    async def init(info: object) -> str:
        inits.append(clock.now())
        if len(inits) == 1:
            await clock.sleep(11)  # past Lambda's 10 s INIT limit
        else:
            await clock.sleep(4)  # the retry fits in the 30 s function timeout
        return "ready"

    rt = al.Runtime(clock=clock)
    rt.add_function("fn", lambda e, c: [c.state, c.get_remaining_time_in_millis()],
                    init=init, timeout=30)
    async with rt:
        task = spawn(rt.invoke("fn"))
        await clock.advance(10)  # INIT times out; retried at once
        await clock.advance(4)
        r = await task
    assert inits == [0.0, 10.0]
    # The retried INIT used 4 s of the 30 s timeout: the handler has 26 s left.
    assert r.ok and r.payload == ["ready", 26_000]


async def test_init_timeout_defaults_to_lambdas_10_seconds() -> None:
    clock = al.VirtualClock()
    started: list[float] = []

    async def init(info: object) -> None:
        started.append(clock.now())
        await clock.sleep(11)

    rt = al.Runtime(clock=clock)
    rt.add_function("fn", _handler, init=init)
    async with rt:
        task = spawn(rt.invoke("fn"))
        await clock.advance(9.999)
        assert started == [0.0]
        await clock.advance(0.001)
        assert started == [0.0, 10.0]  # the 10 s limit passed: INIT is retried
        await clock.advance(3)
        r = await task
    assert r.payload["errorType"] == "Sandbox.Timedout"


async def test_provisioned_init_limit_is_130_seconds_or_the_timeout() -> None:
    """Lambda: provisioned concurrency's INIT may take max(130 s, the function timeout)."""
    clock = al.VirtualClock()

    async def init(info: object) -> str:
        await clock.sleep(100)  # far past 10 s, within 130 s
        return "warm"

    rt = al.Runtime(clock=clock)
    rt.add_function("fn", lambda e, c: c.state, init=init)
    rt.publish_version("fn", provisioned_concurrency=1)
    starting = spawn(rt.start(background=True))  # started in one task, closed from another
    await clock.advance(100)
    await starting
    try:
        r = await rt.invoke("fn", qualifier="1")
        assert r.ok and r.payload == "warm" and not r.cold_start
    finally:
        await rt.aclose()


# -- runtime state and invoke parameters ---------------------------------------------------------

async def test_invoke_before_start_says_how_to_start() -> None:
    rt = al.Runtime()
    rt.add_function("fn", _handler)
    with pytest.raises(al.RuntimeClosedError, match=r"not started: use 'async with runtime:'"):
        await rt.invoke("fn")


async def test_invoke_after_close_is_runtime_closed() -> None:
    rt = al.Runtime()
    rt.add_function("fn", _handler)
    async with rt:
        assert (await rt.invoke("fn")).ok
    with pytest.raises(al.RuntimeClosedError,
                       match="the runtime is closed: it accepts no new invocations") as info:
        await rt.invoke("fn")
    assert isinstance(info.value, RuntimeError)


async def test_starting_twice_is_an_error() -> None:
    rt = al.Runtime()
    async with rt:
        with pytest.raises(al.RuntimeClosedError, match=r"already started \(it is running\)"):
            await rt.start()
        assert rt.running  # the failed second start left the runtime running
    with pytest.raises(al.RuntimeClosedError, match=r"already started \(it is closed\)"):
        await rt.start()


@pytest.mark.parametrize("invocation_type", ["requestresponse", "Async", ""])
async def test_unsupported_invocation_type_is_a_clear_error(invocation_type: str) -> None:
    ran: list[object] = []
    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: ran.append(e))
    async with rt:
        with pytest.raises(al.InvalidRequestContentException,
                           match=f"invocation_type {invocation_type!r} is not supported"):
            await rt.invoke("fn", invocation_type=invocation_type)  # type: ignore[arg-type]
    assert ran == []


@pytest.mark.parametrize("client_context", [
    pytest.param("not base64!", id="not-base64"),
    pytest.param(base64.b64encode(b"{not json").decode(), id="base64-not-json"),
    pytest.param(base64.b64encode(b"[1, 2]").decode(), id="base64-json-array"),
])
async def test_bad_client_context_string_is_invalid_request_content(client_context: str) -> None:
    ran: list[object] = []
    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: ran.append(e))
    async with rt:
        with pytest.raises(al.InvalidRequestContentException, match="Client context must be"):
            await rt.invoke("fn", client_context=client_context)
    assert ran == []


async def test_client_context_in_lambdas_wire_form_reaches_the_handler() -> None:
    rt = al.Runtime()
    rt.add_function("fn", lambda e, c: [c.client_context.custom, c.client_context.env])
    wire = base64.b64encode(b'{"custom": {"tenant": "t1"}, "env": {"locale": "en"}}').decode()
    async with rt:
        r = await rt.invoke("fn", client_context=wire)
    assert r.payload == [{"tenant": "t1"}, {"locale": "en"}]
