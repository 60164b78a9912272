"""`__all__` is the public surface: complete, sorted, and every name importable."""

from __future__ import annotations

import importlib
import inspect

import pytest

PUBLIC_MODULES = ["jmapchat", "jmapchat.capabilities", "jmapchat.models", "jmapchat.sync"]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_names_exist_and_are_sorted(name: str) -> None:
    module = importlib.import_module(name)
    names = list(module.__all__)
    assert len(names) == len(set(names)), "duplicates in __all__"
    for attr in names:
        assert hasattr(module, attr), f"{name}.{attr} in __all__ but missing"
    assert names == sorted(names, key=_isort_key), "keep __all__ sorted (ruff RUF022)"


def _isort_key(name: str) -> tuple[int, str]:
    """ruff RUF022's order: CONSTANTS, then CamelCase, then everything else."""
    if name.isupper() and len(name) > 1:
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_every_public_class_and_function_is_in_all(name: str) -> None:
    module = importlib.import_module(name)
    public = {
        attr
        for attr, obj in vars(module).items()
        if not attr.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and (getattr(obj, "__module__", "") or "").startswith("jmapchat")
    }
    missing = public - set(module.__all__)
    assert not missing, f"public but not in {name}.__all__: {sorted(missing)}"


def test_errors_are_exported_once_from_the_top_level() -> None:
    import jmapchat
    from jmapchat._core import _errors

    for attr in _errors.__all__:
        obj = getattr(_errors, attr)
        if inspect.isclass(obj):
            assert getattr(jmapchat, attr) is obj, attr
            assert obj.__module__ == "jmapchat"
