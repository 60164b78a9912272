"""Typing is part of the API: mypy --strict must infer the typed results (not Any)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKS = sorted((ROOT / "tests" / "typing").glob("check_*.py"))


@pytest.mark.parametrize("path", CHECKS, ids=[p.name for p in CHECKS])
def test_types_check_with_mypy_strict(path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--warn-unused-ignores",
            "--no-incremental",
            "--cache-dir=/dev/null",
            str(path.relative_to(ROOT)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
