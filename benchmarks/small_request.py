"""Small-request speed: a one-call ``Core/echo`` through the client vs raw httpx + json.

What a chat bot does many times a second. Candidate: ``client.core.echo(args)`` — the
whole one-call path (request build, session checks, send, reply parse into the typed
``EchoResponse``). Baseline: ``httpx.Client.post`` / ``httpx.AsyncClient.post`` of the
same request bytes (same headers, same keep-alive pool) followed by ``json.loads``. The
server (`_replay_server.py`, in a subprocess) answers every API request with the
prepared bytes of the echo reply, so it costs next to nothing and is the same for both.
The two take turns within every repeat; the best of the repeats counts; the whole
measurement runs in RUNS fresh processes and the median ratio is reported, with the
range. Target (issue 14, point 14): ≤ 1.1×.

A second, stricter floor is printed for information: the same bytes handed straight to
httpx's transport (``HTTPTransport.handle_request`` of a prebuilt ``httpx.Request``,
then ``json.loads``), skipping ``httpx.Client``'s per-request machinery — which is what
the client itself does for API requests (`jmapchat._client._direct`). Its ratio shows
what the client's own work (request build, checks, typed parse) still costs.

``--cpu`` times the client process's CPU (``time.process_time``) instead of the wall
clock: on a machine loaded by other work, wall-clock ratios swing widely (the range
column shows it), while CPU time still compares the two sides' own cost per request.

    .venv/bin/python benchmarks/small_request.py [--runs N] [--cpu]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Captured,
    capture_reply,
    in_fresh_processes,
    interleaved,
    interleaved_async,
    load_captured,
    machine,
    ratio_rows,
    replay_server,
    save_captured,
    table,
    verdict,
)

import jmapchat

TARGET = 1.1
NUMBER = 100
REPEAT = 11
RUNS = 3
CLIENTS = ("blocking Client", "AsyncClient on asyncio", "AsyncClient on trio")
ARGS = {"hello": "world", "n": 1}
HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json",
    "Authorization": "Bearer bench",
}


def echo_capture() -> Captured:
    """The session of a real reference server, and the echo request/reply bytes."""
    base = capture_reply(1)
    state = json.loads(base.session)["state"]
    req = jmapchat.Request(account_id=base.account_id)
    req.core.echo(ARGS)
    request = req.build()
    calls = json.loads(request)["methodCalls"]
    reply = json.dumps(
        {"methodResponses": calls, "sessionState": state}, separators=(",", ":")
    ).encode()
    return Captured(reply, base.session, request, base.account_id, base.chat_id, 1)


def check_raw(doc: Any) -> None:
    assert doc["methodResponses"][0][1]["hello"] == "world"


def check_typed(res: Any) -> None:
    assert res.model_extra["hello"] == "world"


CLOCK = time.perf_counter


def blocking(cap: Captured, base: str) -> dict[str, float]:
    api = f"{base}/jmap/api/"
    transport = httpx.HTTPTransport()
    url = httpx.URL(api)
    with (
        httpx.Client() as http,
        transport,
        jmapchat.Client.connect(base, token="bench", retries=0) as client,
    ):

        def raw() -> None:
            r = http.post(api, content=cap.request, headers=HEADERS)
            r.raise_for_status()
            check_raw(json.loads(r.content))

        def lean() -> None:
            request = httpx.Request("POST", url, content=cap.request, headers=HEADERS)
            r = transport.handle_request(request)
            try:
                r.read()
            finally:
                r.close()
            check_raw(json.loads(r.content))

        def typed() -> None:
            check_typed(client.core.echo(ARGS))

        cases = {"raw": raw, "lean": lean, "typed": typed}
        return interleaved(cases, number=NUMBER, repeat=REPEAT, clock=CLOCK)


async def async_client(cap: Captured, base: str) -> dict[str, float]:
    api = f"{base}/jmap/api/"
    transport = httpx.AsyncHTTPTransport()
    url = httpx.URL(api)
    async with (
        httpx.AsyncClient() as http,
        transport,
        jmapchat.AsyncClient.connect(base, token="bench", retries=0) as client,
    ):

        async def raw() -> None:
            r = await http.post(api, content=cap.request, headers=HEADERS)
            r.raise_for_status()
            check_raw(json.loads(r.content))

        async def lean() -> None:
            request = httpx.Request("POST", url, content=cap.request, headers=HEADERS)
            r = await transport.handle_async_request(request)
            try:
                await r.aread()
            finally:
                await r.aclose()
            check_raw(json.loads(r.content))

        async def typed() -> None:
            check_typed(await client.core.echo(ARGS))

        cases = {"raw": raw, "lean": lean, "typed": typed}
        return await interleaved_async(cases, number=NUMBER, repeat=REPEAT, clock=CLOCK)


def measure(where: Path, base: str) -> dict[str, dict[str, float]]:
    cap = load_captured(where)
    return {
        CLIENTS[0]: blocking(cap, base),
        CLIENTS[1]: anyio.run(async_client, cap, base, backend="asyncio"),
        CLIENTS[2]: anyio.run(async_client, cap, base, backend="trio"),
    }


def main() -> None:
    global CLOCK
    if sys.argv[1:2] == ["--measure"]:
        if "--cpu" in sys.argv:
            CLOCK = time.process_time
        print(json.dumps(measure(Path(sys.argv[2]), sys.argv[3])))
        return
    cpu = ["--cpu"] if "--cpu" in sys.argv else []
    runs_wanted = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else RUNS
    cap = echo_capture()
    with tempfile.TemporaryDirectory(prefix="jmapchat-sr-") as tmp, replay_server(cap) as base:
        save_captured(cap, Path(tmp))
        runs = in_fresh_processes(__file__, [tmp, base, *cpu], runs_wanted)
    rows, worst = ratio_rows(
        runs, CLIENTS, TARGET, scale=1e6, unit_format=".0f", ratio_format=".3f"
    )
    what = "client-process CPU time" if cpu else "wall clock"
    print(f"small request (one-call Core/echo), {what} — {machine()}")
    print(
        f"request: {len(cap.request)} bytes, reply: {len(cap.reply)} bytes, loopback replay "
        "server in a subprocess"
    )
    print(
        f"median of {len(runs)} fresh processes, each the best of {REPEAT} interleaved "
        f"repeats × {NUMBER} requests"
    )
    print(
        table(rows, ("client", "raw httpx + json µs", "client.core.echo µs", "ratio", "range", ""))
    )
    lean_rows, lean_worst = ratio_rows(
        runs, CLIENTS, TARGET, scale=1e6, unit_format=".0f", ratio_format=".3f", base="lean"
    )
    print("\nfor information, against the stricter floor (httpx transport + json, no Client):")
    header = ("client", "transport + json µs", "client.core.echo µs", "ratio", "range", "")
    print(table([(*row[:5], "") for row in lean_rows], header))
    print(f"RESULT small_request worst typed/raw = {worst:.3f}× ({verdict(worst, TARGET)})")
    print(f"RESULT small_request worst typed/transport = {lean_worst:.3f}× (no target)")


if __name__ == "__main__":
    main()
