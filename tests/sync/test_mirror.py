"""`AsyncMirror` against the reference server (in-process), on asyncio and trio."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from jmapchat import AsyncClient, CapabilityNotSupported, LocalProtocolError
from jmapchat.models import ChatCreate, Message, MessageCreate, MessageFilter, StateChange
from jmapchat.server import ChatServer, ServerLimits
from jmapchat.sync import (
    AsyncMirror,
    IncompatibleStore,
    MemoryStore,
    MirrorError,
    SQLiteStore,
    TypeWrite,
)
from jmapchat.testing import AsyncFaultTransport, Wire

from ._view import mirror_view, server_view

pytestmark = pytest.mark.anyio


async def group(client: AsyncClient, name: str = "g") -> str:
    res = await client.chat.set(create={"g": ChatCreate.group(name=name, member_ids=["bob"])})
    res.raise_for_errors()
    return res.created["g"].id


async def post(client: AsyncClient, chat_id: str, *bodies: str) -> list[str]:
    res = await client.message.set(
        create={f"m{i}": MessageCreate(chat_id=chat_id, body=b) for i, b in enumerate(bodies)}
    )
    res.raise_for_errors()
    return [res.created[f"m{i}"].id for i in range(len(bodies))]


async def test_load_then_one_request_per_step_with_typed_diffs(
    make_client: Any, wire: Wire
) -> None:
    async with make_client() as alice, make_client("bob") as bob:
        chat = await group(alice)
        first, second = await post(alice, chat, "one", "two")
        other = await group(alice, "other")
        (bye,) = await post(alice, other, "bye")
        async with AsyncMirror(alice) as mirror:
            wire.reset()
            diff = await mirror.sync()
            assert wire.api == 2  # every type + first pages; then the chat's messages
            assert sorted(m.body for m in diff.created("Message")) == ["bye", "one", "two"]
            assert mirror_view(mirror) == await server_view(alice)

            wire.reset()
            assert not await mirror.sync()
            assert wire.api == 1

            bob_chat = (await bob.chat.get(ids=None)).list[0].id
            await post(bob, bob_chat, "from bob")
            await alice.message.edit(first, "one, edited")
            await alice.message.delete([second])  # a tombstone: an update
            await alice.chat.set(destroy=[other])  # leaving: the chat and its messages go
            wire.reset()
            diff = await mirror.sync()
            assert wire.api == 1
            body = wire.api_bodies[0]["methodCalls"]
            names = [c[0] for c in body]
            assert names[:3] == ["ChatContact/changes", "ChatContact/get", "ChatContact/get"]
            assert body[1][1]["#ids"]["path"] == "/created"
            assert body[2][1]["#ids"]["path"] == "/updated"
            created: list[Message] = diff.created("Message")
            assert [m.body for m in created] == ["from bob"]
            edit, tombstone = sorted(diff.updated(Message), key=lambda u: u.id != first)
            assert (edit.id, edit.old.body, edit.new.body) == (first, "one", "one, edited")
            assert (tombstone.id, tombstone.old.deleted_at) == (second, None)
            assert tombstone.new.deleted_at is not None
            assert diff.destroyed("Message") == [bye]
            assert diff.destroyed("Chat") == [other]
            assert mirror.get("Message", bye) is None
            assert mirror.get("Chat", other) is None
            got = mirror.get(Message, first)
            assert got is not None
            assert got.body == "one, edited"
            assert mirror_view(mirror) == await server_view(alice)


async def test_send_rides_the_catch_up_in_the_same_envelope(make_client: Any, wire: Wire) -> None:
    async with make_client() as alice:
        chat = await group(alice)
        async with AsyncMirror(alice, types=["Chat", "Message"]) as mirror:
            await mirror.sync()
            req = alice.request()
            sent = req.message.send(chat, "hello")
            wire.reset()
            diff = await mirror.send(req)
            assert wire.api == 1
            names = [c[0] for c in wire.api_bodies[0]["methodCalls"]]
            assert names[0] == "Message/set"
            assert "Message/changes" in names[1:]
            new_id = sent.result.created[sent.creation_key].id
            assert [m.id for m in diff.created("Message")] == [new_id]
            assert mirror.get("Message", new_id) is not None
            assert diff.response is not None
            assert diff.response[sent].created


async def test_has_more_changes_repeats_the_step(make_client: Any, wire: Wire) -> None:
    async with make_client() as alice:
        chat = await group(alice)
        async with AsyncMirror(alice, types=["Message"], max_changes=2) as mirror:
            await mirror.sync()
            ids = await post(alice, chat, *(f"m{i}" for i in range(5)))
            wire.reset()
            diff = await mirror.sync()
            assert diff.steps == 3 == wire.api
            assert sorted(m.id for m in diff.created("Message")) == sorted(ids)
            assert mirror_view(mirror, ("Message",)) == await server_view(alice, ("Message",))


async def test_cannot_calculate_changes_reloads_that_type(
    make_client: Any, server: ChatServer, wire: Wire
) -> None:
    async with make_client() as alice:
        chat = await group(alice)
        (kept,) = await post(alice, chat, "kept")
        other = await group(alice, "other")
        (gone,) = await post(alice, other, "gone")
        async with AsyncMirror(alice) as mirror:
            await mirror.sync()
            await alice.chat.set(destroy=[other])
            (fresh,) = await post(alice, chat, "fresh")
            server.forget_changes("alice", ["Message"])
            wire.reset()
            diff = await mirror.sync()
            assert diff.reloaded == {"Message"}
            assert diff.destroyed("Chat") == [other]  # Chat/changes still worked
            assert [m.id for m in diff.created("Message")] == [fresh]
            assert diff.destroyed("Message") == [gone]
            assert mirror.get("Message", kept) is not None
            assert wire.api == 3  # the step (Message/changes fails) + the reload (2)
            assert mirror_view(mirror) == await server_view(alice)
            # and from the reloaded state, steps work again
            wire.reset()
            assert not await mirror.sync()
            assert wire.api == 1


async def test_ordered_view_splices_and_requeries(
    make_client: Any, server: ChatServer, wire: Wire
) -> None:
    async with make_client() as alice:
        chat = await group(alice)
        await post(alice, chat, "a", "b")

        async def server_ids() -> list[str]:
            return (await alice.message.query(filter=MessageFilter(chat_id=chat))).ids

        async with AsyncMirror(alice, view_max_changes=3) as mirror:
            await mirror.sync()
            wire.reset()
            view = await mirror.messages(chat)
            assert wire.api == 1
            assert [m.body for m in view] == ["a", "b"]

            ids = await post(alice, chat, "c", "d")
            await alice.message.edit(view.ids[0], "A")
            wire.reset()
            diff = await mirror.sync()
            assert wire.api == 1  # /changes, /get and /queryChanges in one request
            assert not diff.requeried
            assert view.ids == await server_ids()
            assert view.ids[-2:] == ids
            assert [m.body for m in view] == ["A", "b", "c", "d"]

            await post(alice, chat, *"efgh")  # 4 > view_max_changes: tooManyChanges
            wire.reset()
            diff = await mirror.sync()
            assert diff.requeried == {chat}
            assert wire.api == 2
            assert view.ids == await server_ids()
            assert view[-1].body == "h"

            await post(alice, chat, "i")
            server.forget_changes("alice", ["Message"])  # cannotCalculateChanges
            diff = await mirror.sync()
            assert diff.requeried == {chat}
            assert diff.reloaded == {"Message"}
            assert view.ids == await server_ids()
            assert mirror_view(mirror) == await server_view(alice)


class Crash(Exception):
    """A simulated crash in the middle of a store write."""


class CrashingStore(SQLiteStore):
    """Dies after writing a step's objects, before writing its state."""

    armed = False

    def _write_state(self, db: sqlite3.Connection, w: TypeWrite) -> None:
        if self.armed:
            raise Crash(f"killed after writing {len(w.put)} {w.type} object(s)")
        super()._write_state(db, w)


async def test_crash_between_objects_and_state_converges(make_client: Any, tmp_path: Path) -> None:
    path = tmp_path / "mirror.sqlite"
    async with make_client() as alice:
        chat = await group(alice)
        (edited,) = await post(alice, chat, "old")
        crashing = CrashingStore(path)
        async with AsyncMirror(alice, store=crashing) as mirror:
            await mirror.sync()
            new = await post(alice, chat, "x", "y")
            await alice.message.edit(edited, "new")
            crashing.armed = True
            with pytest.raises(Crash):
                await mirror.sync()
        crashing.close()

        async with AsyncMirror(alice, store=path) as restarted:  # a new process
            diff = await restarted.sync()
            assert not diff.reloaded
            assert sorted(m.id for m in diff.created("Message")) == sorted(new)  # none missed
            assert [u.new.body for u in diff.updated("Message")] == ["new"]
            assert mirror_view(restarted) == await server_view(alice)
            rows = sqlite3.connect(path).execute(
                "SELECT COUNT(*), COUNT(DISTINCT id) FROM objects WHERE type='Message'"
            )
            assert rows.fetchone() == (3, 3)  # no duplicate


async def test_restart_resumes_from_stored_states(
    make_client: Any, tmp_path: Path, wire: Wire
) -> None:
    path = tmp_path / "m.sqlite"
    async with make_client() as alice:
        chat = await group(alice)
        await post(alice, chat, "one")
        async with AsyncMirror(alice, store=path) as mirror:
            await mirror.sync()
        (later,) = await post(alice, chat, "two")
        async with AsyncMirror(alice, store=path) as mirror:
            wire.reset()
            diff = await mirror.sync()
            assert wire.api == 1  # no full reload
            assert [m.id for m in diff.created("Message")] == [later]
            assert mirror_view(mirror) == await server_view(alice)


async def test_incompatible_store_files_are_refused(
    make_client: Any, tmp_path: Path, server: ChatServer
) -> None:
    path = tmp_path / "m.sqlite"
    async with make_client() as alice, make_client("bob") as bob:
        async with AsyncMirror(alice, store=path) as mirror:
            await mirror.sync()
        with pytest.raises(IncompatibleStore, match="mirrors account"):
            await AsyncMirror(bob, store=path).open()

        db = sqlite3.connect(path)
        db.execute("UPDATE meta SET value='99' WHERE key='version'")
        db.commit()
        db.close()
        with pytest.raises(IncompatibleStore, match="schema version 99"):
            await AsyncMirror(alice, store=path).open()

        junk = tmp_path / "junk.sqlite"
        junk.write_bytes(b"not a database at all" * 100)
        with pytest.raises(IncompatibleStore, match="not a mirror store"):
            await AsyncMirror(alice, store=junk).open()
        assert junk.read_bytes() == b"not a database at all" * 100

        other = tmp_path / "other.sqlite"
        sqlite3.connect(other).execute("CREATE TABLE t(x)").connection.close()
        with pytest.raises(IncompatibleStore, match="not a jmapchat mirror store"):
            await AsyncMirror(alice, store=other).open()


async def test_watch_polls_and_follows_events(make_client: Any) -> None:
    async with make_client() as alice:
        chat = await group(alice)
        async with AsyncMirror(alice, types=["Message"]) as mirror:
            seen: list[str] = []
            async with anyio.create_task_group() as tg:

                async def watcher() -> None:
                    async for diff in mirror.watch(interval=0.01):
                        seen.extend(m.body or "" for m in diff.created("Message"))
                        if "two" in seen:
                            tg.cancel_scope.cancel()

                tg.start_soon(watcher)
                await post(alice, chat, "one")
                await post(alice, chat, "two")
            assert sorted(seen) == ["one", "two"]

            await post(alice, chat, "three")
            account = alice.account_id

            async def events() -> AsyncIterator[Any]:
                await post(alice, chat, "four")
                state = mirror.state("Message")  # after the catch-up ("three")
                yield object()  # not a StateChange: ignored
                yield StateChange(changed={account: {"Chat": "x"}})  # not mirrored
                yield StateChange(changed={"other-account": {"Message": "x"}})
                assert mirror.state("Message") == state  # none of those synced
                yield StateChange(changed={account: {"Message": "new"}})

            got = [d async for d in mirror.watch(events=events())]
            assert [[m.body for m in d.created("Message")] for d in got] == [["three"], ["four"]]


async def test_bad_input_gives_typed_errors(make_client: Any) -> None:
    async with make_client() as alice:
        with pytest.raises(LocalProtocolError, match="Mailbox"):
            AsyncMirror(alice, types=["Mailbox"])
        with pytest.raises(LocalProtocolError, match="one string"):
            AsyncMirror(alice, types="Message")
        with pytest.raises(MirrorError, match="not mirrored"):
            AsyncMirror(alice, types=["Chat"], properties={"Message": ["body"]})
        with pytest.raises(MirrorError, match="store must be"):
            await AsyncMirror(alice, store=42).open()
        mirror = AsyncMirror(alice, types=["Chat"])
        with pytest.raises(MirrorError, match="not open"):
            mirror.get("Chat", "x")
        async with mirror:
            with pytest.raises(MirrorError, match="Message is not mirrored"):
                mirror.objects("Message")
            with pytest.raises(MirrorError, match="need 'Message'"):
                await mirror.messages("c1")


async def test_properties_limit_what_is_kept(make_client: Any) -> None:
    async with make_client() as alice:
        chat = await group(alice)
        await post(alice, chat, "hi")
        store = MemoryStore()
        async with AsyncMirror(
            alice, types=["Message"], store=store, properties={"Message": ["body"]}
        ) as mirror:
            await mirror.sync()
            (msg,) = mirror.objects("Message").values()
            assert msg.to_wire().keys() == {"id", "body"}


class PushingClient:
    """An `AsyncClient` with an ``events()`` (as the real-time API will add): the shape
    `watch()` plugs into. ``events`` None: the server has no push."""

    def __init__(self, client: AsyncClient, events: list[Any] | None) -> None:
        self._client = client
        self._events = events
        self.asked: list[str] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    @asynccontextmanager
    async def events(self, *, types: list[str]) -> AsyncIterator[AsyncIterator[Any]]:
        self.asked = types
        if self._events is None:
            raise CapabilityNotSupported("no push", capability="eventSource")

        async def stream() -> AsyncIterator[Any]:
            for event in self._events or []:
                if callable(event):
                    event = await event()
                yield event

        yield stream()


async def test_watch_uses_client_events_and_polls_without_push(make_client: Any) -> None:
    async with make_client() as alice:
        chat = await group(alice)
        account = alice.account_id

        async def write_then_announce() -> StateChange:
            await post(alice, chat, "pushed")
            return StateChange(changed={account: {"Message": "new"}})

        pushing = PushingClient(alice, [write_then_announce])
        async with AsyncMirror(pushing, types=["Chat", "Message"]) as mirror:
            got = [d async for d in mirror.watch()]
            assert pushing.asked == ["Chat", "Message"]
            assert [[m.body for m in d.created("Message")] for d in got[1:]] == [["pushed"]]

        silent = PushingClient(alice, None)
        async with AsyncMirror(silent, types=["Message"]) as mirror:
            seen: list[str] = []
            with anyio.fail_after(30):
                async with aclosing(mirror.watch(interval=0.01)) as diffs:  # polling
                    async for diff in diffs:
                        seen += [m.body or "" for m in diff.created("Message")]
                        if seen == ["pushed"]:
                            await post(alice, chat, "polled")
                        elif "polled" in seen:
                            break
            assert seen == ["pushed", "polled"]


async def test_watch_raises_a_missing_capability_met_after_subscribing(make_client: Any) -> None:
    """Only a failure to subscribe falls back to polling; the same error from a later
    step is raised, not hidden behind an hour of polling."""
    async with make_client() as alice:

        async def lost() -> Any:
            raise CapabilityNotSupported("chat is gone", capability="urn:ietf:params:jmap:chat")

        async with AsyncMirror(PushingClient(alice, [lost]), types=["Message"]) as mirror:
            with anyio.fail_after(30), pytest.raises(CapabilityNotSupported, match="chat is gone"):
                async for _ in mirror.watch(interval=3600):
                    pass


async def test_tight_server_limits_split_the_load_and_steps(wire: Wire) -> None:
    limits = ServerLimits(max_objects_in_get=5, max_calls_in_request=4)
    with ChatServer(users=["alice", "bob"], limits=limits) as server:
        transport = AsyncFaultTransport(httpx.ASGITransport(app=server.app), wire)
        async with AsyncClient.connect(
            "http://testserver", token=server.tokens["alice"], transport=transport
        ) as alice:
            chats = [await group(alice, f"g{i}") for i in range(7)]  # > one page of chats
            await post(alice, chats[0], *(f"m{i}" for i in range(12)))  # > one page
            async with AsyncMirror(alice) as mirror:
                wire.reset()
                diff = await mirror.sync()
                assert len(diff.created("Message")) == 12
                assert len(diff.created("Chat")) == 7
                assert mirror_view(mirror) == await server_view(alice)
                loaded_in = wire.api

                await post(alice, chats[1], *(f"n{i}" for i in range(7)))
                diff = await mirror.sync()
                assert diff.steps == 2  # maxChanges is capped at maxObjectsInGet (5)
                assert len(diff.created("Message")) == 7
                assert mirror_view(mirror) == await server_view(alice)
            assert loaded_in >= 4


async def test_a_restarted_mirror_resumes_its_views(
    make_client: Any, tmp_path: Path, wire: Wire
) -> None:
    path = tmp_path / "m.sqlite"
    async with make_client() as alice:
        chat = await group(alice)
        await post(alice, chat, "a", "b")
        async with AsyncMirror(alice, store=path) as mirror:
            await mirror.messages(chat)
        await post(alice, chat, "c")
        async with AsyncMirror(alice, store=path) as mirror:
            wire.reset()
            view = await mirror.messages(chat)
            assert wire.api == 1
            names = [c[0] for c in wire.api_bodies[0]["methodCalls"]]
            assert "Message/queryChanges" in names  # resumed, not re-queried
            assert "Message/query" not in names
            assert [m.body for m in view] == ["a", "b", "c"]


async def test_concurrent_steps_queue_on_the_lock(make_client: Any, wire: Wire) -> None:
    async with make_client() as alice:
        chat = await group(alice)
        async with AsyncMirror(alice) as mirror:
            await mirror.sync()
            diffs: list[Any] = []

            async def writer(i: int) -> None:
                req = alice.request()
                req.message.send(chat, f"w{i}")
                diffs.append(await mirror.send(req))

            async def syncer() -> None:
                diffs.append(await mirror.sync())

            async with anyio.create_task_group() as tg:
                for i in range(3):
                    tg.start_soon(writer, i)
                    tg.start_soon(syncer)
            created = [m.body for d in diffs for m in d.created("Message")]
            assert sorted(created) == ["w0", "w1", "w2"]  # each reported exactly once
            assert mirror_view(mirror) == await server_view(alice)
