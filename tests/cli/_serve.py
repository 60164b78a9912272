"""Run the real ``jmapchat`` command in a subprocess: the server and the client commands."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

STARTUP = 60.0  # generous: CI has 2 cores shared with other jobs


def jmapchat(
    *args: str, env: dict[str, str] | None = None, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m jmapchat ARGS`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "jmapchat", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        input=input,
        timeout=timeout,
    )


class ServeProcess:
    """``jmapchat serve`` on a file database; its output goes to a file (never a full pipe)."""

    def __init__(self, tmp: Path, users: tuple[str, ...] = ("alice", "bob"), *extra: str) -> None:
        self.tmp = tmp
        self.db = tmp / "chat.sqlite"
        self.token_file = tmp / "tokens.json"
        self.users = users
        self.extra = extra
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> ServeProcess:
        self.starts += 1
        log = self.tmp / f"serve-{self.starts}.log"
        args = ["serve", "--db", str(self.db), "--port", str(self.port)]
        args += ["--token-file", str(self.token_file), *self.extra]
        for user in self.users:
            args += ["--user", user]
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jmapchat", *args], stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + STARTUP
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace")
            found = re.search(r"session: http://[\d.]+:(\d+)/", text)
            if found:
                self.port = int(found.group(1))
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"jmapchat serve exited: {text}")
            time.sleep(0.05)
        raise RuntimeError(f"jmapchat serve did not start: {log.read_text()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, user: str = "alice") -> dict[str, str]:
        import json

        tokens: dict[str, Any] = json.loads(self.token_file.read_text())
        return {"JMAPCHAT_URL": self.url, "JMAPCHAT_TOKEN": tokens[user]}

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        self.proc = None
