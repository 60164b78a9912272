"""``jmapchat import`` throughput: JSON Lines -> the reference server (file database).

For each size (10,000 by default; 10,000 and 100,000 with ``--full``) on a fresh
``jmapchat serve --port 0 --db FILE`` subprocess:

- baseline: the same messages (replies included) as raw batched ``Message/set``
  requests of ``maxObjectsInSet`` over httpx, one after another, no journal and no
  typed parsing (what a hand-written loop does);
- candidate: ``jmapchat --json import FILE`` in a subprocess (journal, exactly-once,
  several envelopes in flight): messages/s over the process's wall time, and over the
  importer's own run (without interpreter start-up), HTTP requests (counted in the
  server's access log), and peak RSS of the import process (``wait4``);
- a re-run of the same import after completion: messages written (must be 0) and requests.

Run: ``.venv/bin/python benchmarks/import_throughput.py [--full]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, table

USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:chat"]
POST = "POST /jmap/api"


def message(i: int) -> dict[str, Any]:
    """Record ``i`` of the source; every tenth replies to the one before it."""
    line: dict[str, Any] = {
        "type": "message",
        "id": f"m{i}",
        "chat": "C",
        "body": f"benchmark message {i} " + "lorem ipsum " * 4,
        "sentAt": f"2024-01-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
    }
    if i % 10 == 9:
        line["replyTo"] = f"m{i - 1}"
    return line


def write_source(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps({"type": "chat", "id": "C", "kind": "group", "name": "bench"}) + "\n")
        for i in range(n):
            out.write(json.dumps(message(i)) + "\n")


class Server:
    def __init__(self, tmp: Path) -> None:
        self.log = tmp / "serve.log"
        tokens = tmp / "tokens.json"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "jmapchat",
                    "serve",
                    "--db",
                    str(tmp / "chat.sqlite"),
                    "--port",
                    "0",
                    "--user",
                    "alice",
                    "--user",
                    "bob",
                    "--token-file",
                    str(tokens),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while not (found := re.search(r"session: (http://[\d.:]+)/", self.log.read_text())):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"the server did not start:\n{self.log.read_text()}")
            time.sleep(0.05)
        self.url = found.group(1)
        self.token = json.loads(tokens.read_text())["alice"]

    def posts(self) -> int:
        return self.log.read_text(errors="replace").count(POST)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def baseline(server: Server, n: int) -> float:
    """Messages/s of raw sequential Message/set batches (no journal, no reconciliation)."""
    headers = {"Authorization": f"Bearer {server.token}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=120) as http:
        session = http.get("/.well-known/jmap", follow_redirects=True).json()
        acc = session["primaryAccounts"]["urn:ietf:params:jmap:chat"]
        batch = session["capabilities"]["urn:ietf:params:jmap:core"]["maxObjectsInSet"]
        api = session["apiUrl"]

        def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
            body = {"using": USING, "methodCalls": [[name, {"accountId": acc, **args}, "0"]]}
            reply = http.post(api, json=body)
            reply.raise_for_status()
            out: dict[str, Any] = reply.json()["methodResponses"][0][1]
            return out

        chat = call(
            "Chat/set", {"create": {"c": {"kind": "group", "name": "raw", "memberIds": []}}}
        )
        chat_id = chat["created"]["c"]["id"]
        started = time.perf_counter()
        ids: dict[str, str] = {}
        for start in range(0, n, batch):
            create = {}
            for i in range(start, min(n, start + batch)):
                msg = message(i)  # the same messages as the JSON Lines source
                msg.update(chatId=chat_id, bodyType="text/plain")
                if "replyTo" in msg:
                    parent = msg["replyTo"]
                    msg["replyTo"] = ids.get(parent, "#" + parent)
                create[f"m{i}"] = {k: v for k, v in msg.items() if k not in ("type", "id", "chat")}
            created = call("Message/set", {"create": create})["created"]
            assert len(created) == len(create)
            ids.update({k: v["id"] for k, v in created.items()})
        return n / (time.perf_counter() - started)


def run_import(server: Server, source: Path, journal: Path) -> tuple[dict[str, Any], float, int]:
    """(report, seconds, peak RSS in KiB) of one ``jmapchat --json import`` process."""
    env = {**os.environ, "JMAPCHAT_URL": server.url, "JMAPCHAT_TOKEN": server.token}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jmapchat",
            "--json",
            "import",
            str(source),
            "--journal",
            str(journal),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"jmapchat import failed: {err.decode()}")
    return json.loads(out), seconds, usage.ru_maxrss


def measure(n: int) -> tuple[str, ...]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        source = tmp / "source.jsonl"
        write_source(source, n)
        server = Server(tmp)
        try:
            raw_rate = baseline(server, n)
            before = server.posts()
            report, seconds, rss = run_import(server, source, tmp / "journal.sqlite")
            requests = server.posts() - before
            assert report["written"] == n, report
            before = server.posts()
            again, again_seconds, _ = run_import(server, source, tmp / "journal.sqlite")
            again_requests = server.posts() - before
        finally:
            server.stop()
    rate = n / seconds
    return (
        f"{n:,}",
        f"{rate:,.0f}",
        f"{n / report['seconds']:,.0f}",
        f"{raw_rate:,.0f}",
        f"{rate / raw_rate:.2f}x",
        f"{requests:,}",
        f"{rss / 1024:,.0f} MiB",
        f"{again['written']} written, {again['skipped']:,} skipped",
        f"{again_requests} ({again_seconds:.1f}s)",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also 100,000 messages")
    args = parser.parse_args()
    sizes = [10_000, 100_000] if args.full else [10_000]
    print(f"jmapchat import throughput — {machine()}")
    print("JSON Lines -> jmapchat serve (file database) over loopback; wall time incl. start-up")
    rows = [measure(n) for n in sizes]
    header = (
        "messages",
        "import msg/s",
        "(excl. start-up)",
        "raw loop msg/s",
        "ratio",
        "HTTP requests",
        "peak RSS",
        "re-run",
        "re-run requests",
    )
    print(table(rows, header))
    for row in rows:
        print(
            f"RESULT import_throughput {row[0]} messages = {row[1]} messages/s "
            f"({row[4]} of the raw loop), {row[5]} HTTP requests, peak RSS {row[6]}, "
            f"re-run {row[7]}"
        )


if __name__ == "__main__":
    main()
