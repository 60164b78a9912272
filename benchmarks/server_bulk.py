"""Bulk benchmark for the reference server, through raw batched JMAP requests.

Creates 10,000 messages in a direct chat (alice → bob, so 20,000 stored copies) with
Message/set batches of maxObjectsInSet, prints messages/second, then times Message/get
of 1,000 messages. Run: ``.venv/bin/python benchmarks/server_bulk.py``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, table

from jmapchat.server import ChatServer

USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:chat"]
TOTAL = 10_000


async def main() -> None:
    print(f"reference server throughput — {machine()}")
    print("in-process ASGI (httpx.ASGITransport), raw batched JMAP requests, no client library")
    rows: list[tuple[str, str, str]] = []
    with ChatServer(users=["alice", "bob"]) as server:
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
            for start in range(0, TOTAL, batch):
                create = {
                    f"m{i}": {
                        "chatId": chat_id,
                        "body": f"message {i}",
                        "bodyType": "text/plain",
                        "sentAt": "2025-01-01T00:00:00Z",
                    }
                    for i in range(start, min(TOTAL, start + batch))
                }
                res = await call("Message/set", {"create": create})
                assert not res["notCreated"], res["notCreated"]
                ids += [m["id"] for m in res["created"].values()]
            elapsed = time.perf_counter() - t0
            create_rate = len(ids) / elapsed
            rows.append(
                (
                    f"Message/set: {len(ids):,} creates, {batch} per request",
                    f"{elapsed:.2f} s",
                    f"{create_rate:,.0f} messages/s",
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
