"""The examples run against the built-in server (started in-process) and say what they did."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize(
    ("script", "args", "expect"),
    [
        ("quickstart.py", [], "set + changes in 1 HTTP request"),
        ("bulk_import.py", ["--count", "1200"], "imported 1200 of 1200 messages"),
        ("set_then_changes.py", [], "set + edit-by-creation-id + changes: 1 HTTP request"),
    ],
)
def test_example_runs(script: str, args: list[str], expect: str) -> None:
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert expect in run.stdout
