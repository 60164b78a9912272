"""Drive JMAP Chat with nothing but the sans-IO core and the standard library's urllib.

The core builds the envelope as bytes and parses the reply from bytes; the I/O is
yours. This is the proof that jmapchat needs no particular HTTP library.

    python examples/sansio_any_http.py URL --token TOKEN    # any JMAP Chat server
    python examples/sansio_any_http.py                      # built-in server, started here
"""

from __future__ import annotations

import argparse
import contextlib
import json
import urllib.request
from collections.abc import Iterator

import jmapchat
from jmapchat._core import Session
from jmapchat.models import ChatCreate


def http(method: str, url: str, token: str, body: bytes | None = None) -> bytes:
    req = urllib.request.Request(url, data=body, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:
        data: bytes = resp.read()
        return data


def run(base_url: str, token: str) -> None:
    session_url = base_url.rstrip("/") + "/.well-known/jmap"
    session = Session.parse(http("GET", session_url, token), base_url=session_url)
    account = session.primary_account()

    # A group chat, then a query feeding a get by back-reference: all in ONE request.
    req = jmapchat.Request(account_id=account)
    made = req.chat.set(create={"g": ChatCreate.group(name="sans-io", member_ids=[])})
    query = req.chat.query()
    chats = req.chat.get(ids=query.ids, properties=["id", "name", "kind"])
    print("request:", req.build().decode())

    reply = http("POST", session.api_url, token, req.build())
    jmapchat.Response.parse(req, reply)  # binds results into the handles

    print("created chat id:", made.result.created["g"].id if made.result.created else None)
    for chat in chats.result.list:
        print(f"chat {chat.id}: kind={chat.kind} name={chat.name!r}")
    print("raw reply:", json.dumps(json.loads(reply))[:200], "…")


@contextlib.contextmanager
def builtin_server() -> Iterator[tuple[str, str]]:
    from jmapchat.server import ChatServer, serve_in_thread

    with (
        ChatServer(db=":memory:", users=["alice", "bob"]) as server,
        serve_in_thread(server) as url,
    ):
        yield url, server.tokens["alice"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", help="server base URL (default: built-in server)")
    parser.add_argument("--token", help="bearer token")
    args = parser.parse_args()
    if args.url:
        if not args.token:
            parser.error("--token is required with a URL")
        run(args.url, args.token)
    else:
        with builtin_server() as (url, token):
            run(url, token)


if __name__ == "__main__":
    main()
