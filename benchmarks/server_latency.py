"""Reference-server latency: one user's slow request vs everyone else, and page cost vs size.

Two figures, each against a baseline measured in the same run:

* **Isolation** — over a real loopback socket (hypercorn), carol sends ``Core/echo`` in a
  loop, first on an idle server (baseline), then while alice runs a large
  ``Message/query`` (a full-text filter over the whole chat, which no index can answer) in
  a loop. Printed: carol's median and worst echo latency in both phases and their ratio.
* **Page cost** — the engine time of one ``Message/query`` page (the newest 50 of a
  chat, ``calculateTotal``) at 1k and 10k messages (``--full``: also 100k), and its ratio
  to the 1k figure.

Run: ``.venv/bin/python benchmarks/server_latency.py`` (well under a minute), or with
``--full`` for the 100k-message point (a few minutes: 200k stored copies are created).
Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine

from jmapchat.server import ChatServer, serve_in_thread

USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:chat"]


def _handle(server: ChatServer, user: str, calls: list[list[Any]]) -> list[Any]:
    body = orjson.dumps({"using": USING, "methodCalls": calls})
    out: dict[str, Any] = server.engine.handle(user, body)
    responses: list[Any] = out["methodResponses"]
    for name, args, _ in responses:
        assert name != "error", args
    return responses


def _populate(server: ChatServer, chat_id: str, have: int, want: int) -> None:
    """Grow alice's direct chat with bob from ``have`` to ``want`` messages."""
    per_call = server.limits.max_objects_in_set
    per_request = per_call * server.limits.max_calls_in_request
    acc = server.account_ids["alice"]
    n = have
    while n < want:
        calls = []
        stop = min(want, n + per_request)
        while n < stop:
            end = min(stop, n + per_call)
            create = {
                f"m{i}": {
                    "chatId": chat_id,
                    "body": f"message number {i}",
                    "bodyType": "text/plain",
                }
                for i in range(n, end)
            }
            calls.append(["Message/set", {"accountId": acc, "create": create}, str(n)])
            n = end
        _handle(server, "alice", calls)


def _page_query(acc: str, chat_id: str) -> list[Any]:
    args = {
        "accountId": acc,
        "filter": {"chatId": chat_id},
        "position": -50,
        "limit": 50,
        "calculateTotal": True,
    }
    return [["Message/query", args, "q"]]


def _page_time(server: ChatServer, chat_id: str, repeat: int = 7) -> float:
    acc = server.account_ids["alice"]
    calls = _page_query(acc, chat_id)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        resp = _handle(server, "alice", calls)
        times.append(time.perf_counter() - t0)
        assert len(resp[0][1]["ids"]) == 50
    return statistics.median(times)


def _echo_latencies(base: str, token: str, stop: threading.Event, out: list[float]) -> None:
    body = {"using": USING, "methodCalls": [["Core/echo", {"hello": "world"}, "e"]]}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
        while not stop.is_set():
            t0 = time.perf_counter()
            r = client.post("/jmap/api/", json=body)
            out.append(time.perf_counter() - t0)
            r.raise_for_status()


def _isolation(server: ChatServer, chat_id: str, rounds: int) -> dict[str, float]:
    acc = server.account_ids["alice"]
    scan = {
        "using": USING,
        "methodCalls": [
            [
                "Message/query",
                {
                    "accountId": acc,
                    "filter": {"chatId": chat_id, "text": "no message says this"},
                    "calculateTotal": True,
                },
                "q",
            ]
        ],
    }
    with serve_in_thread(server) as bind:
        base = bind if bind.startswith("http") else f"http://{bind}"
        # baseline: carol alone
        idle: list[float] = []
        stop = threading.Event()
        t = threading.Thread(
            target=_echo_latencies, args=(base, server.tokens["carol"], stop, idle)
        )
        t.start()
        deadline = time.perf_counter() + 1.5
        while time.perf_counter() < deadline and len(idle) < 200:
            time.sleep(0.01)
        stop.set()
        t.join()
        # loaded: carol while alice's large queries run back to back
        busy: list[float] = []
        stop = threading.Event()
        t = threading.Thread(
            target=_echo_latencies, args=(base, server.tokens["carol"], stop, busy)
        )
        query_times = []
        headers = {"Authorization": f"Bearer {server.tokens['alice']}"}
        with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
            client.post("/jmap/api/", json=scan).raise_for_status()  # warm up
            t.start()
            for _ in range(rounds):
                t0 = time.perf_counter()
                client.post("/jmap/api/", json=scan).raise_for_status()
                query_times.append(time.perf_counter() - t0)
        stop.set()
        t.join()
    return {
        "idle_p50": statistics.median(idle),
        "idle_max": max(idle),
        "busy_p50": statistics.median(busy),
        "busy_max": max(busy),
        "busy_n": float(len(busy)),
        "query": statistics.median(query_times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also measure 100,000 messages")
    args = parser.parse_args()
    sizes = [1_000, 10_000] + ([100_000] if args.full else [])
    print(f"reference server latency — {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.sqlite")  # a file: WAL (concurrent readers) applies
        with ChatServer(db=db, users=["alice", "bob", "carol"]) as server:
            acc = server.account_ids["alice"]
            created = _handle(
                server,
                "alice",
                [
                    [
                        "Chat/set",
                        {"accountId": acc, "create": {"c": {"kind": "direct", "contactId": "bob"}}},
                        "c",
                    ]
                ],
            )
            chat_id = created[0][1]["created"]["c"]["id"]
            have = 0
            pages: list[tuple[int, float]] = []
            for size in sizes:
                t0 = time.perf_counter()
                _populate(server, chat_id, have, size)
                have = size
                print(f"  populated {size:>7,} messages ({time.perf_counter() - t0:.1f} s)")
                pages.append((size, _page_time(server, chat_id)))
            iso = _isolation(server, chat_id, rounds=5)
    base_page = pages[0][1]
    print("\nMessage/query page (newest 50, calculateTotal), engine time, median of 7")
    for size, secs in pages:
        print(
            f"  {size:>7,} messages: {secs * 1000:8.2f} ms   ratio to 1k: {secs / base_page:6.2f}x"
        )
    print(f"\nisolation at {have:,} messages (real socket, hypercorn)")
    print(f"  alice's full-scan Message/query: {iso['query'] * 1000:.1f} ms (median of 5)")
    print(
        f"  carol's Core/echo idle:   p50 {iso['idle_p50'] * 1000:7.2f} ms  "
        f"max {iso['idle_max'] * 1000:7.2f} ms"
    )
    print(
        f"  carol's Core/echo busy:   p50 {iso['busy_p50'] * 1000:7.2f} ms  "
        f"max {iso['busy_max'] * 1000:7.2f} ms  ({int(iso['busy_n'])} echoes)"
    )
    print(
        f"  ratio busy/idle:          p50 {iso['busy_p50'] / iso['idle_p50']:7.2f}x     "
        f"max {iso['busy_max'] / iso['idle_max']:7.2f}x"
    )
    last = pages[-1]
    print(
        f"RESULT server_latency: page {last[0]:,}/1k = {last[1] / base_page:.2f}x; "
        f"echo worst while querying = {iso['busy_max'] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
