"""The asynclambda.events facade: an honest, sorted __all__, and documented public shapes."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import msgspec
import pytest

import asynclambda.events as events

MODULES = sorted(
    info.name for info in pkgutil.iter_modules(events.__path__) if not info.name.startswith("_")
)


def test_all_is_sorted_and_unique() -> None:
    assert list(events.__all__) == sorted(set(events.__all__))


def test_all_names_exist_and_cover_every_module_all() -> None:
    for name in events.__all__:
        assert hasattr(events, name), name
    exported = set(events.__all__)
    for module_name in MODULES:
        module = importlib.import_module(f"asynclambda.events.{module_name}")
        assert set(module.__all__) <= exported, module_name
        assert list(module.__all__) == sorted(module.__all__), module_name


@pytest.mark.parametrize("module_name", ["__init__", *MODULES])
def test_modules_have_docstrings(module_name: str) -> None:
    module = (
        events
        if module_name == "__init__"
        else importlib.import_module(f"asynclambda.events.{module_name}")
    )
    assert module.__doc__
    assert module.__doc__.strip()


def test_public_structs_are_documented_frozen_keyword_only() -> None:
    structs = [obj for name in events.__all__ if inspect.isclass(obj := getattr(events, name))]
    assert structs
    for struct in structs:
        assert issubclass(struct, msgspec.Struct)
        assert struct.__doc__, struct
        assert struct.__doc__.strip(), struct
        config = struct.__struct_config__
        assert config.frozen, struct
        assert config.omit_defaults, struct
        # msgspec's kw_only is per class; every field must be keyword-only to allow any order
        assert all(
            p.kind is inspect.Parameter.KEYWORD_ONLY
            for p in inspect.signature(struct).parameters.values()
        ), struct
