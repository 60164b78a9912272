"""The API reference is complete: every public module has a page, and every name in its
``__all__`` is rendered by mkdocstrings (read back from the built site's ``objects.inv``)
and has a docstring of its own.

A public module is ``jmapchat``, every ``jmapchat.<name>`` with an ``__all__``, every module
named in such an ``__all__`` (``jmapchat.models.ids``) and the pytest plugin. Modules that
do not exist yet (another branch adds them) are simply not found. To document a new one:
add ``docs/reference/<module>.md`` holding ``::: <module>`` and a line under
"API reference" in mkdocs.yml's nav.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
import types
import zlib
from pathlib import Path

import pytest

import jmapchat

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference"


def public_modules() -> list[str]:
    found = ["jmapchat", "jmapchat.testing.plugin"]
    for info in pkgutil.iter_modules(jmapchat.__path__):
        if info.name.startswith("_"):
            continue
        name = f"jmapchat.{info.name}"
        if hasattr(importlib.import_module(name), "__all__"):
            found.append(name)
    for name in list(found):
        module = importlib.import_module(name)
        for member in module.__all__:
            if isinstance(getattr(module, member), types.ModuleType):
                found.append(f"{name}.{member}")
    return sorted(set(found))


MODULES = public_modules()


def test_the_known_public_modules_are_found() -> None:
    assert {
        "jmapchat",
        "jmapchat.models",
        "jmapchat.models.ids",
        "jmapchat.server",
        "jmapchat.testing",
        "jmapchat.testing.plugin",
    } <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_each_public_module_has_a_reference_page_in_the_nav(module: str) -> None:
    page = REFERENCE / f"{module}.md"
    assert page.is_file(), f"add {page.relative_to(ROOT)} with '::: {module}'"
    assert f"::: {module}\n" in page.read_text(encoding="utf-8")
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert f"reference/{module}.md" in nav, "list the page under 'API reference' in mkdocs.yml"


def _own_doc(obj: object) -> str | None:
    if isinstance(obj, type):
        doc = vars(obj).get("__doc__")
        return doc if isinstance(doc, str) else None
    return getattr(obj, "__doc__", None)


@pytest.mark.parametrize("module", MODULES)
def test_every_public_name_has_a_docstring(module: str) -> None:
    mod = importlib.import_module(module)
    assert mod.__doc__, module
    missing = []
    for name in mod.__all__:
        obj = getattr(mod, name)
        if isinstance(obj, type):
            if not _own_doc(obj):
                missing.append(name)
            for attr, value in vars(obj).items():
                if attr.startswith("_"):
                    continue
                fn = value.fget if isinstance(value, property) else value
                fn = getattr(fn, "__func__", fn)
                if inspect.isfunction(fn) and not fn.__doc__:
                    missing.append(f"{name}.{attr}")
        elif inspect.isfunction(obj) and not obj.__doc__:
            missing.append(f"{name}()")
    assert not missing, f"{module}: no docstring for {missing}"


# --- what the built site really renders ---------------------------------------------------


def read_inventory(path: Path) -> set[str]:
    """The object names of a Sphinx-format ``objects.inv`` (as mkdocstrings writes it)."""
    raw = path.read_bytes()
    header_end = 0
    for _ in range(4):  # four '#' header lines, then the zlib stream
        header_end = raw.index(b"\n", header_end) + 1
    body = zlib.decompress(raw[header_end:]).decode("utf-8")
    return {line.split(" ", 1)[0] for line in body.splitlines() if line}


@pytest.fixture(scope="session")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    pytest.importorskip("mkdocs", reason="the docs extra is not installed")
    site = tmp_path_factory.mktemp("site")
    out = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return read_inventory(site / "objects.inv")


@pytest.mark.parametrize("module", MODULES)
def test_the_reference_renders_every_name_of_all(module: str, inventory: set[str]) -> None:
    mod = importlib.import_module(module)
    assert module in inventory
    missing = [n for n in mod.__all__ if f"{module}.{n}" not in inventory]
    assert not missing, f"{module}: not in the rendered API reference: {missing}"
