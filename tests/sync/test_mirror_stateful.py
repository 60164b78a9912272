"""Property-based: two users write at random through the real server (over a loopback
socket); after every ``sync()`` alice's mirror equals the server's own view of her
account, each step after the load is exactly ONE HTTP request, and every ordered view
equals the server's ``Message/query``.

Run for the in-memory and SQLite stores, with `AsyncMirror` on asyncio and on trio (in
a blocking portal) and with the blocking `Mirror`. Each example has two fresh users; a
``restart`` rule reopens the mirror on the same store, which resumes from its states.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import start_blocking_portal
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from jmapchat import AsyncClient, Client, SetErrors
from jmapchat.models import ChatCreate, ChatUpdate, MessageFilter
from jmapchat.server import ChatServer, serve_in_thread
from jmapchat.sync import AsyncMirror, MemoryStore, Mirror
from jmapchat.testing import NO_BACKOFF, AsyncFaultTransport, FaultTransport, Wire

from ._view import mirror_view, server_view_sync

USERS = st.sampled_from(["alice", "bob"])
TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=12
)
NAME = TEXT.filter(str.strip)  # chat names must not be blank


def pick(data: st.DataObject, items: list[str]) -> str:
    """One of ``items``; draws the same way whatever their number (replays stay valid)."""
    return items[data.draw(st.integers(0, 255)) % len(items)]


class Env:
    """One server on a loopback socket (and, for async mirrors, a portal running an
    event loop). Each example gets two fresh users, so examples do not share data."""

    def __init__(self, stack: ExitStack, variant: str, tmp: Path) -> None:
        self.stack = stack
        self.server = stack.enter_context(ChatServer())
        self.url = stack.enter_context(serve_in_thread(self.server))
        self.backend, self.store_kind = variant.split("-")
        self.tmp = tmp
        self.log = Wire()
        self.portal: Any = None
        if self.backend != "blocking":
            self.portal = stack.enter_context(start_blocking_portal(self.backend))
        self.examples = 0

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a mirror method: through the portal for async mirrors, directly otherwise."""
        return self.portal.call(fn, *args) if self.portal is not None else fn(*args)


class Accounts:
    """Two fresh users for one example: blocking writers, and alice's mirror client
    (async or blocking) whose API requests are counted in ``env.log``."""

    def __init__(self, env: Env) -> None:
        env.examples += 1
        n = env.examples
        self.env = env
        self.names = {"alice": f"alice{n}", "bob": f"bob{n}"}
        tokens = {u: env.server.add_user(name) for u, name in self.names.items()}
        self.writers = {
            u: Client.connect(env.url, token=tokens[u], retries=NO_BACKOFF).open() for u in tokens
        }
        if env.backend == "blocking":
            self.client: Any = Client.connect(
                env.url,
                token=tokens["alice"],
                transport=FaultTransport(httpx.HTTPTransport(), env.log),
                retries=NO_BACKOFF,
            ).open()
        else:

            async def open_async() -> AsyncClient:
                client = AsyncClient.connect(
                    env.url,
                    token=tokens["alice"],
                    transport=AsyncFaultTransport(httpx.AsyncHTTPTransport(), env.log),
                    retries=NO_BACKOFF,
                )
                return await client.open()

            self.client = env.portal.call(open_async)
        self.store: Any = env.tmp / f"mirror{n}.sqlite" if env.store_kind == "sqlite" else None
        if self.store is None:
            self.store = MemoryStore()

    def new_mirror(self) -> Any:
        cls = Mirror if self.env.backend == "blocking" else AsyncMirror
        mirror = cls(self.client, store=self.store, types=["ChatContact", "Chat", "Message"])
        self.env.call(mirror.open)
        return mirror

    def close_mirror(self, mirror: Any) -> None:
        self.env.call(mirror.close if self.env.backend == "blocking" else mirror.aclose)

    def close(self) -> None:
        for w in self.writers.values():
            w.close()
        self.env.call(self.client.close if self.env.backend == "blocking" else self.client.aclose)

    def chats(self, user: str) -> list[str]:
        return sorted(c.id for c in self.writers[user].chat.get(ids=None).list)

    def messages(self, user: str, chat_id: str) -> list[str]:
        return self.writers[user].message.query(filter=MessageFilter(chat_id=chat_id)).ids


@pytest.fixture(
    params=[
        "asyncio-memory",
        "asyncio-sqlite",
        "trio-memory",
        "trio-sqlite",
        "blocking-memory",
        "blocking-sqlite",
    ]
)
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    with ExitStack() as stack:
        yield Env(stack, request.param, tmp_path)


def test_mirror_equals_the_server_after_every_sync(env: Env) -> None:
    class Machine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.acc = Accounts(env)
            self.mirror = self.acc.new_mirror()
            self.loaded = False
            self.views: set[str] = set()

        def teardown(self) -> None:
            try:
                self.sync_and_compare()
            finally:
                self.acc.close_mirror(self.mirror)
                self.acc.close()

        # --- writes, by either user ---------------------------------------------------

        @initialize(user=USERS, name=NAME, bodies=st.lists(TEXT, min_size=1, max_size=3))
        def some_history(self, user: str, name: str, bodies: list[str]) -> None:
            self.new_group(user, name)
            chat = self.acc.chats(user)[-1]
            for body in bodies:
                self.acc.writers[user].message.send(chat, body)  # must succeed

        @rule(user=USERS, data=st.data(), body=TEXT)
        def post(self, user: str, data: st.DataObject, body: str) -> None:
            chats = self.acc.chats(user)
            if not chats:
                self.new_group(user, body)
                return
            chat = pick(data, chats)
            with suppress(SetErrors):  # e.g. a channel the user may not post in
                self.acc.writers[user].message.send(chat, body)

        @rule(user=USERS, data=st.data(), body=TEXT)
        def edit(self, user: str, data: st.DataObject, body: str) -> None:
            if target := self._pick_message(user, data):
                with suppress(SetErrors):  # not ours: refused
                    self.acc.writers[user].message.edit(target, body)

        @rule(user=USERS, data=st.data(), emoji=st.sampled_from(["👍", "🎉", "x"]))
        def react(self, user: str, data: st.DataObject, emoji: str) -> None:
            if target := self._pick_message(user, data):
                with suppress(SetErrors):  # a deleted message takes no reaction
                    self.acc.writers[user].message.react(target, emoji)

        @rule(user=USERS, data=st.data(), for_all=st.booleans())
        def delete(self, user: str, data: st.DataObject, for_all: bool) -> None:
            if target := self._pick_message(user, data):
                with suppress(SetErrors):  # for everyone: own messages only
                    self.acc.writers[user].message.delete([target], for_all=for_all)

        @rule(user=USERS, name=NAME)
        def new_group(self, user: str, name: str) -> None:
            other = self.acc.names["bob" if user == "alice" else "alice"]
            self.acc.writers[user].chat.set(
                create={"g": ChatCreate.group(name=name, member_ids=[other])}
            )

        @rule(user=USERS, data=st.data(), name=NAME, muted=st.booleans())
        def change_chat(self, user: str, data: st.DataObject, name: str, muted: bool) -> None:
            chats = self.acc.chats(user)
            if chats:
                chat = pick(data, chats)
                patch = data.draw(st.sampled_from([ChatUpdate(name=name), ChatUpdate(muted=muted)]))
                self.acc.writers[user].chat.set(update={chat: patch})  # not admin: a SetError

        @rule(user=USERS, data=st.data())
        def leave_chat(self, user: str, data: st.DataObject) -> None:
            chats = self.acc.chats(user)
            if chats:
                self.acc.writers[user].chat.set(destroy=[pick(data, chats)])

        # --- the mirror -------------------------------------------------------------

        @rule(data=st.data())
        def open_view(self, data: st.DataObject) -> None:
            chats = self.acc.chats("alice")
            if chats:
                chat = pick(data, chats)
                env.call(self.mirror.messages, chat)
                self.views.add(chat)

        @rule()
        def sync(self) -> None:
            self.sync_and_compare()

        @rule()
        def restart(self) -> None:
            """Close the mirror and open a new one on the same store: it resumes."""
            self.acc.close_mirror(self.mirror)
            self.mirror = self.acc.new_mirror()
            for chat in self.views:  # resumed from the store
                env.call(self.mirror.messages, chat)

        @invariant()
        def reads_are_typed(self) -> None:
            for chat_id, chat in self.mirror.objects("Chat").items():
                assert chat.id == chat_id

        def sync_and_compare(self) -> None:
            env.log.reset()
            env.call(self.mirror.sync)
            if self.loaded:
                assert env.log.api == 1, f"a step took {env.log.api} requests"
            self.loaded = True
            assert mirror_view(self.mirror) == server_view_sync(self.acc.writers["alice"])
            for chat in self.views:
                view = env.call(self.mirror.messages, chat)
                assert view.ids == self.acc.messages("alice", chat)

        def _pick_message(self, user: str, data: st.DataObject) -> str | None:
            chats = self.acc.chats(user)
            if not chats:
                return None
            ids = self.acc.messages(user, pick(data, chats))
            return pick(data, ids) if ids else None

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=4,
            stateful_step_count=16,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            # Examples share the server (fresh users each); shrinking a failure would
            # pile up users, so report the failing example as found.
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
        ),
    )
