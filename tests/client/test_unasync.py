"""`_sync.py` is generated from `_async.py` by ``scripts/unasync.py``; keep it fresh."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "unasync.py"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_unasync_under_test", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sync_client_is_generated_from_the_async_one() -> None:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, f"run: python scripts/unasync.py\n{out.stdout}{out.stderr}"


@pytest.mark.parametrize(
    ("index", "good", "bad"),
    [(0, "def send(", "def sent("), (1, "def run(", "def ran("), (2, "def send(", "def sent(")],
    ids=["client", "importer", "mirror"],
)
def test_check_fails_with_a_diff_when_stale(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    index: int,
    good: str,
    bad: str,
) -> None:
    """Every generated file is checked: the blocking Client, Importer and Mirror."""
    unasync = _load_script()
    files = list(unasync.FILES)
    source, target, title = files[index]
    stale = tmp_path / "_sync.py"
    stale.write_text(target.read_text().replace(good, bad))
    files[index] = (source, stale, title)
    monkeypatch.setattr(unasync, "FILES", files)
    assert unasync.main(["--check"]) == 1
    out = capsys.readouterr()
    assert f"-    {bad}" in out.out
    assert f"+    {good}" in out.out
    assert "is stale" in out.err


def test_an_unused_rule_is_an_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    unasync = _load_script()
    rules = [*unasync.RULES, ("NoSuchAsyncName", "NoSuchName")]
    monkeypatch.setattr(unasync, "RULES", rules)
    monkeypatch.setattr(
        unasync,
        "COMPILED",
        [*unasync.COMPILED, (unasync.re.compile(r"\bNoSuchAsyncName\b"), "NoSuchName")],
    )
    assert unasync.main(["--check"]) == 1
    assert "NoSuchAsyncName" in capsys.readouterr().err
