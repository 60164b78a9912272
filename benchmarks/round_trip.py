"""Round trip over loopback: ``client.send(req)`` with typed results vs raw httpx + json.loads.

The server (`_replay_server.py`, a bare asyncio HTTP/1.1 server in a subprocess, on the
other core) answers every API request with the prepared bytes of a real 1,000-message
``Message/query`` + ``Message/get`` reply captured from the reference server, so the
server is not what is measured. Baseline: ``httpx.Client.post`` /
``httpx.AsyncClient.post`` of the same request bytes (same headers, same keep-alive
connection pool) followed by ``json.loads``. Candidate: ``client.send(req)`` and both
calls' ``.result`` (the same request object is sent every time, as the raw side posts
the same bytes). The two take turns within every repeat, after the same
``gc.collect()`` + ``gc.freeze()``; the best of the repeats counts. The whole
measurement runs in RUNS fresh processes (none ever held the reference server) and the
median ratio is reported. Target: ≤ 1.2× for the blocking client, AsyncClient on
asyncio and on trio.

    .venv/bin/python benchmarks/round_trip.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
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
from jmapchat.models import Message, MessageFilter

COUNT = 1_000
TARGET = 1.2
NUMBER = 10
REPEAT = 11
RUNS = 3
CLIENTS = ("blocking Client", "AsyncClient on asyncio", "AsyncClient on trio")
HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json",
    "Authorization": "Bearer bench",
}


def add_calls(req: jmapchat.Request, cap: Captured) -> Callable[[], None]:
    q = req.message.query(filter=MessageFilter(chat_id=cap.chat_id), limit=COUNT)
    g = req.message.get(ids=q.ids)

    def check() -> None:
        assert len(q.result.ids) == COUNT
        assert len(g.result.list) == COUNT
        assert isinstance(g.result.list[-1], Message)

    return check


def check_raw(doc: Any) -> None:
    assert len(doc["methodResponses"][0][1]["ids"]) == COUNT
    assert len(doc["methodResponses"][1][1]["list"]) == COUNT


def blocking(cap: Captured, base: str) -> dict[str, float]:
    api = f"{base}/jmap/api/"
    with (
        httpx.Client() as http,
        jmapchat.Client.connect(base, token="bench", retries=0) as client,
    ):
        req = client.request()
        check = add_calls(req, cap)
        assert req.build() == cap.request

        def raw() -> None:
            r = http.post(api, content=cap.request, headers=HEADERS)
            r.raise_for_status()
            check_raw(json.loads(r.content))

        def typed() -> None:
            client.send(req)
            check()

        return interleaved({"raw": raw, "typed": typed}, number=NUMBER, repeat=REPEAT)


async def async_client(cap: Captured, base: str) -> dict[str, float]:
    api = f"{base}/jmap/api/"
    async with (
        httpx.AsyncClient() as http,
        jmapchat.AsyncClient.connect(base, token="bench", retries=0) as client,
    ):
        req = client.request()
        check = add_calls(req, cap)
        assert req.build() == cap.request

        async def raw() -> None:
            r = await http.post(api, content=cap.request, headers=HEADERS)
            r.raise_for_status()
            check_raw(json.loads(r.content))

        async def typed() -> None:
            await client.send(req)
            check()

        return await interleaved_async({"raw": raw, "typed": typed}, number=NUMBER, repeat=REPEAT)


def measure(where: Path, base: str) -> dict[str, dict[str, float]]:
    cap = load_captured(where)
    return {
        CLIENTS[0]: blocking(cap, base),
        CLIENTS[1]: anyio.run(async_client, cap, base, backend="asyncio"),
        CLIENTS[2]: anyio.run(async_client, cap, base, backend="trio"),
    }


def main() -> None:
    if sys.argv[1:2] == ["--measure"]:
        print(json.dumps(measure(Path(sys.argv[2]), sys.argv[3])))
        return
    cap = capture_reply(COUNT)
    with tempfile.TemporaryDirectory(prefix="jmapchat-rt-") as tmp, replay_server(cap) as base:
        save_captured(cap, Path(tmp))
        runs = in_fresh_processes(__file__, [tmp, base], RUNS)
    rows, worst = ratio_rows(
        runs, CLIENTS, TARGET, scale=1e3, unit_format=".2f", ratio_format=".2f"
    )
    print(f"round trip — {machine()}")
    print(
        f"reply: {len(cap.reply):,} bytes ({COUNT} messages), request: {len(cap.request)} "
        "bytes, loopback replay server in a subprocess"
    )
    print(
        f"median of {RUNS} fresh processes, each the best of {REPEAT} interleaved repeats "
        f"× {NUMBER} requests"
    )
    print(
        table(
            rows,
            ("client", "raw httpx + json.loads ms", "send → typed ms", "ratio", "range", ""),
        )
    )
    print(f"RESULT round_trip worst typed/raw = {worst:.2f}× ({verdict(worst, TARGET)})")


if __name__ == "__main__":
    main()
