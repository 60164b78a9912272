"""Exactly once across crashes: ``jmapchat import`` is SIGKILLed at random points, the
server is killed and restarted mid-import, and after the final re-run the server holds
every source record exactly once (counted, and compared by content)."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jmapchat import Client
from jmapchat.models import MessageFilter

from ..cli._serve import ServeProcess, jmapchat

N = 1500
TIMEOUT = 180.0


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServeProcess]:
    server = ServeProcess(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()


def write_source(path: Path) -> None:
    lines = [
        {"type": "contact", "id": "U2", "login": "bob"},
        {"type": "chat", "id": "C1", "kind": "group", "name": "crash", "members": ["U2"]},
        {"type": "chat", "id": "C2", "kind": "direct", "contact": "U2"},
    ]
    for i in range(N):
        line = {
            "type": "message",
            "id": f"m{i}",
            "chat": "C1" if i % 3 else "C2",
            "body": f"record {i}",
            "sentAt": f"2024-03-{1 + i // 86400:02d}T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:"
            f"{i % 60:02d}Z",
        }
        if i % 3 and i % 5 == 1 and i > 3:
            line["replyTo"] = f"m{i - 1}" if (i - 1) % 3 else f"m{i - 2}"
        lines.append(line)
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))


def done_count(journal: Path) -> int:
    if not journal.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5) as db:
            return int(db.execute("SELECT count(*) FROM record WHERE state='done'").fetchone()[0])
    except sqlite3.Error:  # created but no table yet
        return 0


def start_import(server: ServeProcess, source: Path, journal: Path) -> subprocess.Popen[str]:
    args = ["--json", "import", str(source), "--journal", str(journal)]
    args += ["--envelope-size", "20", "--concurrency", "2"]
    return subprocess.Popen(
        [sys.executable, "-m", "jmapchat", *args],
        env={**os.environ, **server.env()},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_progress(journal: Path, proc: subprocess.Popen[str], beyond: int) -> int:
    """Block until the journal has more than ``beyond`` done records (or the run ended)."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        now = done_count(journal)
        if now > beyond or proc.poll() is not None:
            return now
        time.sleep(0.01)
    raise AssertionError("the import made no progress")


def test_sigkill_and_server_restart_leave_each_record_exactly_once(
    served: ServeProcess, tmp_path: Path
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    source, journal = tmp_path / "source.jsonl", tmp_path / "import.journal"
    write_source(source)
    kills = 0
    done = 0
    # 1. SIGKILL the importer at random points, three times
    for _ in range(3):
        proc = start_import(served, source, journal)
        done = wait_for_progress(journal, proc, done + rng.randint(50, N // 8))
        time.sleep(rng.uniform(0, 0.05))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.communicate(timeout=TIMEOUT)
        done = done_count(journal)
    assert kills >= 2, f"seed {seed}: the import finished before it could be killed"
    assert done < N, f"seed {seed}"
    # 2. kill the server mid-import and bring it back on the same port and database
    proc = start_import(served, source, journal)
    wait_for_progress(journal, proc, done + rng.randint(50, N // 8))
    served.kill()
    time.sleep(rng.uniform(0.2, 0.6))
    served.start()
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, f"seed {seed}: {err}"
    resumed = json.loads(out)
    print(f"seed {seed}: {kills} kills, then after the server restart: {resumed}")
    # it started by settling what the last SIGKILL left in flight, and waited out the outage
    assert resumed["written"] + resumed["reconciled"] + resumed["skipped"] == N
    # 3. the final re-run writes nothing
    final = jmapchat("--json", "import", str(source), "--journal", str(journal), env=served.env())
    assert final.returncode == 0, final.stderr
    report = json.loads(final.stdout)
    assert (report["written"], report["skipped"], report["failed"]) == (0, N, {}), seed
    # the server holds every record exactly once, with its content and its parent
    with Client.connect(served.url, token=served.env()["JMAPCHAT_TOKEN"]) as client:
        chats = {c.name or c.kind: c.id for c in client.chat.get(None).list}
        assert set(chats) == {"crash", "direct"}, chats
        bodies: list[str] = []
        by_id: dict[str, str] = {}
        replies: dict[str, str] = {}
        for chat_id in chats.values():
            for msg in client.query_iter(
                "Message", filter=MessageFilter(chat_id=chat_id), page_size=500
            ):
                bodies.append(msg.body)
                by_id[msg.id] = msg.body
                if msg.reply_to:
                    replies[msg.body] = msg.reply_to
    assert len(bodies) == N, f"seed {seed}: {len(bodies)} messages for {N} records"
    assert sorted(bodies) == sorted(f"record {i}" for i in range(N)), seed
    expected = {
        json.loads(line)["body"]: json.loads(line)["replyTo"]
        for line in source.read_text().splitlines()
        if '"replyTo"' in line
    }
    assert {b: by_id[p].replace("record ", "m") for b, p in replies.items()} == expected
    assert done_count(journal) == N
