"""Delivery latency on loopback: bob sends a message → alice learns of it.

Columns (same run, same server, same clients):

- **EventSource**: alice listens with ``client.events(["Message"])``; a reader task
  timestamps each StateChange as ``events()`` yields it. bob sends N messages one after
  another, each waiting for alice's event (latency = bob's ``send`` start → the yield).
- **polling /changes every 1 s** (the baseline): alice asks ``Message/changes`` +
  ``Message/get`` once a second; bob sends N messages paced 20 ms apart; a message's
  latency is bob's ``send`` start → the end of the poll that returned it.
- **WebSocket**: the same as EventSource, with alice on ``connect(websocket=True)``:
  ``events()`` then listens on the JMAP WebSocket (``WebSocketPushEnable``).

The reference server runs in this process (hypercorn in a thread) on 127.0.0.1; both
columns share that cost. Prints p50 / p99 / max per column and the polling / EventSource
ratio of the medians.

    .venv/bin/python benchmarks/realtime_latency.py           # 200 messages per column
    .venv/bin/python benchmarks/realtime_latency.py --full    # 1,000 per column
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, table

import jmapchat
from jmapchat.models import ChatCreate, MessageCreate, StateChange
from jmapchat.server import ChatServer, serve_in_thread

POLL_EVERY = 1.0
PACE = 0.02


def summary(latencies: list[float]) -> tuple[float, float, float]:
    """(p50, p99, max) in milliseconds."""
    ms = sorted(x * 1000 for x in latencies)
    p99 = statistics.quantiles(ms, n=100)[98] if len(ms) >= 2 else ms[0]
    return statistics.median(ms), p99, ms[-1]


async def eventsource(
    alice: jmapchat.AsyncClient, send: Callable[[str], Awaitable[Any]], n: int
) -> list[float]:
    acc = alice.account_id
    out: list[float] = []
    tx, rx = anyio.create_memory_object_stream[float](n + 10)
    async with alice.events(["Message"]) as events, anyio.create_task_group() as tg:

        async def read() -> None:
            last = None
            async for event in events:
                if isinstance(event, StateChange):
                    state = event.changed.get(acc, {}).get("Message")
                    if state is not None and state != last:
                        last = state
                        tx.send_nowait(time.perf_counter())  # when events() yielded it

        tg.start_soon(read)
        for i in range(n):
            t0 = time.perf_counter()
            await send(f"es {i}")
            out.append(await rx.receive() - t0)
        tg.cancel_scope.cancel()
    return out


async def polling(
    alice: jmapchat.AsyncClient, send: Callable[[str], Awaitable[Any]], n: int
) -> list[float]:
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    state = (await alice.message.get(ids=[])).state
    async with anyio.create_task_group() as tg:

        async def poll() -> None:
            nonlocal state
            while True:
                started = time.perf_counter()
                req = alice.request()
                news = req.message.changes(since_state=state)
                got = req.message.get(ids=news.created, properties=["body"])
                await alice.send(req)
                now = time.perf_counter()
                for msg in got.result.list:
                    seen.setdefault(str(msg.body), now)
                state = news.result.new_state
                await anyio.sleep(max(0.0, POLL_EVERY - (time.perf_counter() - started)))

        tg.start_soon(poll)
        for i in range(n):
            body = f"poll {i}"
            sent[body] = time.perf_counter()
            await send(body)
            await anyio.sleep(PACE)
        while len(seen.keys() & sent.keys()) < n:
            await anyio.sleep(0.05)
        tg.cancel_scope.cancel()
    return [seen[b] - t for b, t in sent.items()]


async def websocket(
    url: str, token: str, send: Callable[[str], Awaitable[Any]], n: int
) -> list[float]:
    """The WebSocket column: alice on ``connect(..., websocket=True)``, whose ``events()``
    runs over the socket (WebSocketPushEnable); measured by the `eventsource` code above."""
    async with jmapchat.AsyncClient.connect(url, token=token, websocket=True) as alice:
        return await eventsource(alice, send, n)


async def main(n: int) -> None:
    with ChatServer(users=["alice", "bob"]) as server, serve_in_thread(server) as url:
        async with (
            jmapchat.AsyncClient.connect(url, token=server.tokens["alice"]) as alice,
            jmapchat.AsyncClient.connect(url, token=server.tokens["bob"]) as bob,
        ):
            made = await bob.chat.set(create={"c": ChatCreate.direct(contact_id="alice")})
            assert made.created is not None
            chat = made.created["c"].id

            async def send(body: str) -> None:
                await bob.message.set(create={"m": MessageCreate(chat_id=chat, body=body)})

            await send("warm-up")
            es = await eventsource(alice, send, n)
            ws = await websocket(url, server.tokens["alice"], send, n)
            poll = await polling(alice, send, n)
    rows = []
    for name, lat in (
        ("EventSource", es),
        ("WebSocket", ws),
        (f"polling /changes every {POLL_EVERY:g} s", poll),
    ):
        if lat is None:
            rows.append((name, "n/a", "n/a", "n/a", "0"))
            continue
        p50, p99, worst = summary(lat)
        rows.append((name, f"{p50:.1f}", f"{p99:.1f}", f"{worst:.1f}", str(len(lat))))
    print(machine())
    print(table(rows, ("transport", "p50 ms", "p99 ms", "max ms", "messages")))
    ratio = summary(poll)[0] / summary(es)[0]
    print(
        f"RESULT realtime_latency p50: EventSource {summary(es)[0]:.1f} ms, "
        f"WebSocket {summary(ws)[0]:.1f} ms (WebSocket / EventSource "
        f"{summary(ws)[0] / summary(es)[0]:.2f}×), "
        f"polling {summary(poll)[0]:.1f} ms = {ratio:.0f}× slower (n={n})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="1,000 messages per column")
    parser.add_argument("-n", type=int, default=None, help="messages per column")
    args = parser.parse_args()
    anyio.run(main, args.n or (1000 if args.full else 200))
