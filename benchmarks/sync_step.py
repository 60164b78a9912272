"""The mirror (``jmapchat.sync.Mirror``) against the naive way, on the reference server
over real loopback HTTP, with the blocking client; HTTP requests counted with an httpx
event hook.

(a) A sync step after 1,000 changes across three types (500 new Messages, 400 updated
    Chats, 100 updated ChatContacts): the mirror's step (per type ``/changes`` + two
    ``/get`` by back-reference, all types in one request; written to a SQLite or a memory
    store, with the typed diff computed) versus the naive way (per type, one ``/changes``
    request, then one ``/get`` request of the created and updated ids; nothing stored).
    All start from the same states; best of 5, interleaved; on plain loopback and with
    a simulated round-trip time added to every request (``--rtt``, default 20 ms).
(b) The initial load of N messages (default 5,000; ``--full``: 50,000) in one chat:
    requests, seconds and peak Python memory (tracemalloc, a separate run) of the
    mirror's load, versus paging ``client.query_iter`` (query + get per 500; its peak
    memory is skipped with ``--full``, where the server re-sorting 50,000 messages for
    each of its 100 pages makes a second run too long).

    .venv/bin/python benchmarks/sync_step.py [--full] [--rtt MS]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, seed_messages, table

import jmapchat
from jmapchat.models import ChatContactUpdate, ChatCreate, ChatUpdate, MessageCreate
from jmapchat.server import ChatServer, serve_in_thread
from jmapchat.sync import MemoryStore, Mirror, TypeWrite

TYPES = ["ChatContact", "Chat", "Message"]
NAMESPACES = {"ChatContact": "chat_contact", "Chat": "chat", "Message": "message"}
REPEAT = 5


class Counter:
    def __init__(self) -> None:
        self.requests = 0

    def __call__(self, request: httpx.Request) -> None:
        self.requests += request.method == "POST"


class Delayed(httpx.HTTPTransport):
    """Adds a fixed round-trip time to every request (a simulated network)."""

    def __init__(self, rtt: float) -> None:
        super().__init__()
        self.rtt = rtt

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        time.sleep(self.rtt)
        return super().handle_request(request)


def connect(url: str, token: str, counter: Counter, rtt: float = 0.0) -> jmapchat.Client:
    http = httpx.Client(
        event_hooks={"request": [counter]},
        timeout=300,
        transport=Delayed(rtt) if rtt else None,
    )
    return jmapchat.Client.connect(url, token=token, http_client=http).open()


def step_benchmark(tmp: Path, rtt: float) -> list[tuple[str, ...]]:
    """Rows: (case, HTTP requests, ms on loopback, ms with ``rtt`` added per request)."""
    users = ["alice", *(f"u{i:03}" for i in range(100))]
    with ChatServer(users=users) as server, serve_in_thread(server) as url:
        counter = Counter()
        client = connect(url, server.tokens["alice"], counter)
        slow = connect(url, server.tokens["alice"], counter, rtt)
        made = client.chat.set(
            create={f"g{i}": ChatCreate.group(name=f"g{i}", member_ids=[]) for i in range(400)}
        )
        made.raise_for_errors()
        chat_ids = [c.id for c in made.created.values()]
        contacts = [c.id for c in client.chat_contact.get(ids=None).list]
        snapshot = tmp / "at-start.sqlite"
        with Mirror(client, store=snapshot, types=TYPES) as mirror:
            mirror.sync()
            start = {t: mirror.state(t) for t in TYPES}
            loaded = [
                TypeWrite(t, state=start[t] or "", put=dict(mirror.objects(t)), replace=True)
                for t in TYPES
            ]

        req = client.request()
        req.message.set(
            create={
                f"m{i}": MessageCreate(chat_id=chat_ids[0], body=f"message {i}") for i in range(500)
            }
        )
        req.chat.set(update={c: ChatUpdate(muted=True) for c in chat_ids})
        req.chat_contact.set(update={c: ChatContactUpdate(display_name="x") for c in contacts})
        client.send(req)

        def mirror_step(c: jmapchat.Client, store: Any) -> tuple[int, float]:
            with Mirror(c, store=store, types=TYPES) as m:
                before = counter.requests
                t0 = time.perf_counter()
                diff = m.sync()
                seconds = time.perf_counter() - t0
                n = counter.requests - before
            changed = sum(
                len(diff.created(t)) + len(diff.updated(t)) + len(diff.destroyed(t)) for t in TYPES
            )
            assert changed == 1000, diff
            return n, seconds

        def sqlite_step(c: jmapchat.Client) -> tuple[int, float]:
            copy = tmp / "step.sqlite"
            copy.unlink(missing_ok=True)
            shutil.copyfile(snapshot, copy)
            return mirror_step(c, copy)

        def memory_step(c: jmapchat.Client) -> tuple[int, float]:
            store = MemoryStore()
            store.bind(c.account_id, {})
            store.write(loaded)
            return mirror_step(c, store)

        def naive_step(c: jmapchat.Client) -> tuple[int, float]:
            before = counter.requests
            t0 = time.perf_counter()
            changed = 0
            for t in TYPES:
                ns = getattr(c, NAMESPACES[t])
                state = start[t]
                assert state is not None
                ch = ns.changes(since_state=state)
                got = ns.get(ids=[*ch.created, *ch.updated])
                changed += len(got.list)
            assert changed == 1000
            return counter.requests - before, time.perf_counter() - t0

        cases: dict[str, Callable[[jmapchat.Client], tuple[int, float]]] = {
            "mirror step, SQLite store": sqlite_step,
            "mirror step, memory store": memory_step,
            "naive (/changes, /get per type)": naive_step,
        }
        best = {(name, c): float("inf") for name in cases for c in ("fast", "slow")}
        requests: dict[str, int] = {}
        for _ in range(REPEAT):
            for name, fn in cases.items():
                for which, c in (("fast", client), ("slow", slow)):
                    requests[name], seconds = fn(c)
                    best[name, which] = min(best[name, which], seconds)
        client.close()
        slow.close()
    rows = [
        (
            name,
            str(requests[name]),
            f"{best[name, 'fast'] * 1e3:.0f}",
            f"{best[name, 'slow'] * 1e3:.0f}",
        )
        for name in cases
    ]
    naive = "naive (/changes, /get per type)"
    for name in list(cases)[:2]:
        rows.append(
            (
                f"ratio naive / {name.split(', ')[1]}",
                f"{requests[naive] / requests[name]:.1f}×",
                f"{best[naive, 'fast'] / best[name, 'fast']:.2f}×",
                f"{best[naive, 'slow'] / best[name, 'slow']:.2f}×",
            )
        )
    return rows


def load_benchmark(count: int, *, baseline_memory: bool) -> list[tuple[str, ...]]:
    """Rows: (case, HTTP requests, seconds, peak MB). Peak memory (tracemalloc) comes from
    a second, traced run; for the baseline only if ``baseline_memory``."""
    with ChatServer(users=["alice", "bob"]) as server:
        seed_messages(server, count)
        with serve_in_thread(server) as url:

            def mirror_load(counter: Counter) -> int:
                with (
                    connect(url, server.tokens["alice"], counter) as client,
                    Mirror(client, types=["Chat", "Message"]) as mirror,
                ):
                    mirror.sync()
                    return len(mirror.objects("Message"))

            def paging_load(counter: Counter) -> int:
                with connect(url, server.tokens["alice"], counter) as client:
                    kept: dict[str, Any] = {}
                    for chat in client.chat.get(ids=None).list:
                        for m in client.query_iter(
                            "Message", filter={"chatId": chat.id}, page_size=500
                        ):
                            kept[m.id] = m
                    return len(kept)

            results: dict[str, tuple[int, float, float | None]] = {}
            cases = (("mirror load", mirror_load, True), ("query_iter paging", paging_load, False))
            for name, fn, traced in cases:
                counter = Counter()
                t0 = time.perf_counter()
                got = fn(counter)
                seconds = time.perf_counter() - t0
                assert got == count, (name, got)
                peak: float | None = None
                if traced or baseline_memory:
                    tracemalloc.start()
                    fn(Counter())
                    peak = tracemalloc.get_traced_memory()[1] / 1e6
                    tracemalloc.stop()
                results[name] = (counter.requests, seconds, peak)
                print(f"  {name}: {counter.requests} requests, {seconds:.2f}s", flush=True)
    rows = [
        (name, str(req), f"{sec:.2f}", "-" if mb is None else f"{mb:.0f}")
        for name, (req, sec, mb) in results.items()
    ]
    m, p = results["mirror load"], results["query_iter paging"]
    rows.append(
        (
            "ratio paging/mirror",
            f"{p[0] / m[0]:.1f}×",
            f"{p[1] / m[1]:.2f}×",
            "-" if p[2] is None or m[2] is None else f"{p[2] / m[2]:.2f}×",
        )
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="load 50,000 messages (default 5,000)")
    parser.add_argument(
        "--rtt", type=float, default=20.0, help="simulated round-trip time in ms (default 20)"
    )
    args = parser.parse_args()
    count = 50_000 if args.full else 5_000
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        rows = step_benchmark(Path(tmp), args.rtt / 1000)
    print(f"\n(a) one sync step after 1,000 changes across 3 types (best of {REPEAT})")
    print(table(rows, ("", "HTTP requests", "ms, loopback", f"ms, +{args.rtt:g} ms RTT")))
    print(f"\n(b) initial load of {count:,} messages in one chat", flush=True)
    rows_b = load_benchmark(count, baseline_memory=not args.full)
    print(table(rows_b, ("", "HTTP requests", "seconds", "peak MB")))
    sqlite_ratio, memory_ratio = rows[-2], rows[-1]
    print(
        f"\nRESULT sync_step requests ratio = {sqlite_ratio[1]} ({rows[2][1]} vs {rows[0][1]}); "
        f"time ratio naive/mirror loopback = {sqlite_ratio[2]} (SQLite), {memory_ratio[2]} "
        f"(memory); at +{args.rtt:g} ms RTT = {sqlite_ratio[3]} (SQLite), "
        f"{memory_ratio[3]} (memory)"
    )


if __name__ == "__main__":
    main()
