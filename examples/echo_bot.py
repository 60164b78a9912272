"""echo_bot: answer every message as it arrives (the blocking `jmapchat.Client`).

    python examples/echo_bot.py --url URL --token TOK   # run the bot until Ctrl-C
    python examples/echo_bot.py                          # a scripted demo

The bot listens with ``client.events(["Message"])``; on each StateChange, one request
(``Message/changes`` + ``Message/get`` by reference) fetches what arrived since the last
state it handled, and it replies ``echo: <body>`` in the same chat. Its own messages
(``senderId == "self"``) are skipped, so it never answers itself.

The demo runs the bot as alice in a thread; bob sends two messages and prints the chat.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable

import jmapchat
from jmapchat.models import SELF, ChatCreate, MessageCreate, MessageFilter, StateChange


def run_bot(
    client: jmapchat.Client,
    *,
    stop_after: int | None = None,
    listening: Callable[[], object] = lambda: None,
) -> None:
    """Echo messages until ``stop_after`` replies were sent (None: forever)."""
    state = client.message.get(ids=[]).state
    replies = 0
    with client.events(["Message"]) as events:
        listening()
        for event in events:
            if not isinstance(event, StateChange):
                continue
            if event.changed.get(client.account_id, {}).get("Message") in (None, state):
                continue
            req = client.request()
            news = req.message.changes(since_state=state)
            got = req.message.get(ids=news.created, properties=["chatId", "senderId", "body"])
            client.send(req)
            state = news.result.new_state
            incoming = [m for m in got.result.list if m.sender_id != SELF]
            if not incoming:
                continue
            # One request for all the replies to this batch.
            client.message.set(
                create={
                    f"r{i}": MessageCreate(chat_id=m.chat_id, body=f"echo: {m.body}")
                    for i, m in enumerate(incoming)
                }
            ).raise_for_errors()
            replies += len(incoming)
            if stop_after is not None and replies >= stop_after:
                return


def demo() -> None:
    from jmapchat.server import ChatServer, serve_in_thread

    with (
        ChatServer(users=["alice", "bob"]) as server,
        serve_in_thread(server) as url,
        jmapchat.Client.connect(url, token=server.tokens["alice"]) as alice,
        jmapchat.Client.connect(url, token=server.tokens["bob"]) as bob,
    ):
        made = bob.chat.set(create={"c": ChatCreate.direct(contact_id="alice")})
        assert made.created is not None
        chat_id = made.created["c"].id
        listening = threading.Event()
        bot = threading.Thread(
            target=run_bot, kwargs={"client": alice, "stop_after": 2, "listening": listening.set}
        )
        bot.start()
        listening.wait(30)
        for body in ("ping", "is anyone there?"):
            bob.message.set(create={"m": MessageCreate(chat_id=chat_id, body=body)})
        bot.join(60)
        page = bob.message.query(filter=MessageFilter(chat_id=chat_id))
        for msg in bob.message.get(ids=page.ids, properties=["senderId", "body"]).list:
            who = "bob" if msg.sender_id == SELF else msg.sender_id
            print(f"{who}: {msg.body}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url")
    parser.add_argument("--token")
    args = parser.parse_args()
    if args.url:
        with jmapchat.Client.connect(args.url, token=args.token) as client:
            run_bot(client)
    else:
        demo()


if __name__ == "__main__":
    main()
