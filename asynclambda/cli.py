"""The ``asynclambda`` command (also ``python -m asynclambda``).

::

    asynclambda invoke handler.py:lambda_handler --payload '{"key": "a.jpg"}' --repeat 3
    asynclambda invoke mypkg.handlers:resize --payload @event.json
    asynclambda run docs/examples/app.py            # an app module that builds a Runtime

``invoke`` runs one handler in a fresh runtime and prints the response on stdout; Lambda's
START / END / REPORT lines go to stderr. ``run`` imports an app module, finds its ``Runtime``
(``rt``, ``runtime`` or ``app``, or ``module:attr``), starts it, and runs the module's
``async def main(rt)`` if there is one, or serves until interrupted (``--for`` seconds at most).
Exit status: 0 on success, 1 if an invocation ended in a function error, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import importlib.util
import inspect
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from asynclambda.errors import AsyncLambdaError, ConfigError
from asynclambda.observability import configure_logging
from asynclambda.payloads import decode
from asynclambda.runtime import Runtime

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    from asynclambda import __version__

    p = argparse.ArgumentParser(prog="asynclambda",
                                description="AWS Lambda's execution model, in-process.")
    p.add_argument("--version", action="version", version=f"asynclambda {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto",
                        help="event loop (auto: uvloop when installed)")
    common.add_argument("--log-format", choices=("text", "json"), default="text",
                        help="format of START/END/REPORT and handler log lines")
    common.add_argument("--quiet", action="store_true", help="no per-invocation log records")
    sub = p.add_subparsers(dest="command", required=True)

    inv = sub.add_parser("invoke", parents=[common],
                         help="invoke a handler FILE.py:func or package.module:func")
    inv.add_argument("handler", help="'path/to/file.py:func' or 'package.module:func'")
    inv.add_argument("--payload", default="{}",
                     help="the event: JSON text, or @path to a JSON file, or @- for stdin")
    inv.add_argument("--name", default=None, help="function name (default: from the handler)")
    inv.add_argument("--timeout", type=float, default=3.0, help="seconds (default 3)")
    inv.add_argument("--memory", type=int, default=128, help="memory_mb (default 128)")
    inv.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                     help="an environment variable for the function (repeatable)")
    inv.add_argument("--repeat", type=int, default=1,
                     help="invoke N times (the first is cold, the rest warm)")

    run = sub.add_parser("run", parents=[common], help="run an app module that builds a Runtime")
    run.add_argument("app", help="'path/to/app.py', 'package.module', optionally ':attr'")
    run.add_argument("--for", dest="duration", type=float, default=None,
                     help="stop after this many seconds (default: when main() returns, or "
                          "on Ctrl-C)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    args = _parser().parse_args(argv)
    # ``invoke`` keeps stdout for the response; ``run`` interleaves logs with the app's output.
    configure_logging(args.log_format,
                      stream=sys.stderr if args.command == "invoke" else sys.stdout)
    try:
        coro = _invoke(args) if args.command == "invoke" else _run(args)
        return _run_loop(coro, args.loop)
    except (ConfigError, _UsageError) as exc:
        print(f"asynclambda: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


class _UsageError(Exception):
    pass


def _run_loop(coro: Any, loop: str) -> int:
    if loop in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if loop == "uvloop":
                coro.close()
                raise _UsageError("uvloop is not installed") from None
        else:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                return int(runner.run(coro))
    return int(asyncio.run(coro))


def _read_payload(text: str) -> bytes:
    if text == "@-":
        raw = sys.stdin.buffer.read()
    elif text.startswith("@"):
        try:
            raw = Path(text[1:]).read_bytes()
        except OSError as exc:
            raise _UsageError(f"--payload {text}: {exc.strerror}") from None
    else:
        raw = text.encode()
    try:
        decode(raw)
    except Exception as exc:
        raise _UsageError(f"--payload is not valid JSON: {exc}") from None
    return raw


def _env(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise _UsageError(f"--env {pair!r}: expected KEY=VALUE")
        env[key] = value
    return env


async def _invoke(args: argparse.Namespace) -> int:
    payload = _read_payload(args.payload)
    name = args.name or _default_name(args.handler)
    if args.repeat < 1:
        raise _UsageError(f"--repeat {args.repeat}: must be at least 1")
    rt = Runtime(invocation_logs=not args.quiet)
    rt.add_function(name, args.handler, timeout=args.timeout, memory_mb=args.memory,
                    environment=_env(args.env))
    status = 0
    async with rt:
        for _ in range(args.repeat):
            result = await rt.invoke(name, payload)
            sys.stdout.write(result.raw_payload.decode("utf-8", errors="replace") + "\n")
            sys.stdout.flush()
            if result.function_error:
                status = 1
    return status


def _default_name(handler: str) -> str:
    target, _, attr = handler.rpartition(":")
    stem = Path(target).stem if target.endswith(".py") else target.rsplit(".", 1)[-1]
    name = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in f"{stem}-{attr}")
    return name[:64] or "function"


def load_app(spec: str) -> tuple[Runtime, Any]:
    """Import an app module (``file.py`` or ``package.module``, optionally ``:attr``) and return
    its Runtime and the module."""
    target, _, attr = spec.partition(":") if not _is_windows_path(spec) else (spec, "", "")
    if target.endswith(".py") or os.sep in target or "/" in target:
        path = Path(target).resolve()
        if not path.exists():
            raise _UsageError(f"app file not found: {target}")
        module_name = f"_asynclambda_app_{path.stem}"
        mspec = importlib.util.spec_from_file_location(module_name, path)
        if mspec is None or mspec.loader is None:
            raise _UsageError(f"cannot load {target}")
        module = importlib.util.module_from_spec(mspec)
        sys.modules[module_name] = module
        sys.path.insert(0, str(path.parent))
        mspec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    names = [attr] if attr else ["rt", "runtime", "app"]
    for n in names:
        candidate = getattr(module, n, None)
        if isinstance(candidate, Runtime):
            return candidate, module
    raise _UsageError(f"{spec}: no Runtime found (looked for {', '.join(names)})")


def _is_windows_path(spec: str) -> bool:
    return len(spec) > 2 and spec[1] == ":" and spec[0].isalpha() and spec[2] in "\\/"


async def _run(args: argparse.Namespace) -> int:
    rt, module = load_app(args.app)
    if not args.quiet:
        rt.observer.enabled = True
    entry = getattr(module, "main", None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with rt:
        try:
            if entry is not None and inspect.iscoroutinefunction(entry):
                work = asyncio.ensure_future(entry(rt))
                waiter = asyncio.ensure_future(stop.wait())
                done, _ = await asyncio.wait({work, waiter}, timeout=args.duration,
                                            return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if work not in done:
                    work.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await work
                else:
                    result = work.result()
                    return int(result) if isinstance(result, int) else 0
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), args.duration)
        except AsyncLambdaError as exc:
            print(f"asynclambda: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
