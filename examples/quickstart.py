"""jmapchat quickstart: batched JMAP Chat calls, one HTTP request each.

    python examples/quickstart.py                        # against a built-in server
    python examples/quickstart.py --url URL --token TOK  # against your server

Without ``--url`` a reference server (``jmapchat.server``, users alice and bob) is started
in this process on a loopback port. The script then:

1. sends three messages *and* asks what changed, in one request (set-then-changes);
2. queries the chat and fetches the messages by reference, in one request (query → get);
3. shows how a big request would be split under the server's limits.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import Any

import anyio
import httpx

import jmapchat
from jmapchat.models import ChatCreate, MessageCreate, MessageFilter


@contextlib.contextmanager
def built_in_server() -> Iterator[tuple[str, str, str]]:
    """Start the reference server on 127.0.0.1; yield (url, alice's token, bob's contact id)."""
    from jmapchat.server import ChatServer, serve_in_thread

    server = ChatServer(db=":memory:", users=["alice", "bob"])
    try:
        with serve_in_thread(server, host="127.0.0.1", port=0) as url:
            yield url, server.tokens["alice"], server.contact_ids["bob"]
    finally:
        server.close()


async def run(url: str, token: str, contact_id: str | None) -> None:
    sent_requests = 0

    async def count(request: httpx.Request) -> None:
        nonlocal sent_requests
        sent_requests += 1

    http = httpx.AsyncClient(event_hooks={"request": [count]})
    async with http, jmapchat.AsyncClient.connect(url, token=token, http_client=http) as client:
        core = client.session.core
        print(f"connected to {client.session.api_url} as account {client.account_id}")
        print(
            f"  server limits: maxCallsInRequest={core.max_calls_in_request}, "
            f"maxObjectsInSet={core.max_objects_in_set}"
        )

        # A chat to talk in: a direct chat with the other user (or a group on your server).
        if contact_id is not None:
            chat = ChatCreate.direct(contact_id=contact_id)
        else:
            chat = ChatCreate.group(name="jmapchat quickstart", member_ids=[])
        made = await client.chat.set(create={"c": chat})  # a one-call helper
        made.raise_for_errors()
        assert made.created is not None
        chat_id = made.created["c"].id
        state = (await client.message.get(ids=[])).state
        print(f"chat {chat_id}; Message state {state}")

        # 1. set-then-changes: the /changes observes the /set, same envelope, in order.
        before = sent_requests
        req = client.request()
        sent = req.message.set(
            create={
                f"m{i}": MessageCreate(chat_id=chat_id, body=text)
                for i, text in enumerate(["hello", "batched", "world"])
            }
        )
        news = req.message.changes(since_state=state)
        await client.send(req)
        created: dict[str, Any] = dict(sent.result.created or {})
        print(f"\n[1] set + changes in {sent_requests - before} HTTP request")
        for key, msg in created.items():
            print(f"    created {key} -> {msg.id}")
        print(f"    changes since {state}: created={news.result.created}")

        # 2. query -> get: the /get takes the /query's ids by reference (#ids).
        before = sent_requests
        req = client.request()
        page = req.message.query(filter=MessageFilter(chat_id=chat_id), limit=50)
        msgs = req.message.get(ids=page.ids, properties=["id", "body", "senderId"])
        await client.send(req)
        print(f"\n[2] query + get in {sent_requests - before} HTTP request")
        for m in msgs.result.list:
            print(f"    {m.sender_id}: {m.body}")

        # 3. What would 2,000 messages plus a /changes cost? explain() shows the split plan
        #    under this server's limits (no I/O): /set chunked by maxObjectsInSet, the
        #    reference to the chunked /set's newState resolved client-side.
        big = client.request()
        bulk = big.message.set(
            create={f"b{i}": MessageCreate(chat_id=chat_id, body=f"#{i}") for i in range(2000)}
        )
        big.message.changes(since_state=bulk.new_state)
        print("\n[3] client.explain(request) for 2,000 messages + changes:")
        for line in client.explain(big).splitlines():
            if line.startswith(("split plan", "  #", "      c")):
                print("    " + line.strip())
        print(f"\ntotal HTTP requests (session discovery included): {sent_requests}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="server URL (default: start the built-in server)")
    parser.add_argument("--token", help="bearer token (with --url)")
    parser.add_argument("--contact", help="a ChatContact id to chat with (with --url)")
    parser.add_argument("--backend", default="asyncio", choices=["asyncio", "trio"])
    args = parser.parse_args()
    if args.url:
        if not args.token:
            parser.error("--url needs --token")
        anyio.run(run, args.url, args.token, args.contact, backend=args.backend)
        return
    with built_in_server() as (url, token, contact_id):
        print(f"started the built-in reference server at {url}")
        anyio.run(run, url, token, contact_id, backend=args.backend)


if __name__ == "__main__":
    main()
