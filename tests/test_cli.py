"""The asynclambda command: invoke and run, and their errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GREETER = "docs/examples/handlers/greeter.py:lambda_handler"


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "asynclambda", *args], cwd=ROOT, input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_invoke_prints_the_response_and_reports_cold_then_warm() -> None:
    proc = cli("invoke", GREETER, "--payload", '{"name": "Ada"}', "--repeat", "2",
               "--env", "GREETING=Hi")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["message"] for line in lines] == ["Hi, Ada!", "Hi, Ada!"]
    assert [line["served_by_this_context"] for line in lines] == [1, 2]  # warm reuse
    reports = [line for line in proc.stderr.splitlines() if line.startswith("REPORT")]
    assert len(reports) == 2
    assert "Init Duration" in reports[0] and "Init Duration" not in reports[1]


def test_invoke_payload_from_file_and_stdin(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"name": "File"}')
    assert "File" in cli("invoke", GREETER, "--payload", f"@{event}").stdout
    assert "Stdin" in cli("invoke", GREETER, "--payload", "@-", stdin='{"name": "Stdin"}').stdout


def test_invoke_function_error_exits_1(tmp_path: Path) -> None:
    handler = tmp_path / "failing.py"
    handler.write_text("def handler(event, context):\n    raise KeyError('order')\n")
    proc = cli("invoke", f"{handler}:handler", "--loop", "asyncio")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["errorType"] == "KeyError"


@pytest.mark.parametrize(("args", "message"), [
    (("invoke", GREETER, "--payload", "{not json"), "--payload is not valid JSON"),
    (("invoke", GREETER, "--payload", "@/no/such/file.json"), "--payload @/no/such/file.json"),
    (("invoke", GREETER, "--timeout", "0"), "invalid timeout=0.0"),
    (("invoke", GREETER, "--env", "NOEQUALS"), "expected KEY=VALUE"),
    (("run", "no/such/app.py"), "app file not found"),
    (("run", "docs/examples/handlers/greeter.py"), "no Runtime found"),
])
def test_bad_usage_exits_2_with_a_clear_message(args: tuple[str, ...], message: str) -> None:
    proc = cli(*args)
    assert proc.returncode == 2
    assert message in proc.stderr


def test_missing_handler_module_is_lambdas_init_error() -> None:
    proc = cli("invoke", "no_such_module_xyz:handler")
    assert proc.returncode == 1
    err = json.loads(proc.stdout)
    assert err["errorType"] == "Runtime.ImportModuleError"
    assert "no_such_module_xyz" in err["errorMessage"]


def test_run_without_main_stops_after_duration(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text("import asynclambda as al\nrt = al.Runtime()\n"
                   "rt.add_function('f', lambda e, c: 1)\n")
    proc = cli("run", str(app), "--for", "0.2")
    assert proc.returncode == 0, proc.stderr


def test_json_log_format() -> None:
    proc = cli("invoke", GREETER, "--log-format", "json")
    records = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    report = next(r for r in records if r.get("event") == "REPORT")
    assert report["memory_size_mb"] == 128 and "duration_ms" in report
