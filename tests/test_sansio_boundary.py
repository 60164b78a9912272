"""The core is sans-IO: importing it must not load any I/O library."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path


def test_core_imports_no_io_libraries() -> None:
    code = (
        "import sys, jmapchat._core, jmapchat.models;"
        "bad = sorted(m for m in ('httpx', 'anyio', 'trio', 'httpcore', 'starlette')"
        " if m in sys.modules);"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_core_imports_only_stdlib_and_pydantic() -> None:
    """Every import statement in jmapchat/_core is stdlib, pydantic or the core itself."""
    core = Path(__file__).resolve().parents[1] / "src" / "jmapchat" / "_core"
    allowed = set(sys.stdlib_module_names) | {"pydantic", "pydantic_core"}
    bad: list[str] = []
    for path in sorted(core.rglob("*.py")):  # the executor sub-package included
        depth = len(path.relative_to(core).parts)  # 1 in _core, 2 in _core/_exec
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level > depth:
                bad.append(f"{path.name}: relative import above jmapchat._core")
                continue
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            bad += [f"{path.name}: {n}" for n in names if n.split(".")[0] not in allowed]
    assert not bad, bad
