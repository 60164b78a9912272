"""Shared helpers for the benchmarks: a seeded reference server and timing utilities.

Every benchmark compares against a baseline measured in the same run and prints ratios;
nothing here asserts on time.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx

from jmapchat.server import ChatServer

USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:chat"]


def best_of(fn: Callable[[], Any], *, number: int, repeat: int = 7) -> float:
    """Best per-call time in seconds over ``repeat`` runs of ``number`` calls (timeit style)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return min(times)


def median_of(fn: Callable[[], Any], *, number: int, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return statistics.median(times)


def table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)), line]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def seed_messages(server: ChatServer, count: int) -> tuple[str, str]:
    """Create a direct chat alice→bob with ``count`` varied messages; return (account, chat)."""

    async def go() -> tuple[str, str]:
        acc = server.account_ids["alice"]
        headers = {"Authorization": f"Bearer {server.tokens['alice']}"}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=server.app), base_url="http://seed", timeout=120
        ) as http:

            async def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
                body = {"using": USING, "methodCalls": [[name, {"accountId": acc, **args}, "0"]]}
                r = await http.post("/jmap/api/", json=body, headers=headers)
                r.raise_for_status()
                rname, rargs, _ = r.json()["methodResponses"][0]
                assert rname == name, rargs
                out: dict[str, Any] = rargs
                return out

            bob = server.contact_ids["bob"]
            chat = await call("Chat/set", {"create": {"c": {"kind": "direct", "contactId": bob}}})
            chat_id = chat["created"]["c"]["id"]
            batch = server.limits.max_objects_in_set
            for start in range(0, count, batch):
                create: dict[str, Any] = {}
                for i in range(start, min(count, start + batch)):
                    body = f"@{bob} message {i}: the quick brown fox jumps over the lazy dog"
                    m: dict[str, Any] = {
                        "chatId": chat_id,
                        "body": body,
                        "bodyType": "text/plain",
                        "sentAt": "2026-11-25T10:00:00Z",
                    }
                    if i % 10 == 0:
                        m["mentions"] = [{"id": bob, "offset": 0, "length": len(bob) + 1}]
                    create[f"m{i}"] = m
                res = await call("Message/set", {"create": create})
                assert not res.get("notCreated"), res.get("notCreated")
            return acc, chat_id

    return anyio.run(go)


def post_raw(server: ChatServer, user: str, body: bytes) -> bytes:
    """POST an envelope straight to the ASGI app and return the reply bytes."""

    async def go() -> bytes:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=server.app), base_url="http://raw", timeout=120
        ) as http:
            r = await http.post(
                "/jmap/api/",
                content=body,
                headers={
                    "Authorization": f"Bearer {server.tokens[user]}",
                    "Content-Type": "application/json",
                },
            )
            r.raise_for_status()
            return r.content

    return anyio.run(go)
