"""The core is sans-IO: importing it must not load any I/O library."""

from __future__ import annotations

import subprocess
import sys


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
    code = (
        "import sys; before = set(sys.modules); import jmapchat._core;"
        "new = {m.split('.')[0] for m in set(sys.modules) - before};"
        "std = set(sys.stdlib_module_names);"
        "print(','.join(sorted(m for m in new if m not in std and not m.startswith('_'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    third_party = set(filter(None, out.stdout.strip().split(",")))
    allowed = {"jmapchat", "pydantic", "pydantic_core", "typing_extensions",
               "typing_inspection", "annotated_types"}
    assert third_party <= allowed, third_party - allowed
