"""docs/testing.md's test files work in a project that is not this repository: a throwaway
project in tmp_path, in a fresh virtualenv holding only ``pip install jmapchat[testing]``
(built from this checkout; its dependencies from the package index), defining no
fixtures, runs them with pytest (the plugin comes from the ``pytest11`` entry point) on
both async backends. This proves the ``testing`` extra names everything the plugin needs.
One install per test run (~15 s with a warm pip cache)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "testing.md"
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def doc_test_files() -> list[str]:
    """The python blocks of docs/testing.md that are whole test files, in order."""
    return [b for b in FENCE.findall(DOC.read_text(encoding="utf-8")) if "def test_" in b]


def clean_env() -> dict[str, str]:
    drop = ("PYTEST", "PYTHON", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


@pytest.fixture(scope="module")
def fresh_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a new virtualenv with ``jmapchat[testing]`` and nothing else."""
    venv = tmp_path_factory.mktemp("fresh-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    out = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"{ROOT}[testing]",
        ],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, (out.stdout + out.stderr)[-6000:]
    return python


def run_pytest(python: Path, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-I", "-m", "pytest", "-v", "-p", "no:cacheprovider", *args],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_fresh_environment_has_only_the_testing_extra(fresh_python: Path) -> None:
    """The environment below really is fresh: dev-only packages of this repository are
    not there, and jmapchat is the installed copy, not this checkout."""
    probe = (
        "import importlib.util, jmapchat, sys; "
        "print(jmapchat.__file__); "
        "print([m for m in ('hypothesis', 'mypy', 'websockets', 'typer') "
        "if importlib.util.find_spec(m)])"
    )
    out = subprocess.run(
        [str(fresh_python), "-I", "-c", probe],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    where, extras = out.stdout.splitlines()
    assert str(ROOT) not in where
    assert extras == "[]"


def test_the_docs_first_test_file_runs_in_a_fresh_project(
    tmp_path: Path, fresh_python: Path
) -> None:
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

    out = run_pytest(fresh_python, project, "--snapshot-update")
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
    again = run_pytest(fresh_python, project)
    assert again.returncode == 0, (again.stdout + again.stderr)[-6000:]
    assert "1 snapshot passed" in again.stdout
