"""Getting a handler ready to run: loading handler strings per context, threads for plain handlers.

Three pieces, used by the execution context:

* :func:`load_handler` resolves ``"package.module:func"`` or ``"path/to/file.py:func"`` into a
  callable from a *fresh module instance*: the module's code object is compiled once per runtime
  and its body executed once per execution context, so module-level state (clients, caches) is
  per context and reused warm, exactly as on Lambda, while the compile cost is paid once.
  Failures map to Lambda's init error types.
* :class:`ThreadRunner` is the one thread a plain ``def`` handler's execution context owns (like
  Lambda's single runtime thread): thread-local and module state behave as on Lambda, an event
  loop is set on that thread so ``asyncio.run()`` / ``get_event_loop().run_until_complete()`` work
  inside handlers, and the runtime's own loop is never blocked.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.machinery
import importlib.util
import inspect
import os
import queue
import sys
import threading
import types
from collections.abc import Callable, Sequence
from contextvars import Context, ContextVar
from dataclasses import dataclass
from typing import Any

from asynclambda.clock import thread_work

__all__ = ["HandlerLoadError", "LoadedSpec", "ThreadRunner", "defines_coroutine",
           "is_async_callable", "load_handler", "resolve_spec"]


class HandlerLoadError(Exception):
    """Loading a handler string failed; ``error_type`` is Lambda's (``Runtime.ImportModuleError`` ...)."""

    def __init__(self, error_type: str, message: str, stack_trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace or []


@dataclass(frozen=True, slots=True)
class LoadedSpec:
    """A handler string resolved to compiled code, ready to execute once per context."""

    spec: str
    module_name: str
    attribute: str
    code: types.CodeType
    filename: str
    package: str | None
    task_root: str
    module_spec: Any  # importlib.machinery.ModuleSpec | None
    #: Directories put on ``sys.path`` for the module's own imports (task root, then layers).
    paths: tuple[str, ...] = ()


def defines_coroutine(loaded: LoadedSpec) -> bool:
    """True if the handler module defines its handler attribute as an ``async def``.

    Read from the compiled code object, without running the module: it decides where INIT runs
    (an async handler's module on the event loop; any other, as a Lambda module, on the
    execution context's own thread).
    """
    for const in loaded.code.co_consts:
        if isinstance(const, types.CodeType) and const.co_name == loaded.attribute:
            return bool(const.co_flags & inspect.CO_COROUTINE)
    return False


def is_async_callable(fn: Any) -> bool:
    """True if calling ``fn`` returns a coroutine (looks through ``functools.wraps`` chains)."""
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - callable objects with async __call__
    if call is not None and inspect.iscoroutinefunction(call):
        return True
    try:
        return inspect.iscoroutinefunction(inspect.unwrap(fn))
    except ValueError:
        return False


def resolve_spec(spec: str, code_dir: str | None = None,
                 layers: Sequence[str] = ()) -> LoadedSpec:
    """Find and compile the module a handler string names (no module code runs here).

    Three forms: Lambda's own ``"module.function"`` (``"app.lambda_handler"``,
    ``"src/app.lambda_handler"``, ``"pkg.mod.handler"``), looked up in ``code_dir`` (Lambda's
    task root, ``CodeUri`` in SAM; default the working directory) as Lambda's runtime does;
    ``"package.module:func"``; and ``"path/to/file.py:func"``. ``layers`` are extra import
    directories (a layer's ``python/`` subdirectory when it has one, as Lambda lays out ``/opt``).

    Raises :class:`HandlerLoadError` with ``Runtime.MalformedHandlerName``,
    ``Runtime.ImportModuleError``, ``Runtime.BuiltInModuleConflict`` or
    ``Runtime.UserCodeSyntaxError``.
    """
    paths = _layer_paths(layers)
    if ":" not in spec:
        return _resolve_lambda(spec, code_dir, paths)
    target, _, attribute = spec.rpartition(":")
    if not target or not attribute:
        raise HandlerLoadError("Runtime.MalformedHandlerName",
                               f"Bad handler '{spec}': expected 'module.function', "
                               "'module:func' or 'file.py:func'")
    if target.endswith(".py") or os.sep in target or "/" in target:
        if code_dir is not None and not os.path.isabs(target):
            target = os.path.join(code_dir, target)
        return _resolve_file(spec, target, attribute, paths)
    return _resolve_module(spec, target, attribute, code_dir, paths)


#: Directories never part of a function's code when its code directory is hashed.
_NOT_CODE = frozenset({"__pycache__", "node_modules", ".aws-sam", ".git", ".venv", "venv"})


def code_digest(config: Any) -> Any:
    """What identifies a function's code, as Lambda's ``CodeSha256`` does: a sha256 over the
    handler string and the files of its code directory and layers (or of the handler's own
    file when there is no code directory). A callable handler is identified by itself."""
    handler = config.handler
    if not isinstance(handler, str):
        return handler
    digest = hashlib.sha256(handler.encode())
    roots = [config.code_dir, *config.layers] if config.code_dir is not None else []
    if not roots:
        try:
            roots = [resolve_spec(handler, None, config.layers).filename, *config.layers]
        except HandlerLoadError as exc:
            digest.update(str(exc).encode())
    for root in map(os.fspath, roots):
        digest.update(b"\0" + root.encode())
        if os.path.isfile(root):
            _hash_file(digest, root)
            continue
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in _NOT_CODE and not d.startswith("."))
            for name in sorted(files):
                path = os.path.join(folder, name)
                digest.update(b"\0" + os.path.relpath(path, root).encode())
                _hash_file(digest, path)
    return digest.hexdigest()


def _hash_file(digest: Any, path: str) -> None:
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 16), b""):
                digest.update(block)
    except OSError as exc:
        digest.update(repr(exc).encode())


def _layer_paths(layers: Sequence[str]) -> tuple[str, ...]:
    """Import directories for layers, as Lambda puts ``/opt/python`` (and its site-packages)."""
    out: list[str] = []
    for layer in layers:
        root = os.path.abspath(layer)
        python = os.path.join(root, "python")
        if os.path.isdir(python):
            site = os.path.join(python, "lib", f"python{sys.version_info[0]}.{sys.version_info[1]}",
                                "site-packages")
            if os.path.isdir(site):
                out.append(site)
            out.append(python)
        else:
            out.append(root)
    return tuple(out)


def _resolve_lambda(spec: str, code_dir: str | None, paths: tuple[str, ...]) -> LoadedSpec:
    """Lambda's ``module.function`` syntax (``/`` in the module part is a directory)."""
    modpath, sep, attribute = spec.rpartition(".")
    if not sep or not modpath or not attribute:
        raise HandlerLoadError(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{spec}': expected 'module.function' (e.g. 'app.lambda_handler'), "
            "'module:func' or 'file.py:func'")
    module_name = modpath.replace("/", ".").strip(".")
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise HandlerLoadError("Runtime.BuiltInModuleConflict",
                               f"Cannot use built-in module {modpath} as a handler module")
    root = os.path.abspath(code_dir) if code_dir is not None else os.getcwd()
    mspec = _find_under(module_name, root)
    if mspec is None and code_dir is None:
        # No code directory: an installed module (``mypkg.handlers.resize``) is fine too.
        loaded = _resolve_module(spec, module_name, attribute, None, paths)
        return loaded
    if mspec is None:
        raise HandlerLoadError("Runtime.ImportModuleError",
                               f"Unable to import module '{modpath}': No module named "
                               f"'{module_name}' (looked in {root})")
    return _from_spec(spec, module_name, attribute, mspec, root, (root, *paths))


def _find_under(module_name: str, root: str) -> Any:
    """The spec of ``module_name`` found under ``root`` only (not anywhere on ``sys.path``)."""
    parts = module_name.split(".")
    search = [root]
    mspec: Any = None
    for i in range(len(parts)):
        name = ".".join(parts[: i + 1])
        try:
            mspec = importlib.machinery.PathFinder.find_spec(name, search)
        except (ImportError, ValueError):
            return None
        if mspec is None:
            return None
        if i < len(parts) - 1:
            locations = mspec.submodule_search_locations
            if not locations:
                return None
            search = list(locations)
    return mspec


def _from_spec(spec: str, module_name: str, attribute: str, mspec: Any, task_root: str,
               paths: tuple[str, ...]) -> LoadedSpec:
    loader = mspec.loader
    get_code = getattr(loader, "get_code", None)
    if get_code is None:
        raise HandlerLoadError("Runtime.ImportModuleError",
                               f"Unable to import module '{module_name}': it has no Python "
                               "source")
    code = _get_code(get_code, module_name)
    filename = mspec.origin or module_name
    package = (module_name.rpartition(".")[0] if not mspec.submodule_search_locations
               else module_name)
    return LoadedSpec(spec, module_name, attribute, code, filename, package, task_root, mspec,
                      paths)


def _get_code(get_code: Any, module_name: str) -> types.CodeType:
    """A loader's ``get_code``, its failures mapped to Lambda's init error types."""
    try:
        code = get_code(module_name)
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        raise HandlerLoadError("Runtime.UserCodeSyntaxError",
                               f"Syntax error in module '{module_name}': {exc}", trace) from None
    except (OSError, ImportError) as exc:
        raise HandlerLoadError("Runtime.ImportModuleError",
                               f"Unable to import module '{module_name}': {exc}") from None
    if code is None:
        raise HandlerLoadError("Runtime.ImportModuleError",
                               f"Unable to import module '{module_name}': it has no Python code")
    return code  # type: ignore[no-any-return]


def _resolve_file(spec: str, target: str, attribute: str, paths: tuple[str, ...]) -> LoadedSpec:
    path = os.path.abspath(target)
    module_name = os.path.splitext(os.path.basename(path))[0]
    if not os.path.isfile(path):
        raise HandlerLoadError(
            "Runtime.ImportModuleError",
            f"Unable to import module '{module_name}': No module named '{module_name}' "
            f"({target}: No such file or directory)")
    # The import system's loader: it reads and writes __pycache__, so a handler file that was
    # compiled before (by a previous run, or an import) costs an unmarshal, not a compile.
    loader = importlib.machinery.SourceFileLoader(module_name, path)
    code = _get_code(loader.get_code, module_name)
    root = os.path.dirname(path)
    return LoadedSpec(spec, module_name, attribute, code, path, "", root, None, (root, *paths))


def _resolve_module(spec: str, target: str, attribute: str, code_dir: str | None,
                    paths: tuple[str, ...]) -> LoadedSpec:
    if target.split(".")[0] in sys.builtin_module_names:
        raise HandlerLoadError("Runtime.BuiltInModuleConflict",
                               f"Cannot use built-in module {target} as a handler module")
    try:
        mspec = _find_under(target, os.path.abspath(code_dir)) if code_dir is not None else None
        if mspec is None:
            mspec = importlib.util.find_spec(target)
    except (ImportError, ValueError) as exc:
        raise HandlerLoadError("Runtime.ImportModuleError",
                               f"Unable to import module '{target}': {exc}") from None
    except SyntaxError as exc:
        raise HandlerLoadError("Runtime.UserCodeSyntaxError",
                               f"Syntax error in module '{target}': {exc}") from None
    if mspec is None:
        raise HandlerLoadError("Runtime.ImportModuleError",
                               f"Unable to import module '{target}': No module named '{target}'")
    task_root = os.path.abspath(code_dir) if code_dir is not None else os.getcwd()
    if code_dir is not None:
        paths = (task_root, *paths)
    return _from_spec(spec, target, attribute, mspec, task_root, paths)


_added_paths: set[str] = set()
_path_lock = threading.Lock()


def load_handler(loaded: LoadedSpec) -> tuple[Callable[..., Any], types.ModuleType]:
    """Execute the module body in a fresh module object and return ``(handler, module)``.

    The module is registered as Lambda's importer registers it, but per execution context:
    ``sys.modules[name]`` routes to the instance of the context whose code is running (see
    :class:`_ModuleRouter`), from before its body runs, so pickling a module-level class,
    ``import app`` from a sibling module, or a circular import all find this context's
    instance, and no context ever sees another's. Must run inside the context's
    ``contextvars.Context``. The task root and layers are put on ``sys.path`` so sibling imports
    work.

    Raises :class:`HandlerLoadError` (``Runtime.ImportModuleError`` for an ``ImportError`` in the
    body, ``Runtime.HandlerNotFound`` for a missing attribute); any other exception raised by the
    module body propagates (the caller reports it as the AWS runtime does).
    """
    if loaded.paths:
        with _path_lock:
            for path in reversed(loaded.paths):
                if path not in _added_paths and path not in sys.path:
                    sys.path.insert(0, path)
                    _added_paths.add(path)
    name = loaded.module_name
    module = types.ModuleType(name)
    module.__file__ = loaded.filename
    module.__package__ = loaded.package
    if loaded.module_spec is not None:
        module.__spec__ = loaded.module_spec
        module.__loader__ = loaded.module_spec.loader
    mine = context_modules.get()
    if mine is None:
        mine = {}
        context_modules.set(mine)
    mine[name] = module
    route_module(name, module)
    try:
        exec(loaded.code, module.__dict__)
    except ImportError as exc:
        raise HandlerLoadError("Runtime.ImportModuleError",
                               f"Unable to import module '{name}': {exc}") from exc
    try:
        handler = getattr(module, loaded.attribute)
    except AttributeError:
        raise HandlerLoadError(
            "Runtime.HandlerNotFound",
            f"Handler '{loaded.attribute}' missing on module '{name}'") from None
    if not callable(handler):
        raise HandlerLoadError(
            "Runtime.HandlerNotFound",
            f"Handler '{loaded.attribute}' on module '{name}' is not callable")
    return handler, module


# --- sys.modules, per execution context ---------------------------------------------------------

#: The handler modules of the execution context whose code is running (``{name: module}``).
context_modules: ContextVar[dict[str, types.ModuleType] | None] = ContextVar(
    "asynclambda_modules", default=None)

_module_getattribute = types.ModuleType.__getattribute__


class _ModuleRouter(types.ModuleType):
    """What ``sys.modules[name]`` holds for a handler module while runtimes use it.

    Each attribute access goes to the current execution context's own instance of the module
    (one per context, as one per Lambda process). Outside any context that loaded it, it answers
    from the module that held the name before (if the host had one), else from its own copy of
    the module's identity (``__name__``, ``__file__``, ``__spec__`` ...) and raises
    ``AttributeError`` for the rest: never another context's instance.
    """

    def __getattribute__(self, attr: str) -> Any:
        target = _route_target(self)
        if target is None:
            return _module_getattribute(self, attr)
        return getattr(target, attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        target = _route_target(self)
        if target is None:
            types.ModuleType.__setattr__(self, attr, value)
        else:
            setattr(target, attr, value)

    def __delattr__(self, attr: str) -> None:
        target = _route_target(self)
        if target is None:
            types.ModuleType.__delattr__(self, attr)
        else:
            delattr(target, attr)

    def __dir__(self) -> list[str]:
        target = _route_target(self)
        return dir(target) if target is not None else list(_module_getattribute(self, "__dict__"))

    def __repr__(self) -> str:
        target = _route_target(self)
        name = _module_getattribute(self, "__name__")
        return repr(target) if target is not None else f"<module {name!r} (asynclambda: per execution context)>"


def _route_target(router: _ModuleRouter) -> Any:
    name = _module_getattribute(router, "__name__")
    mine = context_modules.get()
    if mine is not None:
        module = mine.get(name)
        if module is not None:
            return module
    return _routes[name][1] if name in _routes else None


#: ``{name: (router, module the host had under that name or None)}``.
_routes: dict[str, Any] = {}
_routes_lock = threading.Lock()
_route_users = 0


def acquire_routes() -> None:
    """A runtime starts (routes live while any runtime runs)."""
    global _route_users
    with _routes_lock:
        _route_users += 1


def release_routes() -> None:
    """A runtime closed; the last one gives ``sys.modules`` back its original entries."""
    global _route_users
    with _routes_lock:
        _route_users = max(0, _route_users - 1)
        if _route_users:
            return
    unroute_all()


def route_module(name: str, module: types.ModuleType) -> None:
    """Make ``sys.modules[name]`` route per execution context (idempotent)."""
    with _routes_lock:
        entry = _routes.get(name)
        if entry is not None and sys.modules.get(name) is entry[0]:
            return
        original = sys.modules.get(name)
        if isinstance(original, _ModuleRouter):
            original = None
        router = _ModuleRouter(name)
        for attr in ("__file__", "__package__", "__spec__", "__loader__", "__path__"):
            if attr in module.__dict__:
                types.ModuleType.__setattr__(router, attr, module.__dict__[attr])
        _routes[name] = (router, original)
        sys.modules[name] = router


def unroute_all() -> None:
    """Give ``sys.modules`` back its original entries (the last runtime closed)."""
    with _routes_lock:
        for name, (router, original) in list(_routes.items()):
            if sys.modules.get(name) is router:
                if original is not None:
                    sys.modules[name] = original
                else:
                    del sys.modules[name]
        _routes.clear()


# --- the thread of a plain-def handler's execution context ------------------------------------

_STOP = object()


class ThreadRunner:
    """One thread per execution context, running one job at a time inside the context's Context.

    A job's outcome comes back to the runtime's loop through ``call_soon_threadsafe`` as a tagged
    tuple, ``(0, value)`` or ``(1, exception)``: an exception is never *raised* on the loop, so a
    handler's ``SystemExit`` or ``KeyboardInterrupt`` cannot stop it. Waiting never blocks the
    loop. An abandoned runner (its handler overran the timeout) finishes the job in hand, drops
    the result and exits.
    """

    __slots__ = ("__weakref__", "_jobs", "_loop", "_thread", "busy", "ctx", "thread_loop")

    def __init__(self, name: str, ctx: Context) -> None:
        self.ctx = ctx
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._loop = asyncio.get_running_loop()
        self.thread_loop: asyncio.AbstractEventLoop | None = None
        #: True while the thread is running a job (user code).
        self.busy = False
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Run ``fn(*args)`` on the thread (inside ``ctx``); a future for its outcome."""
        fut: asyncio.Future[Any] = self._loop.create_future()
        # Registered before the thread picks it up, so a VirtualClock never misses it.
        self._jobs.put((fn, args, fut, thread_work.begin()))
        return fut

    def stop(self) -> None:
        """Let the thread exit once the job in hand (if any) is done."""
        self._jobs.put(_STOP)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        """Wait (blocking) for the thread to exit; True if it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self.thread_loop = loop
        asyncio.set_event_loop(loop)
        post = self._loop.call_soon_threadsafe
        try:
            while True:
                job = self._jobs.get()
                if job is _STOP:
                    return
                fn, args, fut, token = job
                self.busy = True
                # A handler may have run asyncio.run(), which unsets the thread's loop.
                asyncio.set_event_loop(loop)
                try:
                    outcome: Any = (0, self.ctx.run(fn, *args))
                except BaseException as exc:  # the boundary, on this thread
                    outcome = (1, exc)
                # Not busy before the result is posted: once the loop sees the outcome, the
                # context may be closed at once, and must not count this thread as abandoned.
                self.busy = False
                try:
                    post(_set_result, fut, outcome)
                except RuntimeError:  # the runtime's loop is closed: nobody is waiting
                    return
                finally:
                    thread_work.end(token)
                del job, fn, args, fut, token, outcome
        finally:
            with contextlib.suppress(Exception):
                loop.close()


def _set_result(fut: asyncio.Future[Any], result: Any) -> None:
    if not fut.done():
        fut.set_result(result)
