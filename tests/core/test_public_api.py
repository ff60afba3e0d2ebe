"""The public surface stays honest: sorted, importable, documented ``__all__``s, and an error tree
in errors.py's docstring that is the real class hierarchy (like anyio's test_all_attributes)."""

from __future__ import annotations

import importlib
import inspect
import re
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

import asynclambda
import asynclambda.destinations
import asynclambda.errors
import asynclambda.events

FACADES = ["asynclambda", "asynclambda.events", "asynclambda.destinations", "asynclambda.errors"]


def _module(name: str) -> ModuleType:
    return importlib.import_module(name)


def _order(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: SCREAMING_CASE, then CamelCase, then everything else."""
    if name.isupper() and len(name) > 1:
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


def _public_objects(module: ModuleType) -> list[tuple[str, object]]:
    return [(name, getattr(module, name)) for name in module.__all__
            if inspect.isclass(getattr(module, name)) or inspect.isfunction(getattr(module, name))]


@pytest.mark.parametrize("name", FACADES)
def test_all_is_sorted_and_unique(name: str) -> None:
    names = list(_module(name).__all__)
    assert len(names) == len(set(names)), "duplicates in __all__"
    assert names == sorted(names, key=_order)


@pytest.mark.parametrize("name", FACADES)
def test_every_name_in_all_exists_and_is_importable(name: str) -> None:
    module = _module(name)
    for attr in module.__all__:
        namespace: dict[str, object] = {}
        exec(f"from {name} import {attr}", namespace)
        assert namespace[attr] is getattr(module, attr)


@pytest.mark.parametrize("name", FACADES)
def test_star_import_gives_exactly_all(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from {name} import *", namespace)
    namespace.pop("__builtins__")
    assert set(namespace) == set(_module(name).__all__)


@pytest.mark.parametrize("name", FACADES)
def test_public_classes_and_functions_defined_here_are_exported(name: str) -> None:
    module = _module(name)
    forgotten = [attr for attr, obj in vars(module).items()
                 if not attr.startswith("_")
                 and (inspect.isclass(obj) or inspect.isfunction(obj))
                 and obj.__module__.startswith("asynclambda")
                 and attr not in module.__all__]
    assert forgotten == []


@pytest.mark.parametrize("name", FACADES)
def test_module_and_every_public_class_and_function_have_docstrings(name: str) -> None:
    module = _module(name)
    assert (module.__doc__ or "").strip()
    undocumented = [attr for attr, obj in _public_objects(module)
                    if not (obj.__doc__ or "").strip()]
    assert undocumented == []


def test_version_matches_pyproject() -> None:
    pyproject = Path(__file__).parents[2] / "pyproject.toml"
    assert asynclambda.__version__ == tomllib.loads(pyproject.read_text())["project"]["version"]


def test_facade_reexports_are_the_defining_modules_objects() -> None:
    from asynclambda import clock, config, errors, invocation, runtime

    assert asynclambda.Runtime is runtime.Runtime
    assert asynclambda.VirtualClock is clock.VirtualClock
    assert asynclambda.FunctionConfig is config.FunctionConfig
    assert asynclambda.LambdaContext is invocation.LambdaContext
    for attr in errors.__all__:
        assert getattr(asynclambda, attr) is getattr(errors, attr)


# -- the error tree drawn in errors.py ----------------------------------------------------------

_TREE_LINE = re.compile(r"^(?P<indent>[\s│├└─]*?)(?P<name>[A-Z]\w+)(?: \((?P<bases>[\w, ]+)\))?"
                        r"(?:\s+(?P<status>\d{3}):)?")


def _drawn_tree() -> list[tuple[str, str | None, set[str], int | None]]:
    """``(class, drawn parent, drawn builtin bases, drawn status)`` for each line of the tree."""
    doc = asynclambda.errors.__doc__ or ""
    block = doc.split("::", 1)[1]
    rows: list[tuple[str, str | None, set[str], int | None]] = []
    stack: list[tuple[int, str]] = []
    for line in block.splitlines():
        if not line.strip():
            if rows:
                break  # the blank line after the drawing ends it
            continue
        m = _TREE_LINE.match(line)
        if m is None:
            continue  # a continuation line of a description
        column = len(m.group("indent"))
        while stack and stack[-1][0] >= column:
            stack.pop()
        parent = stack[-1][1] if stack else None
        bases = {b.strip() for b in (m.group("bases") or "").split(",") if b.strip()}
        status = int(m.group("status")) if m.group("status") else None
        rows.append((m.group("name"), parent, bases, status))
        stack.append((column, m.group("name")))
    return rows


def test_error_tree_lists_every_exception_once() -> None:
    drawn = [row[0] for row in _drawn_tree()]
    assert len(drawn) == len(set(drawn))
    assert set(drawn) == set(asynclambda.errors.__all__)
    assert drawn[0] == "AsyncLambdaError"


@pytest.mark.parametrize("row", _drawn_tree(), ids=lambda row: row[0])
def test_error_tree_matches_the_class_hierarchy(
        row: tuple[str, str | None, set[str], int | None]) -> None:
    name, parent, builtins, status = row
    errors = asynclambda.errors
    cls = getattr(errors, name)
    own = [b for b in cls.__bases__ if b.__module__ == errors.__name__]
    others = {b.__name__ for b in cls.__bases__ if b.__module__ != errors.__name__}
    if parent is None:
        assert own == [] and others == {"Exception"}
    else:
        assert [b.__name__ for b in own] == [parent]
        assert others == builtins
        for base in builtins:  # the builtin a caller would naturally catch
            assert issubclass(cls, getattr(__import__("builtins"), base))
    if status is not None:
        assert cls.status_code == status
    assert issubclass(cls, errors.AsyncLambdaError)


def test_error_tree_parser_sees_the_nesting() -> None:
    rows = {name: parent for name, parent, _, _ in _drawn_tree()}
    # A check of the parser itself, so the test above cannot pass by parsing nothing.
    assert rows["TooManyRequestsException"] == "LambdaServiceError"
    assert rows["LambdaServiceError"] == "AsyncLambdaError"
    assert rows["FunctionError"] == "AsyncLambdaError"
