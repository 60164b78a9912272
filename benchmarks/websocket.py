"""WebSocket transport (``connect(websocket=True)``) vs HTTP keep-alive, same run, ratios.

1. **Small requests**: N sequential one-call ``Core/echo`` requests (default 1,000):
   the raw httpx floor (``httpx.AsyncClient.post`` of the same bytes on a keep-alive
   connection + ``json.loads``), ``client.call`` over HTTP, ``client.call`` over the
   WebSocket. The three take turns within every repeat; best repeat counts.
2. **Bulk**: 10,000 (``--full``; else 2,000) ``Message/set`` creates in one ``send`` at
   ``maxObjectsInSet`` 500 (20 chunks with ``--full``): over HTTP (envelopes one after
   another) vs over the WebSocket (envelopes pipelined, up to ``maxConcurrentRequests``
   in flight), with the server's default ``maxCallsInRequest`` (16: 2 envelopes) and with
   ``maxCallsInRequest`` 1 (20 envelopes). One chat; best of ``--repeat``, and the median
   of the per-repeat WebSocket / HTTP ratios (each pair runs back to back, so a loaded
   machine's drift cancels out of it), and the CPU time of a send (this process; with
   ``--subprocess`` also the server's process, read from Linux ``/proc``), which load
   does not distort.

The reference server runs in this process (hypercorn on trio, in a thread) on 127.0.0.1,
so it shares the CPU (and the GIL) with the client in every column; ``--subprocess`` runs
it as ``jmapchat serve`` in a process of its own instead, so client and server can overlap
(which is what pipelining is for). AsyncClient on asyncio.

    .venv/bin/python benchmarks/websocket.py                # 200 echoes, 2,000 creates
    .venv/bin/python benchmarks/websocket.py --full         # 1,000 echoes, 10,000 creates
    .venv/bin/python benchmarks/websocket.py --subprocess   # server in its own process
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import anyio
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, table

import jmapchat
from jmapchat._core import plan
from jmapchat.models import ChatCreate, MessageCreate
from jmapchat.server import ChatServer, ServerLimits, serve_in_thread

ECHO = {"using": ["urn:ietf:params:jmap:core"], "methodCalls": [["Core/echo", {"n": 1}, "c0"]]}


async def echo_columns(base: str, token: str, n: int, repeat: int) -> dict[str, float]:
    body = json.dumps(ECHO).encode()
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Authorization": f"Bearer {token}",
    }
    async with (
        httpx.AsyncClient() as raw,
        jmapchat.AsyncClient.connect(base, token=token) as http_client,
        jmapchat.AsyncClient.connect(base, token=token, websocket=True) as ws_client,
    ):
        api = http_client.session.api_url

        async def floor() -> None:
            r = await raw.post(api, content=body, headers=headers)
            json.loads(r.content)

        async def over_http() -> None:
            await http_client.call(lambda r: r.core.echo({"n": 1}))

        async def over_ws() -> None:
            await ws_client.call(lambda r: r.core.echo({"n": 1}))

        cases: dict[str, Callable[[], Awaitable[None]]] = {
            "raw httpx floor": floor,
            "HTTP keep-alive": over_http,
            "WebSocket": over_ws,
        }
        best = dict.fromkeys(cases, float("inf"))
        for fn in cases.values():
            for _ in range(20):
                await fn()
        for _ in range(repeat):
            for name, fn in cases.items():
                t0 = time.perf_counter()
                for _ in range(n):
                    await fn()
                best[name] = min(best[name], time.perf_counter() - t0)
        return best


@contextlib.contextmanager
def reference_server(
    limits: ServerLimits, own_process: bool
) -> Iterator[tuple[str, str, int | None]]:
    """``(base url, alice's token, server pid or None)`` of a fresh reference server."""
    if not own_process:
        with (
            ChatServer(db=":memory:", users=["alice", "bob"], limits=limits) as server,
            serve_in_thread(server, port=0) as base,
        ):
            yield base, server.tokens["alice"], None
        return
    with tempfile.TemporaryDirectory() as tmp:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        tokens = Path(tmp) / "tokens.json"
        cmd = [
            sys.executable, "-c", "from jmapchat.cli import main; main()",
            "serve", "--db", ":memory:",
            "--host", "127.0.0.1", "--port", str(port), "--user", "alice", "--user", "bob",
            "--token-file", str(tokens),
            "--max-objects-in-set", str(limits.max_objects_in_set),
            "--max-calls-in-request", str(limits.max_calls_in_request),
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(600):
                try:
                    if tokens.exists() and httpx.get(base + "/.well-known/jmap").status_code:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
            yield base, json.loads(tokens.read_text())["alice"], proc.pid
        finally:
            proc.terminate()
            proc.wait(10)


def process_cpu(pid: int | None) -> float | None:
    """CPU seconds (user + system) process ``pid`` has used (Linux ``/proc``), else None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


async def bulk_columns(
    base: str, token: str, count: int, repeat: int, server_pid: int | None = None
) -> tuple[dict[str, float], int, float, dict[str, tuple[float, float | None]]]:
    """Best seconds per column, envelopes, median paired ratio, and per column the median
    CPU seconds of a send: (this process, the server's process or None). CPU time is what
    a loaded machine does not distort."""
    bob = "bob"
    async with (
        jmapchat.AsyncClient.connect(base, token=token) as http_client,
        jmapchat.AsyncClient.connect(base, token=token, websocket=True) as ws_client,
    ):
        chat = await http_client.call(lambda r: r.chat.set(create={"c": ChatCreate.direct(bob)}))
        chat_id = chat.created["c"].id

        cpu: dict[str, list[tuple[float, float | None]]] = {"HTTP": [], "WebSocket pipelined": []}

        async def run(client: jmapchat.AsyncClient, name: str) -> float:
            req = client.request()
            call = req.message.set(
                create={
                    f"m{i}": MessageCreate(chat_id=chat_id, body=f"bulk message {i}")
                    for i in range(count)
                }
            )
            envelopes = len(plan(req, client.session.core))
            s0, c0, t0 = process_cpu(server_pid), time.process_time(), time.perf_counter()
            await client.send(req)
            took = time.perf_counter() - t0
            client_cpu = time.process_time() - c0
            if s0 is not None:
                await anyio.sleep(0.2)  # the server's CPU accounting catches up
            s1 = process_cpu(server_pid)
            cpu[name].append((client_cpu, None if s0 is None or s1 is None else s1 - s0))
            assert len(call.result.created) == count, "not every message was created"
            run.envelopes = envelopes  # type: ignore[attr-defined]
            return took

        best = {"HTTP": float("inf"), "WebSocket pipelined": float("inf")}
        paired: list[float] = []  # WebSocket / HTTP of each repeat (drift cancels out)
        for _ in range(repeat):
            http = await run(http_client, "HTTP")
            ws = await run(ws_client, "WebSocket pipelined")
            best["HTTP"] = min(best["HTTP"], http)
            best["WebSocket pipelined"] = min(best["WebSocket pipelined"], ws)
            paired.append(ws / http)
        cpu_median = {
            name: (
                statistics.median(c for c, _ in runs),
                None
                if any(s is None for _, s in runs)
                else statistics.median(s for _, s in runs if s is not None),
            )
            for name, runs in cpu.items()
        }
        return best, getattr(run, "envelopes", 0), statistics.median(paired), cpu_median


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="1,000 echoes, 10,000 creates")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--subprocess", action="store_true", help="the server in its own process")
    args = ap.parse_args()
    n = 1_000 if args.full else 200
    count = 10_000 if args.full else 2_000
    print(machine())
    print()

    where = "its own process" if args.subprocess else "this process"
    print(f"reference server in {where}")
    with reference_server(ServerLimits(), args.subprocess) as (base, token, _):
        echo = anyio.run(echo_columns, base, token, n, max(3, args.repeat))
    rows = [
        (
            name,
            f"{secs * 1e6 / n:.0f}",
            f"{secs / echo['raw httpx floor']:.2f}x",
            f"{secs / echo['HTTP keep-alive']:.2f}x",
        )
        for name, secs in echo.items()
    ]
    print(f"{n:,} sequential one-call Core/echo requests (AsyncClient, asyncio):")
    print(table(rows, ("column", "µs/request", "vs raw httpx", "vs HTTP client")))
    print()

    results: list[str] = []
    for calls in (16, 1):
        limits = ServerLimits(max_objects_in_set=500, max_calls_in_request=calls)
        with reference_server(limits, args.subprocess) as (base, token, pid):
            bulk, envelopes, paired, cpu = anyio.run(
                bulk_columns, base, token, count, args.repeat, pid
            )
        print(
            f"{count:,} message creates in one send, maxObjectsInSet 500, "
            f"maxCallsInRequest {calls} ({envelopes} envelope(s)), maxConcurrentRequests 4:"
        )
        bulk_rows = [
            (name, f"{secs:.3f}", f"{bulk['HTTP'] / secs:.2f}x") for name, secs in bulk.items()
        ]
        print(table(bulk_rows, ("column", "seconds", "speed-up vs HTTP")))
        print(f"median of the {args.repeat} paired runs, WebSocket / HTTP: {paired:.2f}")
        (http_c, http_s), (ws_c, ws_s) = cpu["HTTP"], cpu["WebSocket pipelined"]
        line = f"CPU per send, WebSocket / HTTP: this process {ws_c / http_c:.2f}"
        if http_s and ws_s is not None:
            line += f", server process {ws_s / http_s:.2f} ({http_s:.2f} s over HTTP)"
        print(line + " (median)")
        print()
        results.append(
            f"{count:,} creates ({envelopes} envelopes) WebSocket pipelined / HTTP "
            f"{bulk['WebSocket pipelined'] / bulk['HTTP']:.2f} (paired median {paired:.2f})"
        )
    print(
        f"RESULT websocket: {n:,} Core/echo WebSocket / HTTP keep-alive "
        f"{echo['WebSocket'] / echo['HTTP keep-alive']:.2f}, / raw httpx "
        f"{echo['WebSocket'] / echo['raw httpx floor']:.2f}; " + "; ".join(results)
    )


if __name__ == "__main__":
    main()
