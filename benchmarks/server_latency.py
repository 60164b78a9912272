"""Reference-server latency: one user's slow request vs everyone else, and query cost vs size.

Two figures, each against a baseline measured in the same run:

* **Isolation** — over a real loopback socket (hypercorn), carol sends ``Core/echo`` in a
  loop, first on an idle server (baseline), then while alice runs a large
  ``Message/query`` (a full-text filter over the whole chat, which no index can answer) in
  a loop. Printed: carol's median and worst echo latency in both phases and their ratio.
* **Query cost** — the engine time of one ``Message/query`` per case (the newest page in
  the default order, by ``sentAt`` both ways, a ``senderId`` page, an ``after``/``before``
  window, an anchored page, a full-text search with and without a total) at 1k and 10k
  messages (``--full``: also 100k), as the server runs it (SQL plans) and on its Python
  reference path (every message loaded, filtered and sorted: the baseline), their ratio,
  and each case's ratio to its 1k figure. The two paths' answers are compared (a
  difference stops the run).

Run: ``.venv/bin/python benchmarks/server_latency.py`` (well under a minute), or with
``--full`` for the 100k-message point (a few minutes: 200k stored copies are created).
Against an older server (no ``python_reference``), only the first column is measured.
Nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine

from jmapchat.server import ChatServer, serve_in_thread

try:
    from jmapchat.server._query import python_reference
except ImportError:  # an older server: no SQL plans, no reference column
    python_reference = None  # type: ignore[assignment]

USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:chat"]


def _handle(server: ChatServer, user: str, calls: list[list[Any]]) -> list[Any]:
    body = orjson.dumps({"using": USING, "methodCalls": calls})
    out: dict[str, Any] = server.engine.handle(user, body)
    responses: list[Any] = out["methodResponses"]
    for name, args, _ in responses:
        assert name != "error", args
    return responses


_SENT_BASE = 1_735_689_600.0  # 2025-01-01T00:00:00Z


def _sent_at(i: int) -> str:
    """A scattered sentAt (its order is not the arrival order)."""
    ts = _SENT_BASE + (i * 7919) % 1_000_000 * 0.001
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _populate(server: ChatServer, chat_id: str, have: int, want: int) -> None:
    """Grow alice's direct chat with bob from ``have`` to ``want`` messages (a quarter of
    the ``Message/set`` calls are bob's)."""
    per_call = server.limits.max_objects_in_set
    n = have
    while n < want:
        for user, share in (("alice", 3), ("bob", 1)):
            calls = []
            for _ in range(share):
                end = min(want, n + per_call)
                if n >= end:
                    break
                create = {
                    f"m{i}": {
                        "chatId": chat_id,
                        "body": f"message number {i}",
                        "bodyType": "text/plain",
                        "sentAt": _sent_at(i),
                    }
                    for i in range(n, end)
                }
                acc = server.account_ids[user]
                calls.append(["Message/set", {"accountId": acc, "create": create}, str(n)])
                n = end
            if calls:
                _handle(server, user, calls)


def _cases(server: ChatServer, chat_id: str) -> dict[str, dict[str, Any]]:
    """The Message/query arguments measured at each size (times and anchor from the chat)."""
    acc = server.account_ids["alice"]
    chat = {"chatId": chat_id}
    query = ["Message/query", {"accountId": acc, "filter": chat}, "q"]
    ids = _handle(server, "alice", [query])[0][1]["ids"]
    quarter, three = ids[len(ids) // 4], ids[3 * len(ids) // 4]
    get = {"accountId": acc, "ids": [quarter, three], "properties": ["receivedAt"]}
    got = _handle(server, "alice", [["Message/get", get, "g"]])[0][1]["list"]
    after, before = (m["receivedAt"] for m in got)
    page = {"limit": 50, "calculateTotal": True}
    by_sent = [{"property": "sentAt", "isAscending": False}]
    return {
        "newest 50, default order": {"filter": chat, "position": -50, **page},
        "newest 50 by sentAt": {"filter": chat, "sort": by_sent, **page},
        "oldest 50 by sentAt": {"filter": chat, "sort": [{"property": "sentAt"}], **page},
        "bob's newest 50 (senderId)": {
            "filter": {**chat, "senderId": "bob"},
            "position": -50,
            **page,
        },
        "after/before window, 50": {"filter": {**chat, "after": after, "before": before}, **page},
        "anchor at 3/4, offset -25": {
            "filter": chat,
            "anchor": three,
            "anchorOffset": -25,
            "limit": 50,
        },
        "full-text, first 50 matches": {"filter": {**chat, "text": "NUMBER 1"}, "limit": 50},
        "full-text scan, no match, total": {
            "filter": {**chat, "text": "no message says this"},
            "calculateTotal": True,
        },
    }


def _query_time(server: ChatServer, args: dict[str, Any]) -> tuple[float, Any]:
    """Median engine time of one Message/query (of 7 runs, of 3 when one takes over 50 ms,
    of 1 over 0.5 s, after a warm-up run that picks the count) and its response."""
    calls = [["Message/query", {"accountId": server.account_ids["alice"], **args}, "q"]]
    t0 = time.perf_counter()
    response = _handle(server, "alice", calls)  # warm up
    warm = time.perf_counter() - t0
    repeat = 7 if warm < 0.05 else 3 if warm < 0.5 else 1
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        _handle(server, "alice", calls)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), response


def _measure(server: ChatServer, chat_id: str) -> dict[str, tuple[float, float | None]]:
    """Per case: (time as the server runs it, on the Python reference path or None).
    Both paths must answer the same (checked)."""
    out: dict[str, tuple[float, float | None]] = {}
    for name, args in _cases(server, chat_id).items():
        fast, answer = _query_time(server, args)
        slow = None
        if python_reference is not None:
            with python_reference():
                slow, reference = _query_time(server, args)
            if answer != reference:
                raise AssertionError(f"{name}: the SQL plan and the reference path differ")
        out[name] = (fast, slow)
    return out


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
            chat = {"c": {"kind": "direct", "contactId": "bob"}}
            created = _handle(
                server, "alice", [["Chat/set", {"accountId": acc, "create": chat}, "c"]]
            )
            chat_id = created[0][1]["created"]["c"]["id"]
            have = 0
            figures: list[tuple[int, dict[str, tuple[float, float | None]]]] = []
            for size in sizes:
                t0 = time.perf_counter()
                _populate(server, chat_id, have, size)
                have = size
                print(f"  populated {size:>7,} messages ({time.perf_counter() - t0:.1f} s)")
                figures.append((size, _measure(server, chat_id)))
            iso = _isolation(server, chat_id, rounds=5)
    same = "; both paths gave identical answers" if python_reference is not None else ""
    print(
        f"\nMessage/query, engine time (median of 7 runs, 3 over 50 ms, 1 over 0.5 s{same});"
        "\nratio = reference / as served; 'x1k' = as served / the same case at 1k"
    )
    first = figures[0][1]
    for size, cases in figures:
        print(f"  {size:,} messages")
        for name, (fast, slow) in cases.items():
            ref = "" if slow is None else f"{slow * 1000:10.2f} ms  {slow / fast:8.1f}x"
            print(
                f"    {name:34s} {fast * 1000:9.2f} ms  {fast / first[name][0]:6.2f} x1k"
                f"  reference {ref}"
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
    size, cases = figures[-1]
    page = cases["newest 50, default order"][0] / first["newest 50, default order"][0]
    worst = max(fast for fast, _ in cases.values())
    print(
        f"RESULT server_latency: page {size:,}/1k = {page:.2f}x; slowest case at {size:,} = "
        f"{worst * 1000:.1f} ms; echo worst while querying = {iso['busy_max'] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
