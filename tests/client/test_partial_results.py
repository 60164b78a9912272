"""Partial results are never lost (issue 13, point 1).

A 5,000-message ``Message/set`` is chunked into 10 envelopes (one 500-object chunk per
envelope) and interrupted part way: by a lost reply (fault injected after the real
server answered), by a method error on one chunk, and by a real server shutdown over a
loopback socket. Each time the handle keeps the merged result of every envelope that
did complete (``call.partial``), the counts say what is confirmed and what is unknown
(``call.progress`` and the error's notes), and the ids match the server's messages.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest

import jmapchat
from jmapchat import AsyncClient, Client, Progress
from jmapchat.models import ChatCreate, MessageCreate, MessageFilter
from jmapchat.server import ChatServer, ServerLimits, serve_in_thread
from jmapchat.testing import NO_BACKOFF, AsyncFaultTransport, FaultTransport, Wire

N = 5_000
CHUNK = 500  # -> 10 envelopes: one chunk each

ONE_CHUNK_PER_ENVELOPE = ServerLimits(
    max_calls_in_request=1,
    max_objects_in_set=CHUNK,
    max_objects_in_get=CHUNK,
    max_size_request=10_000_000,
    max_concurrent_requests=4,
)


@pytest.fixture
def server() -> Iterator[ChatServer]:
    srv = ChatServer(db=":memory:", users=["alice", "bob"], limits=ONE_CHUNK_PER_ENVELOPE)
    try:
        yield srv
    finally:
        srv.close()


def creates(chat_id: str) -> dict[str, MessageCreate]:
    return {f"m{i}": MessageCreate(chat_id=chat_id, body=f"message {i}") for i in range(N)}


async def server_message_ids(server: ChatServer, chat_id: str) -> set[str]:
    """Every message id the server holds in ``chat_id`` (a fresh in-process client)."""
    async with AsyncClient.connect(
        "http://testserver",
        token=server.tokens["alice"],
        transport=httpx.ASGITransport(app=server.app),  # type: ignore[arg-type]
    ) as client:
        pages = client.query_iter("Message", filter=MessageFilter(chat_id=chat_id), fetch=False)
        return {id_ async for id_ in pages}


def api_number(request: httpx.Request, counter: list[int]) -> int | None:
    """1-based index of this Message/set API request (None for anything else)."""
    if request.method != "POST" or "/api" not in request.url.path:
        return None
    if b"Message/set" not in request.content:
        return None
    counter[0] += 1
    return counter[0]


def chat_of(call: Any) -> str:
    chat_id: str = call.args["create"]["m0"].chat_id
    return chat_id


def created_ids(call: jmapchat.SetCall[Any, Any]) -> dict[str, str]:
    partial = call.partial
    assert partial is not None
    assert partial.created is not None
    return {key: obj.id for key, obj in partial.created.items()}


async def _chat(client: AsyncClient, server: ChatServer) -> str:
    res = await client.chat.set(
        create={"c": ChatCreate.direct(contact_id=server.contact_ids["bob"])}
    )
    assert res.created is not None
    return res.created["c"].id


pytestmark = pytest.mark.anyio


async def send_big(server: ChatServer, hook: Any) -> tuple[Any, jmapchat.JMAPError | None]:
    """Send the 5,000 creates in-process, with ``hook`` on every reply; (call, error)."""
    wire = Wire()
    wire.after.append(hook)
    transport = AsyncFaultTransport(httpx.ASGITransport(app=server.app), wire)  # type: ignore[arg-type]
    async with AsyncClient.connect(
        "http://testserver", token=server.tokens["alice"], transport=transport, retries=NO_BACKOFF
    ) as client:
        chat_id = await _chat(client, server)
        req = client.request()
        call = req.message.set(create=creates(chat_id))
        try:
            await client.send(req)
        except jmapchat.JMAPError as exc:
            return call, exc
    return call, None


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_lost_reply_keeps_every_completed_envelope(server: ChatServer) -> None:
    """Envelope 6's reply is lost after the server applied it: 2,500 confirmed, 500
    unknown (and really on the server), 2,000 never sent."""
    seen = [0]

    def lose_sixth(request: httpx.Request, response: httpx.Response, body: bytes) -> Any:
        if api_number(request, seen) == 6:
            return httpx.ReadError("connection reset while reading the reply", request=request)
        return None

    call, error = await send_big(server, lose_sixth)
    assert isinstance(error, jmapchat.ReadError)
    assert seen[0] == 6  # a /set is not replay-safe: never resent
    assert call.progress == Progress(objects=N, confirmed=2_500, unknown=500, not_applied=2_000)
    assert call.error is error
    notes = "\n".join(error.__notes__)
    assert "2,500 of 5,000 object(s) confirmed, 500 of unknown outcome, 2,000 not applied" in notes
    assert "call.partial" in notes

    ids = created_ids(call)
    assert sorted(ids, key=lambda k: int(k[1:])) == [f"m{i}" for i in range(2_500)]
    on_server = await server_message_ids(server, chat_of(call))
    assert set(ids.values()) <= on_server
    assert len(on_server - set(ids.values())) == call.progress.unknown  # the lost reply's


async def test_method_error_on_a_chunk_keeps_the_chunks_that_ran(server: ChatServer) -> None:
    """Envelope 4 answers serverFail: 1,500 confirmed, the rest not applied, and the
    call's error (not just the send) says so."""
    seen = [0]

    def fail_fourth(request: httpx.Request, response: httpx.Response, body: bytes) -> Any:
        if api_number(request, seen) == 4:
            doc = json.loads(request.content)
            wire_id = doc["methodCalls"][0][2]
            reply = {
                "methodResponses": [["error", {"type": "serverFail"}, wire_id]],
                "sessionState": json.loads(body)["sessionState"],
            }
            return httpx.Response(200, json=reply, request=request)
        return None

    call, error = await send_big(server, fail_fourth)
    assert error is None  # a method error is the call's outcome, not the send's

    assert seen[0] == 4  # no further chunk of the failed call is sent
    with pytest.raises(jmapchat.ServerFail, match=r"1,500 of 5,000 object\(s\) confirmed"):
        call.result  # noqa: B018
    assert call.progress == Progress(objects=N, confirmed=1_500, unknown=0, not_applied=3_500)
    ids = created_ids(call)
    assert len(ids) == 1_500
    assert call.extra_responses[0][1]["created"].keys() == ids.keys()  # as before
    # The fault replaced the 4th reply after the server applied it: those 500 exist too,
    # which is exactly why the confirmed ids are the ones to trust.
    on_server = await server_message_ids(server, chat_of(call))
    assert set(ids.values()) <= on_server


def test_real_server_shutdown_over_loopback(server: ChatServer) -> None:
    """A real hypercorn server on a loopback socket is shut down after envelope 4: the
    handle keeps the 2,000 ids of the four envelopes that succeeded, and they are
    exactly the server's messages."""
    cm: AbstractContextManager[str] = serve_in_thread(server, host="127.0.0.1", port=0)
    url = cm.__enter__()
    stopped = [False]

    def stop() -> None:
        if not stopped[0]:
            stopped[0] = True
            cm.__exit__(None, None, None)

    wire = Wire()
    seen = [0]

    def shut_down_after_fourth(
        request: httpx.Request, response: httpx.Response, body: bytes
    ) -> Any:
        if api_number(request, seen) == 4:
            stop()  # the reply was read; the server is gone before envelope 5
        return None

    wire.after.append(shut_down_after_fourth)
    try:
        with Client.connect(
            url,
            token=server.tokens["alice"],
            transport=FaultTransport(httpx.HTTPTransport(), wire),
            retries=NO_BACKOFF,
        ) as client:
            created = client.chat.set(
                create={"c": ChatCreate.direct(contact_id=server.contact_ids["bob"])}
            ).created
            assert created is not None
            chat_id = created["c"].id
            req = client.request()
            call = req.message.set(create=creates(chat_id))
            with pytest.raises(jmapchat.TransportError) as info:
                client.send(req)
    finally:
        stop()

    assert "split request: 0 of 1 call(s) completed after 5 envelope(s)" in info.value.__notes__
    progress = call.progress
    assert progress is not None
    assert progress.confirmed == 2_000
    assert progress.objects == N
    # Envelope 5 never reached a server (refused connect: not applied; a reset on the
    # old keep-alive connection: unknown) — either way nothing of it exists.
    assert progress.unknown + progress.not_applied == 3_000
    ids = created_ids(call)
    assert len(ids) == 2_000
    with (
        serve_in_thread(server, host="127.0.0.1", port=0) as again,
        Client.connect(again, token=server.tokens["alice"]) as client,
    ):
        pages = client.query_iter("Message", filter=MessageFilter(chat_id=chat_id), fetch=False)
        assert set(pages) == set(ids.values())


def test_chunked_get_keeps_answered_chunks_on_a_lost_reply() -> None:
    """Sans-IO: the planner's failure path for a /get (list and notFound merged)."""
    from jmapchat._core import CoreCapability
    from jmapchat._core._exec import Splitter

    limits = CoreCapability.model_validate(
        {"maxCallsInRequest": 1, "maxObjectsInGet": 500, "maxObjectsInSet": 500}
    )
    req = jmapchat.Request(account_id="A")
    get = req.message.get(ids=[f"M{i}" for i in range(1_200)])
    sp = Splitter(req, limits)
    env1 = sp.next_envelope()
    assert env1 is not None
    (name, args, wire_id) = json.loads(env1.body)["methodCalls"][0]
    found = [{"id": i, "chatId": "C"} for i in args["ids"][:-1]]
    reply = {
        "methodResponses": [
            [name, {"accountId": "A", "state": "s", "list": found, "notFound": ["M499"]}, wire_id]
        ],
        "sessionState": "x",
    }
    assert sp.absorb(env1, reply)
    env2 = sp.next_envelope()
    assert env2 is not None
    lines = sp.fail(jmapchat.Timeout("read timeout"), env2, maybe_applied=True)
    assert get.progress == Progress(objects=1_200, confirmed=500, unknown=500, not_applied=200)
    assert lines == [
        "call c0 (Message/get): 500 of 1,200 object(s) confirmed, 500 of unknown outcome, "
        "200 not applied; the confirmed results are in call.partial"
    ]
    assert isinstance(get.error, jmapchat.Timeout)
    partial = get.partial
    assert partial is not None
    assert partial.not_found == ["M499"]
    assert partial.model_dump(by_alias=True)["list"][0]["id"] == "M0"
