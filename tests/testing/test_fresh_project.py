"""docs/testing.md's test files work in a project that is not this repository: a throwaway
project in tmp_path, depending only on the installed ``jmapchat[testing]``, defining no
fixtures, runs them with pytest (the plugin comes from the ``pytest11`` entry point) on
both async backends."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "testing.md"
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def doc_test_files() -> list[str]:
    """The python blocks of docs/testing.md that are whole test files, in order."""
    return [b for b in FENCE.findall(DOC.read_text(encoding="utf-8")) if "def test_" in b]


def run_pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "PYTHON"))}
    return subprocess.run(
        [sys.executable, "-I", "-m", "pytest", "-v", "-p", "no:cacheprovider", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_docs_first_test_file_runs_in_a_fresh_project(tmp_path: Path) -> None:
    files = doc_test_files()
    first = FENCE.findall(DOC.read_text(encoding="utf-8"))[0]
    assert files[0] == first, "the first python block of docs/testing.md is a test file"
    assert "@pytest.fixture" not in first
    assert "conftest" not in first

    project = tmp_path / "someone-elses-project"
    (project / "tests").mkdir(parents=True)
    assert ROOT not in project.parents
    (project / "pyproject.toml").write_text(
        '[project]\nname = "someone-elses-project"\nversion = "0"\n'
        'dependencies = ["jmapchat[testing]"]\n\n'
        "[tool.pytest.ini_options]\n"
        'testpaths = ["tests"]\nfilterwarnings = ["error"]\n',
        encoding="utf-8",
    )
    for i, body in enumerate(files):
        (project / "tests" / f"test_doc_{i}.py").write_text(body, encoding="utf-8")

    out = run_pytest(project, "--snapshot-update")
    report = out.stdout + out.stderr
    assert out.returncode == 0, report[-6000:]
    assert "from jmapchat" not in (project / "pyproject.toml").read_text()
    assert str(ROOT / "tests") not in report  # nothing of this repository's tests was used
    # The first file's async tests ran on both backends, and passed.
    for backend in ("asyncio", "trio"):
        assert re.search(
            rf"test_doc_0\.py::test_alice_writes_bob_reads\[{backend}\] PASSED", report
        )
        assert re.search(
            rf"test_doc_0\.py::test_a_lost_answer_is_reported\[{backend}\] PASSED", report
        )
    assert re.search(r"test_doc_0\.py::test_blocking_client PASSED", report)

    # The envelope snapshot written by the first run holds on a second run: deterministic.
    again = run_pytest(project)
    assert again.returncode == 0, (again.stdout + again.stderr)[-6000:]
    assert "1 snapshot passed" in again.stdout
