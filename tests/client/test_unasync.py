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


def test_generated_files_cover_the_client_and_the_mirror() -> None:
    unasync = _load_script()
    targets = {t.relative_to(ROOT).as_posix() for _, t, _ in unasync.FILES}
    assert targets == {"src/jmapchat/_client/_sync.py", "src/jmapchat/sync/_sync.py"}


def test_sync_client_is_generated_from_the_async_one() -> None:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, f"run: python scripts/unasync.py\n{out.stdout}{out.stderr}"


@pytest.mark.parametrize("which", [0, 1], ids=["client", "mirror"])
def test_check_fails_with_a_diff_when_stale(
    which: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    unasync = _load_script()
    source, target, title = unasync.FILES[which]
    stale = tmp_path / "_sync.py"
    stale.write_text(target.read_text().replace("def send(", "def sent("))
    files = list(unasync.FILES)
    files[which] = (source, stale, title)
    monkeypatch.setattr(unasync, "FILES", files)
    assert unasync.main(["--check"]) == 1
    out = capsys.readouterr()
    assert "-    def sent(" in out.out
    assert "+    def send(" in out.out
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
