"""AsyncClient end-to-end against the reference jmap_server, on asyncio and trio, both
in-process (httpx.ASGITransport) and over a real loopback socket."""

from __future__ import annotations

import time
from typing import Any

import pytest

from jmapchat import AsyncClient
from jmapchat.models import MessageCreate, MessageFilter
from jmapchat.server import ChatServer
from jmapchat.testing import AsyncClientFactory, Wire

from ._chat import message_state, new_chat

pytestmark = pytest.mark.anyio

# --- one round trip ----------------------------------------------------------------------------


async def test_set_then_changes_is_one_http_request(
    make_client: AsyncClientFactory, jmap_server: ChatServer, jmap_wire: Wire
) -> None:
    async with make_client() as client:
        chat_id = await new_chat(client, jmap_server)
        state0 = await message_state(client)
        req = client.request()
        sent = req.message.set(create={"m1": MessageCreate(chat_id=chat_id, body="hi")})
        news = req.message.changes(since_state=state0)
        jmap_wire.reset()
        response = await client.send(req)
        assert jmap_wire.requests == [("POST", jmap_wire.requests[0][1])]
        assert jmap_wire.api == 1
        created = sent.result.created
        assert created is not None
        assert news.result.created == [created["m1"].id]
        assert response[news].new_state == sent.result.new_state


async def test_query_then_get_is_one_http_request(
    make_client: AsyncClientFactory, jmap_server: ChatServer, jmap_wire: Wire
) -> None:
    async with make_client() as client:
        chat_id = await new_chat(client, jmap_server)
        req = client.request()
        req.message.set(
            create={f"m{i}": MessageCreate(chat_id=chat_id, body=f"b{i}") for i in range(3)}
        )
        await client.send(req)
        req = client.request()
        page = req.message.query(filter=MessageFilter(chat_id=chat_id), limit=50)
        msgs = req.message.get(ids=page.ids, properties=["id", "body"])
        jmap_wire.reset()
        await client.send(req)
        assert jmap_wire.api == 1
        assert len(jmap_wire.requests) == 1
        assert sorted(m.body or "" for m in msgs.result.list) == ["b0", "b1", "b2"]
        assert "#ids" in jmap_wire.api_bodies[0]["methodCalls"][1][1]


async def test_one_call_helpers_mirror_namespaces(
    make_client: AsyncClientFactory, jmap_wire: Wire
) -> None:
    async with make_client() as client:
        jmap_wire.reset()
        echo = await client.core.echo({"hello": "world"})
        assert echo.model_extra == {"hello": "world"}
        got = await client.message.get(ids=["nope"])
        assert got.not_found == ["nope"]
        assert jmap_wire.api == 2
        assert client.message.get.__name__ == "get"


# --- splitting -----------------------------------------------------------------------------------


@pytest.mark.slow
async def test_ten_thousand_messages_in_one_send(
    make_client: AsyncClientFactory,
    jmap_server: ChatServer,
    jmap_wire: Wire,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    async with make_client() as client:
        assert client.session.core.max_objects_in_set == 500
        assert client.session.core.max_calls_in_request == 4
        chat_id = await new_chat(client, jmap_server)
        req = client.request()
        n = 10_000
        sent = req.message.set(
            create={f"m{i}": MessageCreate(chat_id=chat_id, body=f"bulk {i}") for i in range(n)}
        )
        # A creation-id reference and a result reference across the split boundary.
        check = req.message.get(
            ids=[sent.created_id("m0"), sent.created_id(f"m{n - 1}")], properties=["id", "body"]
        )
        # A result reference to the chunked call: resolved client-side from merged chunks.
        after = req.message.changes(since_state=sent.new_state)
        jmap_wire.reset()
        started = time.perf_counter()
        await client.send(req)
        elapsed = time.perf_counter() - started
        with capsys.disabled():
            where = request.node.callspec.id
            print(f"\n[10k {where}] {jmap_wire.api} HTTP requests, {elapsed:.2f}s", end=" ")
        created = sent.result.created
        assert created is not None
        assert len(created) == n
        assert not sent.result.not_created
        assert [m.body for m in check.result.list] == ["bulk 0", f"bulk {n - 1}"]
        assert after.result.old_state == sent.result.new_state
        assert after.result.created == []
        assert "sinceState" in jmap_wire.api_bodies[-1]["methodCalls"][-1][1]  # sent as a value
        # 20 chunks of 500, 4 per envelope = 5 envelopes, + the gets.
        assert jmap_wire.api == 6
        assert all(len(b["methodCalls"]) <= 4 for b in jmap_wire.api_bodies)
        assert "createdIds" in jmap_wire.api_bodies[-1]
        # Every message exists exactly once.
        everything = await client.message.query(
            filter=MessageFilter(chat_id=chat_id), calculate_total=True
        )
        ids = everything.ids
        assert everything.total == n
        assert len(ids) == n
        assert len(set(ids)) == n
        assert set(ids) == {m.id for m in created.values()}


async def test_namespaces_missing_from_the_generated_file_still_work(
    make_client: AsyncClientFactory, jmap_wire: Wire
) -> None:
    from jmapchat._client._mirror import NamespaceMirror

    async with make_client() as client:
        # What the client's __getattr__ hands out for a namespace _generated.py lacks.
        mirror: Any = AsyncClient.__getattr__(client, "message")  # type: ignore[attr-defined]
        got = await mirror.get(ids=["nope"])
        assert got.not_found == ["nope"]
        assert "get" in dir(mirror)
        assert isinstance(mirror, NamespaceMirror)
        with pytest.raises(AttributeError):
            AsyncClient.__getattr__(client, "no_such_namespace")  # type: ignore[attr-defined]


async def test_explain_shows_the_split_plan_once_the_session_is_known(
    make_client: AsyncClientFactory, jmap_wire: Wire
) -> None:
    async with make_client() as client:
        req = client.request()
        for i in range(6):
            req.core.echo({"i": i})
        jmap_wire.reset()
        text = req.explain()
        assert "split plan: 2 HTTP request(s)" in text
        assert client.explain(req) == text
        assert jmap_wire.requests == []  # explaining does no I/O
