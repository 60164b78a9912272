"""Bearer tokens (issue 9, point 7): the database holds only a digest of each token, and
``--token-file`` is created readable by its owner only."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import sys
from pathlib import Path

import pytest

from jmapchat.server import ChatServer


def test_database_stores_only_token_digests(tmp_path: Path) -> None:
    db = tmp_path / "t.sqlite"
    with ChatServer(db=str(db), users=["alice"], tokens={"bob": "unused"}) as server:
        token = server.tokens["alice"]
        server.add_user("bob", token="bob-chosen-token-123")
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("t.sqlite"))
    assert token.encode() not in raw
    assert b"bob-chosen-token-123" not in raw
    rows = sqlite3.connect(db).execute("SELECT token FROM users").fetchall()
    assert all(token not in r[0] and "bob-chosen" not in r[0] for r in rows)
    # the digest still authenticates after a restart, and a wrong token does not
    with ChatServer(db=str(db)) as server:
        assert server._user_for_token(token) == "alice"
        assert server._user_for_token("bob-chosen-token-123") == "bob"
        assert server._user_for_token("nope") is None
        assert "alice" not in server.tokens  # the plaintext is not kept across restarts


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_token_file_is_private(tmp_path: Path) -> None:
    from jmapchat.server import write_token_file

    path = tmp_path / "tokens.json"
    old = os.umask(0o022)
    try:
        write_token_file(path, {"alice": "secret"})
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        path.chmod(0o644)  # an existing file loosened by hand is tightened again
        write_token_file(path, {"alice": "secret", "bob": "s2"})
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(old)
    assert json.loads(path.read_text()) == {"alice": "secret", "bob": "s2"}


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_cli_token_file_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``jmapchat serve --token-file`` (the real command; serving itself is skipped)."""
    import trio

    from jmapchat.cli import main

    seen: dict[str, object] = {}

    def fake_run(*args: object, **kw: object) -> None:
        seen["mode"] = stat.S_IMODE((tmp_path / "tok.json").stat().st_mode)

    monkeypatch.setattr(trio, "run", fake_run)
    old = os.umask(0o022)
    try:
        rc = main(
            [
                "serve",
                "--db",
                str(tmp_path / "c.sqlite"),
                "--user",
                "alice",
                "--token-file",
                str(tmp_path / "tok.json"),
            ]
        )
    finally:
        os.umask(old)
    assert rc == 0
    assert seen["mode"] == 0o600
