"""The mirror (``jmapchat.sync.Mirror``) against the naive way, on the reference server
over real loopback HTTP, with the blocking client; HTTP requests counted with an httpx
event hook.

(a) A sync step after 1,000 changes across three types (500 new Messages, 400 updated
    Chats, 100 updated ChatContacts): the mirror's step (per type ``/changes`` + two
    ``/get`` by back-reference, all types in one request, written to a SQLite store)
    versus the naive way (per type, one ``/changes`` request, then one ``/get`` request
    of the created and updated ids). Both start from the same states; best of 5,
    interleaved.
(b) The initial load of N messages (default 5,000; ``--full``: 50,000) in one chat:
    requests, seconds and peak Python memory (tracemalloc, a separate run) of the
    mirror's load, versus paging ``client.query_iter`` (query + get per 500).

    .venv/bin/python benchmarks/sync_step.py [--full]
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
from jmapchat.sync import Mirror

TYPES = ["ChatContact", "Chat", "Message"]
NAMESPACES = {"ChatContact": "chat_contact", "Chat": "chat", "Message": "message"}
REPEAT = 5


class Counter:
    def __init__(self) -> None:
        self.requests = 0

    def __call__(self, request: httpx.Request) -> None:
        self.requests += request.method == "POST"


def connect(url: str, token: str, counter: Counter) -> jmapchat.Client:
    http = httpx.Client(event_hooks={"request": [counter]}, timeout=300)
    return jmapchat.Client.connect(url, token=token, http_client=http).open()


def step_benchmark(tmp: Path) -> tuple[float, float, int, int]:
    users = ["alice", *(f"u{i:03}" for i in range(100))]
    with ChatServer(users=users) as server, serve_in_thread(server) as url:
        counter = Counter()
        client = connect(url, server.tokens["alice"], counter)
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

        req = client.request()
        req.message.set(
            create={
                f"m{i}": MessageCreate(chat_id=chat_ids[0], body=f"message {i}") for i in range(500)
            }
        )
        req.chat.set(update={c: ChatUpdate(muted=True) for c in chat_ids})
        req.chat_contact.set(update={c: ChatContactUpdate(display_name="x") for c in contacts})
        client.send(req)

        def mirror_step() -> tuple[int, float]:
            copy = tmp / "step.sqlite"
            copy.unlink(missing_ok=True)
            shutil.copyfile(snapshot, copy)
            with Mirror(client, store=copy, types=TYPES) as m:
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

        def naive_step() -> tuple[int, float]:
            before = counter.requests
            t0 = time.perf_counter()
            changed = 0
            for t in TYPES:
                ns = getattr(client, NAMESPACES[t])
                state = start[t]
                assert state is not None
                ch = ns.changes(since_state=state)
                ids = [*ch.created, *ch.updated]
                got = ns.get(ids=ids)
                changed += len(got.list)
            assert changed == 1000
            return counter.requests - before, time.perf_counter() - t0

        cases: dict[str, Callable[[], tuple[int, float]]] = {
            "mirror": mirror_step,
            "naive": naive_step,
        }
        best = dict.fromkeys(cases, float("inf"))
        requests: dict[str, int] = {}
        for _ in range(REPEAT):
            for name, fn in cases.items():
                requests[name], seconds = fn()
                best[name] = min(best[name], seconds)
        client.close()
    return best["mirror"], best["naive"], requests["mirror"], requests["naive"]


def load_benchmark(count: int) -> list[tuple[str, ...]]:
    with ChatServer(users=["alice", "bob"]) as server:
        seed_messages(server, count)
        with serve_in_thread(server) as url:
            rows: list[tuple[str, ...]] = []
            results: dict[str, tuple[int, float, float]] = {}

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

            for name, fn in (("mirror load", mirror_load), ("query_iter paging", paging_load)):
                counter = Counter()
                t0 = time.perf_counter()
                got = fn(counter)
                seconds = time.perf_counter() - t0
                assert got == count, (name, got)
                tracemalloc.start()
                fn(Counter())
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                results[name] = (counter.requests, seconds, peak / 1e6)
            for name, (req, sec, mb) in results.items():
                rows.append((name, str(req), f"{sec:.2f}", f"{mb:.0f}"))
            m, p = results["mirror load"], results["query_iter paging"]
            rows.append(
                (
                    "ratio paging/mirror",
                    f"{p[0] / m[0]:.1f}×",
                    f"{p[1] / m[1]:.2f}×",
                    f"{p[2] / m[2]:.2f}×",
                )
            )
            return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="load 50,000 messages (default 5,000)")
    args = parser.parse_args()
    count = 50_000 if args.full else 5_000
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        mirror_s, naive_s, mirror_n, naive_n = step_benchmark(Path(tmp))
    print("\n(a) one sync step after 1,000 changes across 3 types (best of 5)")
    print(
        table(
            [
                ("mirror step", str(mirror_n), f"{mirror_s * 1000:.0f}"),
                ("naive (/changes, /get per type)", str(naive_n), f"{naive_s * 1000:.0f}"),
                ("ratio naive/mirror", f"{naive_n / mirror_n:.1f}×", f"{naive_s / mirror_s:.2f}×"),
            ],
            ("", "HTTP requests", "ms"),
        )
    )
    print(f"\n(b) initial load of {count:,} messages in one chat")
    print(table(load_benchmark(count), ("", "HTTP requests", "seconds", "peak MB")))
    print(
        f"\nRESULT sync_step requests ratio = {naive_n / mirror_n:.1f}× "
        f"({naive_n} vs {mirror_n}), time ratio = {naive_s / mirror_s:.2f}×"
    )


if __name__ == "__main__":
    main()
