"""Round trips saved: one batched ``send`` versus one HTTP request per call.

Against the reference server over real loopback HTTP (``serve_in_thread``: hypercorn
on trio in a background thread of this process), with the blocking `jmapchat.Client`.
HTTP requests are counted with an httpx event hook on the client's ``httpx.Client``.

(a) Two dependent workflows, batched with result references in one ``send`` versus
    the same calls one request each (each waiting for the previous result):
    ``Message/set`` (create) → ``Message/changes`` since its ``oldState``, and
    ``Message/query`` → ``Message/get`` of the ids.
(b) 10,000 message creates in one ``send`` (the executor splits them to the server's
    limits) versus one request per message. The per-message baseline is measured on a
    sample of 500 messages and extrapolated linearly to 10,000 (printed as such).

Target for (b): ≥ 50× speed-up.

    .venv/bin/python benchmarks/round_trips_saved.py
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, seed_messages, table, verdict

import jmapchat
from jmapchat.models import MessageCreate, MessageFilter
from jmapchat.server import ChatServer, serve_in_thread

TOTAL = 10_000
SAMPLE = 500
WORKFLOW_RUNS = 50
TARGET = 50.0


class Counter:
    def __init__(self) -> None:
        self.requests = 0

    def __call__(self, request: httpx.Request) -> None:
        self.requests += 1


def timed(counter: Counter, fn: Callable[[], object], runs: int = 1) -> tuple[float, float]:
    """(seconds per run, HTTP requests per run)."""
    before = counter.requests
    t0 = time.perf_counter()
    for _ in range(runs):
        fn()
    elapsed = time.perf_counter() - t0
    return elapsed / runs, (counter.requests - before) / runs


def main() -> None:
    counter = Counter()
    with ChatServer(users=["alice", "bob"]) as server:
        _, chat = seed_messages(server, 20)
        limits = server.limits
        with (
            serve_in_thread(server) as base,
            httpx.Client(event_hooks={"request": [counter]}, timeout=300) as http,
            jmapchat.Client.connect(
                base, token=server.tokens["alice"], http_client=http, timeout=300
            ) as client,
        ):
            seq = iter(range(10**9))

            def new(text: str) -> MessageCreate:
                return MessageCreate(chat_id=chat, body=f"{text} {next(seq)}")

            # (a) set → changes
            def set_changes_batched() -> None:
                req = client.request()
                s = req.message.set(create={"m": new("batched")})
                c = req.message.changes(s.ref("/oldState"))
                client.send(req)
                assert c.result.created == [s.result.created["m"].id]

            def set_changes_separate() -> None:
                s = client.call(lambda r: r.message.set(create={"m": new("separate")}))
                old = s.old_state
                assert old is not None
                c = client.call(lambda r: r.message.changes(old))
                assert c.created == [s.created["m"].id]

            # (a) query → get
            flt = MessageFilter(chat_id=chat)

            def query_get_batched() -> None:
                req = client.request()
                q = req.message.query(filter=flt, limit=20)
                g = req.message.get(ids=q.ids)
                client.send(req)
                assert len(g.result.list) == 20

            def query_get_separate() -> None:
                q = client.call(lambda r: r.message.query(filter=flt, limit=20))
                g = client.call(lambda r: r.message.get(ids=q.ids))
                assert len(g.list) == 20

            workflows = []
            for label, batched, separate in (
                ("set → changes", set_changes_batched, set_changes_separate),
                ("query → get", query_get_batched, query_get_separate),
            ):
                batched()
                separate()  # warm up
                sep_t, sep_n = float("inf"), 0.0
                bat_t, bat_n = float("inf"), 0.0
                for _ in range(5):  # take turns; keep the best of each
                    t, sep_n = timed(counter, separate, WORKFLOW_RUNS // 5)
                    sep_t = min(sep_t, t)
                    t, bat_n = timed(counter, batched, WORKFLOW_RUNS // 5)
                    bat_t = min(bat_t, t)
                workflows.append((label, sep_n, sep_t, bat_n, bat_t))

            # (b) 10,000 creates
            def one_per_message() -> None:
                for _ in range(SAMPLE):
                    created = client.call(lambda r: r.message.set(create={"m": new("single")}))
                    assert len(created.created) == 1

            def all_in_one_send() -> None:
                req = client.request()
                s = req.message.set(create={f"m{i}": new("bulk") for i in range(TOTAL)})
                client.send(req)
                assert len(s.result.created) == TOTAL

            sample_t, sample_n = timed(counter, one_per_message)
            bulk_t, bulk_n = timed(counter, all_in_one_send)

    print(f"round trips saved — {machine()}")
    print(f"reference server: serve_in_thread (hypercorn/trio, loopback, same process); {limits}")
    rows = [
        (
            label,
            f"{sep_n:g}",
            f"{sep_t * 1e3:.2f}",
            f"{bat_n:g}",
            f"{bat_t * 1e3:.2f}",
            f"{sep_t / bat_t:.2f}×",
        )
        for label, sep_n, sep_t, bat_n, bat_t in workflows
    ]
    print("(a) dependent workflows, best of 5 × 10 runs each")
    print(
        table(
            rows,
            ("workflow", "separate reqs", "separate ms", "batched reqs", "batched ms", "speed-up"),
        )
    )
    per_message = sample_t / SAMPLE
    extrapolated = per_message * TOTAL
    speedup = extrapolated / bulk_t
    print(f"(b) {TOTAL:,} message creates")
    rows_b = [
        (
            "one request per message",
            f"{sample_n * TOTAL / SAMPLE:,.0f} (measured {sample_n:,.0f} for {SAMPLE})",
            f"{extrapolated:.2f} (extrapolated from {SAMPLE}: {sample_t:.2f}s)",
            f"{TOTAL / extrapolated:,.0f}",
            "1.00×",
        ),
        (
            "all in one send",
            f"{bulk_n:,.0f}",
            f"{bulk_t:.2f}",
            f"{TOTAL / bulk_t:,.0f}",
            f"{speedup:.1f}×",
        ),
    ]
    print(table(rows_b, ("strategy", "HTTP requests", "seconds", "messages/s", "speed-up")))
    print(
        f"RESULT round_trips_saved 10k creates speed-up = {speedup:.1f}× "
        f"({verdict(speedup, TARGET, at_most=False)})"
    )


if __name__ == "__main__":
    main()
