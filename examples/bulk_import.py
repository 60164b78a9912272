"""Bulk import: thousands of messages in ONE ``send``; the executor splits it.

    python examples/bulk_import.py [--count 10000]
    python examples/bulk_import.py --url URL --token TOKEN --contact CONTACT_ID

Without ``--url`` a built-in reference server is started in this process on a loopback
port, advertising small limits (``maxObjectsInSet=500``, ``maxCallsInRequest=4``) so the
split is visible. The request is written as if there were no limits: one ``/set`` with
every message, then a ``/get`` of the first and last by creation id. ``send`` chunks the
``/set`` by ``maxObjectsInSet``, packs the chunks by ``maxCallsInRequest``, threads
``createdIds`` into the later envelope, and merges the chunks back into one result.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator

import anyio
import httpx

import jmapchat
from jmapchat.models import ChatCreate, MessageCreate, MessageFilter


@contextlib.contextmanager
def built_in_server() -> Iterator[tuple[str, str, str]]:
    """Start the reference server with small limits; yield (url, token, contact id)."""
    from jmapchat.server import ChatServer, ServerLimits, serve_in_thread

    limits = ServerLimits(max_objects_in_set=500, max_calls_in_request=4)
    server = ChatServer(db=":memory:", users=["alice", "bob"], limits=limits)
    try:
        with serve_in_thread(server, host="127.0.0.1", port=0) as url:
            yield url, server.tokens["alice"], server.contact_ids["bob"]
    finally:
        server.close()


async def run(url: str, token: str, contact_id: str | None, count: int) -> None:
    posts = 0

    async def on_request(request: httpx.Request) -> None:
        nonlocal posts
        posts += request.method == "POST"

    http = httpx.AsyncClient(event_hooks={"request": [on_request]}, timeout=120)
    async with http, jmapchat.AsyncClient.connect(url, token=token, http_client=http) as client:
        if contact_id is not None:
            chat = ChatCreate.direct(contact_id=contact_id)
        else:
            chat = ChatCreate.group(name="bulk import", member_ids=[])
        made = await client.chat.set(create={"c": chat})
        made.raise_for_errors()
        assert made.created is not None
        chat_id = made.created["c"].id

        req = client.request()
        imported = req.message.set(
            create={
                f"m{i}": MessageCreate(chat_id=chat_id, body=f"imported message {i}")
                for i in range(count)
            }
        )
        ends = req.message.get(
            ids=[imported.created_id("m0"), imported.created_id(f"m{count - 1}")],
            properties=["id", "body"],
        )
        for line in client.explain(req).splitlines():
            if line.startswith(("split plan", "  #")):
                print(line)

        posts = 0
        started = time.perf_counter()
        await client.send(req)
        elapsed = time.perf_counter() - started
        result = imported.result
        print(
            f"\nimported {len(result.created or {})} of {count} messages in {posts} HTTP "
            f"requests, {elapsed:.2f}s ({len(result.not_created or {})} failed)"
        )
        print("first and last, fetched by creation id across the split:")
        for m in ends.result.list:
            print(f"  {m.id}: {m.body}")

        total = await client.message.query(
            filter=MessageFilter(chat_id=chat_id), limit=0, calculate_total=True
        )
        print(f"the chat now holds {total.total} messages")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="server URL (default: start the built-in server)")
    parser.add_argument("--token", help="bearer token (with --url)")
    parser.add_argument("--contact", help="a ChatContact id to chat with (with --url)")
    parser.add_argument("--count", type=int, default=10_000, help="messages to import")
    parser.add_argument("--backend", default="asyncio", choices=["asyncio", "trio"])
    args = parser.parse_args()
    if args.url:
        if not args.token:
            parser.error("--url needs --token")
        anyio.run(run, args.url, args.token, args.contact, args.count, backend=args.backend)
        return
    with built_in_server() as (url, token, contact_id):
        print(f"started the built-in reference server at {url}\n")
        anyio.run(run, url, token, contact_id, args.count, backend=args.backend)


if __name__ == "__main__":
    main()
