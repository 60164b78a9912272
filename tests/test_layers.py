"""The layer map of docs/design.md ("Where things live"), enforced on the source.

- Sibling packages (``_client``, ``_namespaces``, ``models``, ``server``, ``cli`` …) use the
  core only through ``jmapchat._core``'s public surface (its ``__init__`` exports).
- Inside ``_core``, nothing imports upward into the executor (``_core/_exec``), and no
  files form an import cycle (imports under ``if TYPE_CHECKING:`` excepted).
- No import cycle between the files of ``server`` either, and no import inside a function
  there but of an optional dependency.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import jmapchat._core

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "jmapchat"
CORE = "jmapchat._core"
SERVER = "jmapchat.server"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path) -> Iterator[str]:
    """Every module ``path`` imports at run time (anywhere but under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(), str(path))
    package = _module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]

    def visit(node: ast.AST) -> Iterator[str]:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if not node.module:
                # ``from . import x``: x may be a submodule
                for alias in node.names:
                    yield f"{module}.{alias.name}"
            else:
                yield module
        for child in ast.iter_child_nodes(node):
            yield from visit(child)

    yield from visit(tree)


def _files(under: Path) -> list[Path]:
    return sorted(under.rglob("*.py"))


def test_siblings_use_only_the_public_surface_of_the_core() -> None:
    found: set[tuple[str, str]] = set()
    for path in _files(PKG):
        rel = path.relative_to(PKG).as_posix()
        if rel.startswith("_core/"):
            continue
        for module in _imports(path):
            if module.startswith(CORE + "."):
                found.add((rel, module))
    assert not found, (
        "import these from jmapchat._core (add the name to _core/__init__.py's exports): "
        + ", ".join(f"{f} -> {m}" for f, m in sorted(found))
    )


def test_the_public_surface_exports_what_siblings_need() -> None:
    for name in jmapchat._core.__all__:
        assert hasattr(jmapchat._core, name), name


def _graph(package: str) -> dict[str, set[str]]:
    """Run-time imports between the files of ``package`` (lazy ones included)."""
    root = PKG.joinpath(*package.split(".")[1:])
    modules = {_module_name(p) for p in _files(root)}
    graph: dict[str, set[str]] = {}
    for path in _files(root):
        name = _module_name(path)
        graph[name] = {
            m
            for m in _imports(path)
            if m in modules and m != name and m != package  # the package itself: the surface
        }
    return graph


def _core_graph() -> dict[str, set[str]]:
    return _graph(CORE)


def _assert_no_cycles(graph: dict[str, set[str]], top: str) -> None:
    # A package __init__ re-exporting its submodules is not a cycle with them.
    graph = {
        n: {d for d in deps if not n.startswith(d + ".")} for n, deps in graph.items() if n != top
    }
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycle = [*stack[stack.index(dep) :], dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                dfs(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            dfs(node)


def test_the_graph_sees_relative_and_lazy_imports() -> None:
    graph = _core_graph()
    assert CORE + "._exec._absorb" in graph[CORE + "._exec._plan"]
    assert CORE + "._json" in graph[CORE + "._session"]


def test_nothing_below_the_executor_imports_it() -> None:
    exec_pkg = CORE + "._exec"
    for name, deps in _core_graph().items():
        if name == CORE or name.startswith(exec_pkg):
            continue
        upward = sorted(d for d in deps if d.startswith(exec_pkg))
        assert not upward, f"{name} imports the executor: {upward}"


def test_no_import_cycles_inside_the_core() -> None:
    _assert_no_cycles(_core_graph(), CORE)


def test_no_import_cycles_inside_the_server() -> None:
    graph = _graph(SERVER)
    assert SERVER + "._types._access" in graph[SERVER + "._push"]  # the graph is not empty
    _assert_no_cycles(graph, SERVER)


def test_cycle_check_finds_a_cycle() -> None:
    graph = {"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}}
    with pytest.raises(AssertionError, match=re.escape("p.a -> p.b -> p.c -> p.a")):
        _assert_no_cycles(graph, "p")


def _function_level_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(fn):
                if isinstance(node, ast.Import):
                    found += [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    found.append("." * node.level + (node.module or ""))
    return found


# Imported inside functions on purpose: optional at run time (trio only under trio, the
# hypercorn server only for a real socket, Pillow only to check an image).
OPTIONAL_IN_SERVER = {"trio", "hypercorn.config", "hypercorn.trio", "PIL"}


def test_the_server_imports_at_module_level() -> None:
    """Function-level imports hide cycles; the server has none but optional dependencies."""
    found = {
        f"{path.relative_to(PKG).as_posix()}: {module}"
        for path in _files(PKG / "server")
        for module in _function_level_imports(path)
        if module not in OPTIONAL_IN_SERVER
    }
    assert not found, sorted(found)
