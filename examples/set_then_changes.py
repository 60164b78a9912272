"""Keeping a local mirror in sync with state strings, with the blocking ``Client``.

    python examples/set_then_changes.py
    python examples/set_then_changes.py --url URL --token TOKEN --contact CONTACT_ID

1. Remember the Message state.
2. In ONE request: create two messages, edit one of them by creation id (``#m1``), and
   ask ``Message/changes`` since the remembered state. The ``/changes`` runs after the
   ``/set`` in the same envelope, so it already sees the new messages.
3. Later (here: after more writes), catch up with ``client.changes_pages``, which follows
   ``hasMoreChanges`` page by page and refuses a cursor that does not move.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator

import httpx

import jmapchat
from jmapchat.models import ChatCreate, MessageCreate, MessageUpdate


@contextlib.contextmanager
def built_in_server() -> Iterator[tuple[str, str, str]]:
    from jmapchat.server import ChatServer, serve_in_thread

    server = ChatServer(db=":memory:", users=["alice", "bob"])
    try:
        with serve_in_thread(server, host="127.0.0.1", port=0) as url:
            yield url, server.tokens["alice"], server.contact_ids["bob"]
    finally:
        server.close()


def run(url: str, token: str, contact_id: str | None) -> None:
    posts = 0

    def on_request(request: httpx.Request) -> None:
        nonlocal posts
        posts += request.method == "POST"

    http = httpx.Client(event_hooks={"request": [on_request]})
    with http, jmapchat.Client.connect(url, token=token, http_client=http) as client:
        chat = (
            ChatCreate.direct(contact_id=contact_id)
            if contact_id
            else ChatCreate.group(name="sync demo", member_ids=[])
        )
        made = client.chat.set(create={"c": chat})
        made.raise_for_errors()
        assert made.created is not None
        chat_id = made.created["c"].id
        since = client.message.get(ids=[]).state
        print(f"remembered Message state {since!r}")

        posts = 0
        req = client.request()
        sent = req.message.set(
            create={
                "m1": MessageCreate(chat_id=chat_id, body="first draft"),
                "m2": MessageCreate(chat_id=chat_id, body="second"),
            }
        )
        req.message.set(update={sent.created_id("m1"): MessageUpdate(body="first, edited")})
        changed = req.message.changes(since_state=since)
        client.send(req)
        print(f"set + edit-by-creation-id + changes: {posts} HTTP request")
        print(f"  created: {changed.result.created}")
        print(f"  new state: {changed.result.new_state!r}")

        for i in range(5):
            client.message.set(create={f"x{i}": MessageCreate(chat_id=chat_id, body=f"x{i}")})

        print(f"\ncatching up from {changed.result.new_state!r}, two changes per page:")
        posts = 0
        seen: list[str] = []
        for page in client.changes_pages("Message", changed.result.new_state, max_changes=2):
            seen += page.created
            print(
                f"  {page.old_state!r} -> {page.new_state!r}: +{len(page.created)} "
                f"created, more={page.has_more_changes}"
            )
        print(f"{len(seen)} new messages in {posts} HTTP requests")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="server URL (default: start the built-in server)")
    parser.add_argument("--token", help="bearer token (with --url)")
    parser.add_argument("--contact", help="a ChatContact id to chat with (with --url)")
    args = parser.parse_args()
    if args.url:
        if not args.token:
            parser.error("--url needs --token")
        run(args.url, args.token, args.contact)
        return
    with built_in_server() as (url, token, contact_id):
        print(f"started the built-in reference server at {url}")
        run(url, token, contact_id)


if __name__ == "__main__":
    main()
