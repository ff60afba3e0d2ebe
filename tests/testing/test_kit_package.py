"""The testing kit's public surface: sorted, lazy, documented; the plugin stays import-light;
the documentation's programs run."""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
MODULES = ["asynclambda.testing", "asynclambda.testing.strategies",
           "asynclambda.testing.idempotency", "asynclambda.idempotency"]


def _order(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: SCREAMING_CASE, then CamelCase, then everything else."""
    if name.isupper() and len(name) > 1:
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_importable_and_documented(name: str) -> None:
    module = importlib.import_module(name)
    names = list(module.__all__)
    assert names == sorted(set(names), key=_order)
    for attr in names:
        namespace: dict[str, object] = {}
        exec(f"from {name} import {attr}", namespace)
        obj = namespace[attr]
        assert obj is getattr(module, attr)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{name}.{attr} has no docstring"


def test_star_import_of_the_kit_gives_exactly_all() -> None:
    import asynclambda.testing as kit

    namespace: dict[str, object] = {}
    exec("from asynclambda.testing import *", namespace)
    namespace.pop("__builtins__")
    assert sorted(namespace) == sorted(kit.__all__)
    assert set(kit.__all__) <= set(dir(kit))


def test_submodules_stay_importable() -> None:
    from asynclambda.testing import conformance, idempotency, plugin, strategies

    assert conformance.QueueBackendConformance and plugin.virtual_clock
    assert idempotency.check_idempotent and strategies.delivery_faults


def test_unknown_names_are_attribute_errors() -> None:
    import asynclambda.testing as kit

    with pytest.raises(AttributeError, match="no_such_thing"):
        kit.no_such_thing  # noqa: B018


def test_loading_the_plugin_imports_neither_hypothesis_nor_the_kit() -> None:
    code = ("import sys, asynclambda.testing.plugin, asynclambda.testing; "
            "heavy = [m for m in ('hypothesis', 'asynclambda.idempotency', "
            "'asynclambda.testing.strategies', 'asynclambda.testing.idempotency') "
            "if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"


# -- the documentation's programs ---------------------------------------------------------------
_BLOCK = re.compile(r"```python\n(.*?)```", re.S)
DOCS = [ROOT / "docs" / "testing.md", ROOT / "docs" / "idempotency.md"]
PROGRAMS = [(f"{path.name}[{i}]", code) for path in DOCS
            for i, code in enumerate(_BLOCK.findall(path.read_text()))
            if not code.startswith("# fragment")]


def test_the_docs_have_programs() -> None:
    assert len(PROGRAMS) >= 4


@pytest.mark.parametrize(("where", "code"), PROGRAMS, ids=[w for w, _ in PROGRAMS])
def test_doc_program_runs(where: str, code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    exec(compile(code, where, "exec"), {"__name__": "__main__"})
