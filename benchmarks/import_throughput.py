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
- a re-run of the same import after completion: messages written (must be 0) and requests;
- client CPU per 1,000 messages: the import process's user + system time (``wait4``)
  less that of importing an empty source (interpreter start-up, connecting, the journal;
  the least of two such runs), next to the raw loop's own CPU (``time.process_time``),
  and their ratio.

``--old-src DIR`` also runs the import with another tree's code (``PYTHONPATH=DIR``, e.g.
``git archive main src | tar -x -C /tmp/main``), alternating with this tree's, against the
same server: a before/after in the same machine state. ``--repeat N`` runs each N times;
``--sizes 100000`` picks the sizes.

Run: ``.venv/bin/python benchmarks/import_throughput.py [--full] [--old-src DIR] [--repeat N]
[--sizes N,...]``.
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
from dataclasses import dataclass
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


def baseline(server: Server, n: int) -> tuple[float, float]:
    """(messages/s, client CPU seconds) of raw sequential Message/set batches (no journal,
    no reconciliation)."""
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
        cpu = time.process_time()
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
        return n / (time.perf_counter() - started), time.process_time() - cpu


@dataclass
class Run:
    """One ``jmapchat --json import`` process."""

    report: dict[str, Any]
    seconds: float  # wall time of the process
    cpu: float  # user + system seconds of the process
    rss: int  # peak RSS, KiB


def run_import(server: Server, source: Path, journal: Path, src: str | None = None) -> Run:
    """Run ``jmapchat --json import`` (with the code in ``src`` when given)."""
    env = {**os.environ, "JMAPCHAT_URL": server.url, "JMAPCHAT_TOKEN": server.token}
    if src is not None:
        env["PYTHONPATH"] = src
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
    cpu = usage.ru_utime + usage.ru_stime
    return Run(json.loads(out), seconds, cpu, usage.ru_maxrss)


def measure(n: int, trees: dict[str, str | None], repeat: int) -> list[tuple[str, ...]]:
    """Rows for ``n`` messages: per tree (name -> src dir, None = this one) and repeat,
    with a raw loop in the same server before each round."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        source = tmp / "source.jsonl"
        write_source(source, n)
        empty = tmp / "empty.jsonl"
        empty.write_text("")
        server = Server(tmp)
        try:
            for r in range(repeat):
                raw_rate, raw_cpu = baseline(server, n)
                names = list(trees) if r % 2 == 0 else list(reversed(trees))  # alternate
                for name in names:
                    src = trees[name]
                    journal = tmp / f"journal-{name}-{r}.sqlite"
                    idle = min(  # start-up CPU: the least of two, as it varies run to run
                        run_import(server, empty, tmp / f"empty-{name}-{r}-{k}.sqlite", src).cpu
                        for k in range(2)
                    )
                    before = server.posts()
                    run = run_import(server, source, journal, src)
                    requests = server.posts() - before
                    assert run.report["written"] == n, run.report
                    before = server.posts()
                    again = run_import(server, source, journal, src)
                    again_requests = server.posts() - before
                    rate = n / run.seconds
                    cpu_k = (run.cpu - idle) / n * 1000
                    raw_k = raw_cpu / n * 1000
                    rows.append(
                        (
                            f"{n:,}",
                            name,
                            f"{rate:,.0f}",
                            f"{n / run.report['seconds']:,.0f}",
                            f"{raw_rate:,.0f}",
                            f"{rate / raw_rate:.2f}x",
                            f"{cpu_k * 1000:,.0f} ms",
                            f"{raw_k * 1000:,.0f} ms",
                            f"{cpu_k / raw_k:.2f}x",
                            f"{requests:,}",
                            f"{run.rss / 1024:,.0f} MiB",
                            f"{again.report['written']} written, "
                            f"{again.report['skipped']:,} skipped",
                            f"{again_requests} ({again.seconds:.1f}s)",
                        )
                    )
        finally:
            server.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also 100,000 messages")
    parser.add_argument("--old-src", help="also run the import with the code in this src dir")
    parser.add_argument("--repeat", type=int, default=1, help="rounds per size (default 1)")
    parser.add_argument("--sizes", help="comma-separated message counts (instead of the above)")
    args = parser.parse_args()
    sizes = [10_000, 100_000] if args.full else [10_000]
    if args.sizes:
        sizes = [int(x) for x in args.sizes.split(",")]
    trees: dict[str, str | None] = {"this": None}
    if args.old_src:
        trees["old"] = str(Path(args.old_src).resolve())
    print(f"jmapchat import throughput — {machine()}")
    print("JSON Lines -> jmapchat serve (file database) over loopback; wall time incl. start-up")
    rows = [row for n in sizes for row in measure(n, trees, args.repeat)]
    header = (
        "messages",
        "tree",
        "import msg/s",
        "(excl. start-up)",
        "raw loop msg/s",
        "ratio",
        "CPU/1k msgs",
        "raw CPU/1k",
        "CPU ratio",
        "HTTP requests",
        "peak RSS",
        "re-run",
        "re-run requests",
    )
    print(table(rows, header))
    for row in rows:
        print(
            f"RESULT import_throughput {row[0]} messages ({row[1]}) = {row[2]} messages/s "
            f"({row[5]} of the raw loop), client CPU {row[6]} per 1,000 ({row[8]} of the raw "
            f"loop's), {row[9]} HTTP requests, peak RSS {row[10]}, re-run {row[11]}"
        )


if __name__ == "__main__":
    main()
