"""Bulk benchmark for the reference server, through raw batched JMAP requests.

Creates 10,000 messages in a direct chat (alice → bob, so 20,000 stored copies) with
Message/set batches of maxObjectsInSet, prints messages/second, then times Message/get
of 1,000 messages. Run: ``.venv/bin/python benchmarks/server_bulk.py``.

Options: ``--total N`` messages; ``--file`` (a database file instead of ``:memory:``);
``--sent-at constant|ordered|scattered`` — one sentAt for all (the default), sentAt in
arrival order (a live chat, an export), or scattered (sentAt's order is not arrival's:
each create lands somewhere inside the sentAt index). Besides messages/second of wall
time it prints the process CPU rate, steadier on a shared machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, table

from jmapchat.server import ChatServer

USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:chat"]
_BASE = 1_735_689_600.0  # 2025-01-01T00:00:00Z


def _sent_at(mode: str, i: int) -> str:
    offset = {"constant": 0.0, "ordered": i * 0.001, "scattered": (i * 7919) % 1_000_000 * 0.001}
    ts = _BASE + offset[mode]
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=10_000)
    parser.add_argument("--file", action="store_true", help="a database file, not :memory:")
    parser.add_argument(
        "--sent-at", choices=("constant", "ordered", "scattered"), default="constant"
    )
    opts = parser.parse_args()
    total = opts.total
    print(f"reference server throughput — {machine()}")
    print("in-process ASGI (httpx.ASGITransport), raw batched JMAP requests, no client library")
    print(f"database: {'file' if opts.file else ':memory:'}; sentAt: {opts.sent_at}")
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bulk.sqlite") if opts.file else ":memory:"
        await _run(db, total, opts.sent_at)


async def _run(db: str, total: int, sent_mode: str) -> None:
    rows: list[tuple[str, str, str]] = []
    with ChatServer(db=db, users=["alice", "bob"]) as server:
        acc = server.account_ids["alice"]
        headers = {"Authorization": f"Bearer {server.tokens['alice']}"}
        batch = server.limits.max_objects_in_set
        transport = httpx.ASGITransport(app=server.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", timeout=120
        ) as client:

            async def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
                body = {"using": USING, "methodCalls": [[name, {"accountId": acc, **args}, "0"]]}
                r = await client.post("/jmap/api/", json=body, headers=headers)
                r.raise_for_status()
                rname, rargs, _ = r.json()["methodResponses"][0]
                assert rname == name, rargs
                out: dict[str, Any] = rargs
                return out

            chat = await call("Chat/set", {"create": {"c": {"kind": "direct", "contactId": "bob"}}})
            chat_id = chat["created"]["c"]["id"]
            ids: list[str] = []
            t0 = time.perf_counter()
            c0 = time.process_time()
            for start in range(0, total, batch):
                create = {
                    f"m{i}": {
                        "chatId": chat_id,
                        "body": f"message {i}",
                        "bodyType": "text/plain",
                        "sentAt": _sent_at(sent_mode, i),
                    }
                    for i in range(start, min(total, start + batch))
                }
                res = await call("Message/set", {"create": create})
                assert not res["notCreated"], res["notCreated"]
                ids += [m["id"] for m in res["created"].values()]
            elapsed = time.perf_counter() - t0
            create_rate = len(ids) / elapsed
            cpu_rate = len(ids) / (time.process_time() - c0)
            rows.append(
                (
                    f"Message/set: {len(ids):,} creates, {batch} per request",
                    f"{elapsed:.2f} s",
                    f"{create_rate:,.0f} messages/s ({cpu_rate:,.0f}/s of CPU)",
                )
            )
            sample = ids[:1000]
            get_batch = server.limits.max_objects_in_get
            t0 = time.perf_counter()
            got = 0
            for start in range(0, len(sample), get_batch):
                res = await call("Message/get", {"ids": sample[start : start + get_batch]})
                got += len(res["list"])
            elapsed = time.perf_counter() - t0
            get_rate = got / elapsed
            rows.append(
                (
                    f"Message/get of {got:,} messages",
                    f"{elapsed * 1000:.1f} ms",
                    f"{get_rate:,.0f} messages/s",
                )
            )
            t0 = time.perf_counter()
            q = await call(
                "Message/query",
                {
                    "filter": {"chatId": chat_id},
                    "position": 5000,
                    "limit": 50,
                    "calculateTotal": True,
                },
            )
            elapsed = time.perf_counter() - t0
            rows.append(
                (
                    f"Message/query (position 5000, total) over {q['total']:,}",
                    f"{elapsed * 1000:.1f} ms",
                    "",
                )
            )
    print(table(rows, ("operation", "time", "throughput")))
    print(
        f"RESULT server_bulk creates = {create_rate:,.0f} messages/s, "
        f"Message/get = {get_rate:,.0f} messages/s (no target: watch for regressions)"
    )


if __name__ == "__main__":
    anyio.run(main)
