"""A persistent local mirror of an account with ``jmapchat.sync.AsyncMirror`` (on trio).

    python examples/mirror.py
    python examples/mirror.py --url URL --token TOKEN --store bot.sqlite

1. Open a mirror of ChatContact, Chat and Message backed by a SQLite file; the first
   ``sync()`` loads everything.
2. ``mirror.send(req)``: our write and the catch-up travel in ONE request, so the mirror
   shows the new message as soon as the call returns.
3. Another user writes; one ``sync()`` step (ONE request for all three types) brings the
   changes, as a typed diff.
4. An ordered view of one chat, kept current by ``Message/queryChanges``.
5. "Restart": a new mirror on the same file resumes from its stored states.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import trio

import jmapchat
from jmapchat.models import ChatCreate
from jmapchat.sync import AsyncMirror


@contextlib.contextmanager
def built_in_server() -> Iterator[tuple[str, str, str]]:
    from jmapchat.server import ChatServer, serve_in_thread

    server = ChatServer(db=":memory:", users=["alice", "bob"])
    try:
        with serve_in_thread(server, host="127.0.0.1", port=0) as url:
            yield url, server.tokens["alice"], server.tokens["bob"]
    finally:
        server.close()


async def run(url: str, token: str, other_token: str | None, store: Path) -> None:
    posts = 0

    async def count(request: httpx.Request) -> None:
        nonlocal posts
        posts += request.method == "POST"

    http = httpx.AsyncClient(event_hooks={"request": [count]})
    async with (
        http,
        jmapchat.AsyncClient.connect(url, token=token, http_client=http) as client,
        AsyncMirror(client, store=store, types=["ChatContact", "Chat", "Message"]) as mirror,
    ):
        posts = 0
        diff = await mirror.sync()
        print(f"loaded {diff!r} in {posts} HTTP request(s)")

        chats = list(mirror.objects("Chat").values())
        if chats:
            chat_id = chats[0].id
        else:
            made = await client.chat.set(
                create={"c": ChatCreate.group(name="mirror demo", member_ids=["bob"])}
            )
            made.raise_for_errors()
            chat_id = made.created["c"].id

        req = client.request()
        sent = req.message.send(chat_id, "hello from the mirror")
        posts = 0
        diff = await mirror.send(req)
        new_id = sent.result.created[sent.creation_key].id
        have = mirror.get("Message", new_id) is not None
        print(f"send + catch-up: {posts} HTTP request; the mirror has the message: {have}")
        print(f"  created locally: {[m.body for m in diff.created('Message')]}")

        view = await mirror.messages(chat_id)
        print(f"ordered view of the chat: {len(view)} message(s), last: {view[-1].body!r}")

        if other_token is not None:
            async with jmapchat.AsyncClient.connect(url, token=other_token) as bob:
                bob_chat = (await bob.chat.get(ids=None)).list[0].id
                for text in ("hi alice", "how is the mirror?"):
                    await bob.message.send(bob_chat, text)
                edit = await client.message.edit(new_id, "hello from the mirror (edited)")
                edit.raise_for_errors()
            posts = 0
            diff = await mirror.sync()
            print(f"one sync step: {posts} HTTP request(s) for {len(mirror.types)} types: {diff!r}")
            for msg in diff.created("Message"):
                print(f"  new from {msg.sender_id}: {msg.body}")
            for change in diff.updated("Message"):
                print(f"  edited: {change.old.body!r} -> {change.new.body!r}")
            print(f"  the view now ends with: {[m.body for m in view][-2:]}")

    async with (
        jmapchat.AsyncClient.connect(url, token=token) as client,
        AsyncMirror(client, store=store) as mirror,
    ):
        diff = await mirror.sync()
        count_msgs = len(mirror.objects("Message"))
        print(
            f"restarted on {store.name}: resumed at Message state "
            f"{mirror.state('Message')!r}, {count_msgs} message(s), catch-up {diff!r}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="server URL (default: start the built-in server)")
    parser.add_argument("--token", help="bearer token (with --url)")
    parser.add_argument("--store", help="the mirror's SQLite file (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(args.store) if args.store else Path(tmp) / "mirror.sqlite"
        if args.url:
            if not args.token:
                parser.error("--url needs --token")
            trio.run(run, args.url, args.token, None, store)
            return
        with built_in_server() as (url, token, bob_token):
            print(f"started the built-in reference server at {url}")
            trio.run(run, url, token, bob_token, store)


if __name__ == "__main__":
    main()
