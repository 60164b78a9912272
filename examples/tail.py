"""tail: print every new message as it arrives, and keep going across server restarts.

    python examples/tail.py --url URL --token TOK   # follow your server until Ctrl-C
    python examples/tail.py                          # a scripted demo (see below)

``client.events(["Message"])`` yields a `StateChange` whenever the account's messages
change; one request (``Message/changes`` + ``Message/get`` of what it created, by
reference) fetches the new ones. The stream reconnects by itself (capped, jittered
backoff, ``Last-Event-ID``), and ``Message/changes`` since the last state we printed never
skips or repeats a message, however long the server was away.

The demo starts the reference server on a file database, tails alice's account, has bob
send messages, stops the server, restarts it on the same database and port, and has bob
send more: every message is printed once, in order.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio

import jmapchat
from jmapchat.models import ChatCreate, MessageCreate, StateChange


async def tail(
    client: jmapchat.AsyncClient,
    *,
    stop_after: int | None = None,
    listening: Callable[[], object] = lambda: None,
    progress: Callable[[int], object] = lambda n: None,
) -> None:
    """Print new messages until ``stop_after`` have been printed (None: forever).
    ``listening`` is called once the event stream is open, ``progress`` with the count
    printed so far after each batch."""
    state = (await client.message.get(ids=[])).state  # start from now
    printed = 0
    async with client.events(["Message"], backoff=jmapchat.Backoff(0.1, 2.0)) as events:
        listening()
        async for event in events:
            if not isinstance(event, StateChange):
                continue
            if event.changed.get(client.account_id, {}).get("Message") in (None, state):
                continue  # another account or type, or a state we have already caught up to
            req = client.request()
            news = req.message.changes(since_state=state)
            got = req.message.get(ids=news.created, properties=["senderId", "body"])
            await client.send(req)
            for msg in got.result.list:
                print(f"{msg.sender_id}: {msg.body}", flush=True)
                printed += 1
            state = news.result.new_state
            progress(printed)
            if stop_after is not None and printed >= stop_after:
                return


# --- the demo ------------------------------------------------------------------------


class RestartableServer:
    """The reference server on a fixed loopback port, restartable on the same database."""

    def __init__(self, db: Path) -> None:
        self.db, self.port, self.url = str(db), 0, ""
        self._stack: contextlib.ExitStack | None = None
        self.tokens: dict[str, str] = {}

    def start(self) -> None:
        from jmapchat.server import ChatServer, serve_in_thread

        stack = contextlib.ExitStack()
        server = stack.enter_context(ChatServer(db=self.db, users=["alice", "bob"]))
        self.url = stack.enter_context(serve_in_thread(server, port=self.port))
        self.port = int(self.url.rsplit(":", 1)[1])
        self.tokens, self._stack = server.tokens, stack

    def stop(self) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None


@contextlib.contextmanager
def demo_server() -> Iterator[RestartableServer]:
    with tempfile.TemporaryDirectory() as tmp:
        server = RestartableServer(Path(tmp) / "chat.sqlite")
        server.start()
        try:
            yield server
        finally:
            server.stop()


async def demo(server: RestartableServer) -> None:
    url = server.url
    alice_token, bob_token = server.tokens["alice"], server.tokens["bob"]

    async def bob_says(*bodies: str) -> None:
        async with jmapchat.AsyncClient.connect(url, token=bob_token) as bob:
            chats = await bob.chat.get(ids=None)
            chat_id = next(c.id for c in chats.list if c.contact_id == "alice")
            for body in bodies:
                await bob.message.set(create={"m": MessageCreate(chat_id=chat_id, body=body)})

    async with jmapchat.AsyncClient.connect(url, token=bob_token) as bob:
        await bob.chat.set(create={"c": ChatCreate.direct(contact_id="alice")})
    async with (
        jmapchat.AsyncClient.connect(url, token=alice_token) as alice,
        anyio.create_task_group() as tg,
    ):
        listening, two_shown = anyio.Event(), anyio.Event()

        def shown(n: int) -> None:
            if n >= 2:
                two_shown.set()

        tg.start_soon(lambda: tail(alice, stop_after=4, listening=listening.set, progress=shown))
        await listening.wait()
        await bob_says("hi alice", "are you there?")
        await two_shown.wait()
        print("-- restarting the server --", flush=True)
        await anyio.to_thread.run_sync(server.stop)
        await anyio.to_thread.run_sync(server.start)
        await bob_says("the server restarted", "still here?")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url")
    parser.add_argument("--token")
    args = parser.parse_args()
    if args.url:

        async def follow() -> None:
            async with jmapchat.AsyncClient.connect(args.url, token=args.token) as client:
                await tail(client)

        anyio.run(follow)
    else:
        with demo_server() as server:  # started and stopped outside the event loop
            anyio.run(demo, server, backend="trio")


if __name__ == "__main__":
    main()
