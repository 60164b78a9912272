"""``deadline=`` on everything a user waits for: query_iter, changes_pages (and the typed
namespace variants), uploads, downloads and the one-call helpers, async and blocking.

The reference server runs on a real loopback socket behind `_Staller`, an ASGI middleware
that makes chosen requests stall for `STALL` seconds (before answering, or half-way
through the reply's body) and then answer normally. Clients use a 60 s httpx timeout, so a
bounded call that works raises `jmapchat.Timeout` long before the stall ends; without the
deadline the call would complete after the stall and the test would fail.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, TypeVar, cast

import anyio
import pytest

import jmapchat
from jmapchat import AsyncClient, Client
from jmapchat._core import ChangesResponse
from jmapchat.models import ChatCreate, Message, MessageCreate, MessageFilter
from jmapchat.server import ChatServer, serve_in_thread

T = TypeVar("T")

STALL = 30.0  # how long a stalled request waits before being answered
DEADLINE = 0.5
GUARD = 10.0  # an async test fails here rather than waiting out a stall
DATA = bytes(range(256)) * 400  # 100 kB: several chunks either way


@dataclass
class _Plan:
    after: int  # requests of the kind let through before the stalls start
    mid_body: bool


class _Staller:
    """ASGI middleware: stall requests of a kind (``api``, ``upload``, ``download``)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.plans: dict[str, _Plan] = {}
        self.seen: dict[str, int] = {}

    def arm(self, kind: str, *, after: int = 0, mid_body: bool = False) -> None:
        self.seen[kind] = 0
        self.plans[kind] = _Plan(after, mid_body)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        kind = next((k for k in ("api", "upload", "download") if f"/jmap/{k}/" in path), "")
        plan = self.plans.get(kind)
        if plan is None:
            return await self.app(scope, receive, send)
        n = self.seen.get(kind, 0)
        self.seen[kind] = n + 1
        if n < plan.after:
            return await self.app(scope, receive, send)
        if not plan.mid_body:
            await anyio.sleep(STALL)
            return await self.app(scope, receive, send)
        stalled = False

        async def send_half_then_stall(message: Any) -> None:
            nonlocal stalled
            if message["type"] != "http.response.body" or stalled:
                return await send(message)
            stalled = True
            body = message.get("body", b"")
            half = {"type": "http.response.body", "body": body[: len(body) // 2]}
            await send({**half, "more_body": True})
            await anyio.sleep(STALL)
            rest = {"type": "http.response.body", "body": body[len(body) // 2 :]}
            await send({**rest, "more_body": message.get("more_body", False)})

        return await self.app(scope, receive, send_half_then_stall)


@dataclass
class _Live:
    url: str
    server: ChatServer
    staller: _Staller
    chat_id: str

    def token(self) -> str:
        return self.server.tokens["alice"]


@pytest.fixture(scope="module")
def live_server() -> Iterator[_Live]:
    with ChatServer(db=":memory:", users=["alice", "bob"]) as server:
        staller = _Staller(server.app)
        with serve_in_thread(cast(ChatServer, SimpleNamespace(app=staller))) as url:
            with Client.connect(url, token=server.tokens["alice"]) as client:
                contact = server.contact_ids["bob"]
                res = client.chat.set(create={"c": ChatCreate.direct(contact_id=contact)})
                assert res.created is not None
                chat_id = res.created["c"].id
            yield _Live(url, server, staller, chat_id)


@pytest.fixture
def live(live_server: _Live) -> Iterator[_Live]:
    live_server.staller.plans.clear()
    yield live_server
    live_server.staller.plans.clear()


def _async_client(live: _Live) -> AsyncClient:
    return AsyncClient.connect(live.url, token=live.token(), timeout=60.0, retries=0)


def _client(live: _Live) -> Client:
    return Client.connect(live.url, token=live.token(), timeout=60.0, retries=0)


async def _seed(client: AsyncClient, chat_id: str, n: int) -> str:
    """Post ``n`` messages; return the Message state from before them."""
    state = (await client.message.get(ids=[])).state
    res = await client.message.set(
        create={f"m{i}": MessageCreate(chat_id=chat_id, body=f"d{i}") for i in range(n)}
    )
    assert res.created is not None
    assert len(res.created) == n
    return state


async def _slow_parts() -> AsyncIterator[bytes]:
    for _ in range(1000):  # 200 s of body if nothing stops it
        await anyio.sleep(0.2)
        yield b"x" * 1000


async def _collect(items: AsyncIterator[T], into: list[T]) -> None:
    async for item in items:
        into.append(item)


def _collect_blocking(items: Iterator[T], into: list[T]) -> None:
    into.extend(items)  # keeps what arrived when the iterator raises


async def _read_stream(
    client: AsyncClient, blob_id: str, into: bytearray, *, pause: float = 0
) -> None:
    async with client.download_stream(blob_id, chunk_size=1000, deadline=DEADLINE) as chunks:
        async for chunk in chunks:
            into += chunk
            if pause:
                await anyio.sleep(pause)


def _slow_parts_blocking() -> Iterator[bytes]:
    for _ in range(1000):
        time.sleep(0.2)
        yield b"x" * 1000


# --- async -------------------------------------------------------------------------------

pytestmark = pytest.mark.anyio


async def test_query_iter_deadline_bounds_the_whole_walk(live: _Live) -> None:
    async with _async_client(live) as client:
        await _seed(client, live.chat_id, 7)
        flt = MessageFilter(chat_id=live.chat_id)
        # fast: the whole walk within a deadline
        fast = [m async for m in client.message.query_iter(filter=flt, deadline=30.0)]
        assert len(fast) >= 7
        # the second page stalls: the first page stays yielded, then Timeout
        for walk in (
            lambda: client.query_iter("Message", filter=flt, page_size=3, deadline=DEADLINE),
            lambda: client.message.query_iter(filter=flt, page_size=3, deadline=DEADLINE),
        ):
            live.staller.arm("api", after=1)
            got: list[Message] = []
            with anyio.fail_after(GUARD), pytest.raises(jmapchat.Timeout):
                await _collect(walk(), got)
            assert len(got) == 3
            assert all(isinstance(m, Message) for m in got)


async def test_changes_pages_deadline_bounds_the_whole_walk(live: _Live) -> None:
    async with _async_client(live) as client:
        state = await _seed(client, live.chat_id, 5)
        fast = [p async for p in client.changes_pages("message", state, max_changes=2, deadline=30)]
        assert sum(len(p.created) for p in fast) == 5
        live.staller.arm("api", after=1)
        pages: list[ChangesResponse] = []
        walk = client.changes_pages("Message", state, max_changes=2, deadline=DEADLINE)
        with anyio.fail_after(GUARD), pytest.raises(jmapchat.Timeout):
            await _collect(walk, pages)
        assert len(pages) == 1
        assert pages[0].has_more_changes


async def test_one_call_helpers_take_a_deadline(live: _Live) -> None:
    async with _async_client(live) as client:
        echo = await client.core.echo({"ping": 1}, deadline=30.0)
        assert echo.model_extra == {"ping": 1}
        chats = await client.chat.get(deadline=30.0)
        assert live.chat_id in {c.id for c in chats.list}
        live.staller.arm("api")
        with anyio.fail_after(GUARD), pytest.raises(jmapchat.Timeout):
            await client.chat.get(deadline=DEADLINE)
        with anyio.fail_after(GUARD), pytest.raises(jmapchat.Timeout):
            await client.message.send(live.chat_id, "never confirmed", deadline=DEADLINE)


async def test_helpers_not_in_the_generated_file_take_a_deadline_too(live: _Live) -> None:
    async with _async_client(live) as client:
        # What the client's __getattr__ hands out for a namespace _generated.py lacks.
        mirror: Any = AsyncClient.__getattr__(client, "chat")  # type: ignore[attr-defined]
        assert (await mirror.get(deadline=30.0)).list
        live.staller.arm("api")
        with anyio.fail_after(GUARD), pytest.raises(jmapchat.Timeout):
            await mirror.get(deadline=DEADLINE)
        # help() shows the keyword on both kinds of helper
        for helper in (mirror.get, client.chat.get):
            params = inspect.signature(helper).parameters
            assert params["deadline"].kind is inspect.Parameter.KEYWORD_ONLY
            assert "self" not in params
            assert "properties" in params


async def test_upload_deadline_bounds_the_transfer(live: _Live) -> None:
    async with _async_client(live) as client:
        up = await client.upload(DATA, deadline=30.0)
        assert up.size == len(DATA)
        # a body stream slower than the deadline: stopped per chunk
        with anyio.fail_after(GUARD), pytest.raises(jmapchat.Timeout, match="deadline"):
            await client.upload(_slow_parts(), deadline=DEADLINE)
        # a server that takes the body and never answers
        live.staller.arm("upload")
        with anyio.fail_after(GUARD), pytest.raises(jmapchat.Timeout):
            await client.upload(DATA, deadline=DEADLINE)


async def test_download_deadline_bounds_the_transfer(live: _Live) -> None:
    async with _async_client(live) as client:
        up = await client.upload(DATA)
        assert await client.download(up.blob_id, deadline=30.0) == DATA
        live.staller.arm("download", mid_body=True)
        with anyio.fail_after(GUARD), pytest.raises(jmapchat.Timeout):
            await client.download(up.blob_id, deadline=DEADLINE)
        got = bytearray()
        with anyio.fail_after(GUARD), pytest.raises(jmapchat.Timeout):
            await _read_stream(client, up.blob_id, got)
        assert 0 < len(got) < len(DATA)  # the first half arrived, then the stall


# Stopping a stream between chunks abandons httpx's body generators; trio reports that
# (as for any early exit from a download_stream) when it finalizes them.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_download_deadline_counts_the_callers_time(live: _Live) -> None:
    async with _async_client(live) as client:
        up = await client.upload(DATA)
        got = bytearray()
        with anyio.fail_after(GUARD), pytest.raises(jmapchat.Timeout, match="deadline"):
            await _read_stream(client, up.blob_id, got, pause=0.2)
        assert 0 < len(got) < len(DATA)


async def test_bad_deadlines_are_refused_before_any_request(live: _Live) -> None:
    async with _async_client(live) as client:
        for bad in (0, -1.0, float("inf"), "1", True):
            with pytest.raises(TypeError, match="deadline"):
                client.query_iter("Message", filter={"chatId": live.chat_id}, deadline=bad)  # type: ignore[arg-type]
            with pytest.raises(TypeError, match="deadline"):
                client.changes_pages("Message", "s0", deadline=bad)  # type: ignore[arg-type]
            with pytest.raises(TypeError, match="deadline"):
                await client.upload(b"x", deadline=bad)  # type: ignore[arg-type]
            with pytest.raises(TypeError, match="deadline"):
                await client.download("B1", deadline=bad)  # type: ignore[arg-type]
            with pytest.raises(TypeError, match="deadline"):
                await client.chat.get(deadline=bad)  # type: ignore[arg-type]


# --- blocking ----------------------------------------------------------------------------


def test_blocking_client_deadlines(live: _Live) -> None:
    with _client(live) as client:
        state = client.message.get(ids=[]).state
        res = client.message.set(
            create={f"m{i}": MessageCreate(chat_id=live.chat_id, body=f"b{i}") for i in range(5)}
        )
        assert res.created is not None
        flt = MessageFilter(chat_id=live.chat_id)
        assert len(list(client.message.query_iter(filter=flt, deadline=30.0))) >= 5
        assert client.chat.get(deadline=30.0).list
        up = client.upload(DATA, deadline=30.0)
        assert client.download(up.blob_id, deadline=30.0) == DATA

        live.staller.arm("api", after=1)
        got: list[Message] = []
        walk = client.message.query_iter(filter=flt, page_size=2, deadline=DEADLINE)
        with pytest.raises(jmapchat.Timeout):
            _collect_blocking(walk, got)
        assert len(got) == 2

        live.staller.arm("api", after=1)
        pages: list[ChangesResponse] = []
        changes = client.changes_pages("Message", state, max_changes=2, deadline=DEADLINE)
        with pytest.raises(jmapchat.Timeout):
            _collect_blocking(changes, pages)
        assert len(pages) == 1

        live.staller.arm("api")
        with pytest.raises(jmapchat.Timeout):
            client.chat.get(deadline=DEADLINE)

        with pytest.raises(jmapchat.Timeout, match="deadline"):
            client.upload(_slow_parts_blocking(), deadline=DEADLINE)
        live.staller.arm("upload")
        with pytest.raises(jmapchat.Timeout):
            client.upload(DATA, deadline=DEADLINE)

        live.staller.arm("download", mid_body=True)
        with pytest.raises(jmapchat.Timeout):
            client.download(up.blob_id, deadline=DEADLINE)
