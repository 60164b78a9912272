"""The engine runs off the event loop, reads run next to the writer, and a chat's
/query page comes from an index (issue 9, point 3). No timing: the tests block a call
on purpose and check what completes meanwhile."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from jmapchat.server import ChatServer
from jmapchat.server._types.message import MessageType

from .conftest import Api

pytestmark = pytest.mark.anyio

WAIT = 20.0  # seconds a blocked call waits at most (only reached when the test fails)


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[ChatServer]:
    with ChatServer(db=str(tmp_path / "c.sqlite"), users=["alice", "bob", "carol"]) as s:
        yield s


@pytest.fixture
async def apis(file_server: ChatServer) -> AsyncIterator[tuple[Api, Api, Api]]:
    transport = httpx.ASGITransport(app=file_server.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=60) as c:
        yield (
            Api(c, file_server, "alice"),
            Api(c, file_server, "bob"),
            Api(c, file_server, "carol"),
        )


def _block_scans(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """Make a full-scan Message/query block until released (bounded by WAIT)."""
    entered, release = threading.Event(), threading.Event()
    original = MessageType.query_plan

    def blocking(self: MessageType, ctx: Any, flt: Any, spec: Any) -> Any:
        entered.set()
        release.wait(WAIT)
        return original(self, ctx, flt, spec)

    monkeypatch.setattr(MessageType, "query_plan", blocking)
    return entered, release


async def _while_a_query_is_blocked(
    monkeypatch: pytest.MonkeyPatch, alice: Api, other: Any
) -> tuple[Any, bool]:
    chat = await alice.create("Chat", {"kind": "direct", "contactId": "bob"})
    entered, release = _block_scans(monkeypatch)
    done: dict[str, Any] = {}

    async def slow_query() -> None:
        done["query"] = await alice.ok(
            "Message/query", {"filter": {"chatId": chat["id"], "text": "needle"}}
        )

    async with anyio.create_task_group() as tg:
        tg.start_soon(slow_query)
        await anyio.to_thread.run_sync(entered.wait, WAIT)
        result = await other()
        query_was_running = "query" not in done
        release.set()
    return result, query_was_running


async def test_other_users_echo_is_answered_while_a_query_runs(
    monkeypatch: pytest.MonkeyPatch, apis: tuple[Api, Api, Api]
) -> None:
    alice, _bob, carol = apis
    echo, running = await _while_a_query_is_blocked(
        monkeypatch, alice, lambda: carol.ok("Core/echo", {"hi": 1})
    )
    assert echo["hi"] == 1
    assert running  # carol did not wait for alice's query


async def test_a_write_proceeds_while_a_read_runs(
    monkeypatch: pytest.MonkeyPatch, apis: tuple[Api, Api, Api]
) -> None:
    alice, bob, _carol = apis

    async def write() -> Any:
        return await bob.create("Chat", {"kind": "direct", "contactId": "carol"})

    chat, running = await _while_a_query_is_blocked(monkeypatch, alice, write)
    assert chat["id"]
    assert running  # the read holds no writer lock


async def test_reads_on_reader_connections_see_every_committed_write(
    apis: tuple[Api, Api, Api],
) -> None:
    alice, bob, _carol = apis
    chat = await alice.create("Chat", {"kind": "direct", "contactId": "bob"})
    state = (await bob.ok("Message/get", {"ids": []}))["state"]
    out = await alice.request(
        [
            [
                "Message/set",
                {"accountId": alice.acc, "create": {"m": {"chatId": chat["id"], "body": "hi"}}},
                "0",
            ],
            ["Message/get", {"accountId": alice.acc, "ids": ["#m"]}, "1"],
            ["Message/query", {"accountId": alice.acc, "filter": {"chatId": chat["id"]}}, "2"],
        ]
    )
    (_, created, _), (_, got, _), (_, query, _) = out["methodResponses"]
    mid = created["created"]["m"]["id"]
    assert [m["id"] for m in got["list"]] == [mid]
    assert query["ids"] == [mid]
    changes = await bob.ok("Message/changes", {"sinceState": state})
    assert len(changes["created"]) == 1
    assert (await bob.ok("Chat/get", {"ids": None}))["list"]


async def _seed(alice: Api, n: int) -> tuple[str, list[str]]:
    chat = await alice.create("Chat", {"kind": "direct", "contactId": "bob"})
    create = {f"m{i}": {"chatId": chat["id"], "body": f"m {i}"} for i in range(n)}
    res = await alice.ok("Message/set", {"create": create})
    return chat["id"], [res["created"][f"m{i}"]["id"] for i in range(n)]


@pytest.mark.parametrize(
    ("sort", "position", "limit"),
    [
        (None, 0, 5),
        (None, -5, 5),
        (None, -100, None),
        (None, 7, 100),
        ([{"property": "receivedAt", "isAscending": False}], 0, 4),
        ([{"property": "receivedAt", "isAscending": False}], -3, 2),
        ([{"property": "receivedAt"}], 10, 3),
    ],
)
async def test_indexed_page_matches_the_full_sort(
    apis: tuple[Api, Api, Api], sort: Any, position: int, limit: int | None
) -> None:
    alice, _bob, _carol = apis
    chat_id, _ids = await _seed(alice, 12)
    args: dict[str, Any] = {
        "filter": {"chatId": chat_id},
        "position": position,
        "calculateTotal": True,
    }
    if sort is not None:
        args["sort"] = sort
    if limit is not None:
        args["limit"] = limit
    fast = await alice.ok("Message/query", args)
    # two comparators take the load-and-sort path; "id" breaks receivedAt ties the same way
    asc = True if sort is None else sort[0].get("isAscending", True)
    slow_args = {
        **args,
        "sort": [
            {"property": "receivedAt", "isAscending": asc},
            {"property": "id", "isAscending": asc},
        ],
    }
    slow = await alice.ok("Message/query", slow_args)
    for key in ("ids", "position", "total"):
        assert fast[key] == slow[key], key


async def test_a_page_does_not_load_the_chat(
    monkeypatch: pytest.MonkeyPatch, apis: tuple[Api, Api, Api]
) -> None:
    alice, _bob, _carol = apis
    chat_id, ids = await _seed(alice, 30)

    def no_full_load(*args: Any, **kw: Any) -> Any:
        raise AssertionError("a page must not load every message of the chat")

    monkeypatch.setattr(MessageType, "query_candidates", no_full_load)
    res = await alice.ok(
        "Message/query",
        {"filter": {"chatId": chat_id}, "position": -10, "limit": 10, "calculateTotal": True},
    )
    assert res["ids"] == ids[-10:]
    assert res["total"] == 30


async def test_page_total_follows_removed_messages(apis: tuple[Api, Api, Api]) -> None:
    alice, bob, _carol = apis
    chat = await alice.create("Chat", {"kind": "direct", "contactId": "bob"})
    for i in range(3):
        await alice.send(chat["id"], f"burn {i}", burnOnRead=True)
    page = await bob.ok("Message/query", {"filter": {"chatId": chat["id"]}, "calculateTotal": True})
    assert page["total"] == 3
    await bob.ok("Message/set", {"update": {page["ids"][0]: {"readAt": "2030-01-01T00:00:00Z"}}})
    after = await bob.ok(
        "Message/query", {"filter": {"chatId": chat["id"]}, "calculateTotal": True}
    )
    assert after["ids"] == page["ids"][1:]
    assert after["total"] == 2


async def test_an_expiry_policy_keeps_the_messages_in_their_pages(
    apis: tuple[Api, Api, Api],
) -> None:
    """Re-stamping every message with a chat's new messageExpirySeconds rewrites their
    rows; they keep their sort keys, so the indexed page still lists them."""
    alice, _bob, _carol = apis
    chat_id, ids = await _seed(alice, 3)
    res = await alice.ok("Chat/set", {"update": {chat_id: {"messageExpirySeconds": 10**8}}})
    assert chat_id in res["updated"]
    for sort in (None, [{"property": "sentAt", "isAscending": False}]):
        args: dict[str, Any] = {"filter": {"chatId": chat_id}, "calculateTotal": True}
        if sort is not None:
            args["sort"] = sort
        page = await alice.ok("Message/query", args)
        assert sorted(page["ids"]) == sorted(ids)
        assert page["total"] == 3


@pytest.mark.parametrize("keys", ["", ", k3 REAL", ", k3 REAL, k4 REAL"])
def test_a_database_without_the_sort_key_columns_is_refused(tmp_path: Path, keys: str) -> None:
    """Files written before the k3 (receivedAt), k4 (sentAt) or k5 (senderId) column are
    refused (no half-indexed pages)."""
    import sqlite3

    from jmapchat.server import SchemaMismatch

    db = tmp_path / "old.sqlite"
    conn = sqlite3.connect(db)
    conn.execute(
        "CREATE TABLE objects(scope TEXT NOT NULL, type TEXT NOT NULL, id TEXT NOT NULL,"
        f" k1 TEXT, k2 TEXT, expires REAL, data BLOB NOT NULL{keys},"
        " PRIMARY KEY(scope, type, id)) WITHOUT ROWID"
    )
    conn.close()
    with pytest.raises(SchemaMismatch, match="objects"):
        ChatServer(db=str(db))


def test_a_writes_post_commit_work_runs_under_the_lock_its_transaction_held(
    monkeypatch: pytest.MonkeyPatch, file_server: ChatServer
) -> None:
    """The push fan-out after a commit reads the store: it runs before the writer's lock
    is let go, so it never queues again behind the other writers waiting for that lock
    (the lock is not fair) and a request is answered as soon as its own writes commit."""
    pusher = file_server.core.pusher
    owned: list[bool] = []
    original = pusher.state_changed

    def state_changed(core: Any, accounts: set[str]) -> None:
        owned.append(file_server.store.lock._is_owned())  # type: ignore[attr-defined]
        original(core, accounts)

    monkeypatch.setattr(pusher, "state_changed", state_changed)
    acc = file_server.account_ids["alice"]
    body = {
        "using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:chat"],
        "methodCalls": [
            [
                "Chat/set",
                {"accountId": acc, "create": {"c": {"kind": "direct", "contactId": "bob"}}},
                "0",
            ]
        ],
    }
    out = file_server.engine.handle("alice", json.dumps(body).encode())
    assert out["methodResponses"][0][1]["created"]["c"]["id"]
    assert owned == [True]
    assert not file_server.store.lock._is_owned()  # type: ignore[attr-defined]
