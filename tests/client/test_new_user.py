"""What a new user trips on (issue 14): errors that say what happened, helpers that raise,
tolerance of real servers. Against the in-process reference server (ASGI), asyncio only."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from typing_extensions import TypedDict  # pydantic needs it (not typing's) before 3.12

import jmapchat
from jmapchat import (
    AsyncClient,
    BadReference,
    HTTPStatusError,
    InvalidInput,
    LocalProtocolError,
    RemoteProtocolError,
    Request,
    Response,
    SetErrors,
)
from jmapchat.capabilities import CHAT
from jmapchat.models import (
    Attachment,
    ChatCreate,
    DirectChatResponse,
    MessageCreate,
    MessageFilter,
    SetError,
    SpaceCreate,
)
from jmapchat.server import ChatServer
from jmapchat.testing import NO_BACKOFF, AsyncFaultTransport, Wire

from ._chat import new_chat

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def connect(
    server: ChatServer, wire: Wire, url: str = "http://testserver", **kw: Any
) -> AsyncClient:
    """An in-process client of ``server`` at ``url`` (the plugin's factory fixes the URL)."""
    kw.setdefault("retries", NO_BACKOFF)
    kw.setdefault("token", server.tokens["alice"])
    transport = AsyncFaultTransport(httpx.ASGITransport(app=server.app), wire)
    return AsyncClient.connect(url, transport=transport, **kw)


@pytest.fixture
async def client(jmap_server: ChatServer, jmap_wire: Wire) -> AsyncIterator[AsyncClient]:
    async with connect(jmap_server, jmap_wire) as c:
        yield c


# --- 1. one-object helpers raise; the generic /set returns data --------------------------------


async def test_send_to_unknown_chat_raises_set_errors_naming_the_failure(
    client: AsyncClient,
) -> None:
    with pytest.raises(SetErrors) as info:
        await client.message.send("NOPE", "hi", creation_id="k1")
    exc = info.value
    text = str(exc)
    err = exc.errors["k1"]
    assert text.startswith("Message/set (call c0): 1 object failed: create 'k1': ")
    assert err.type in text
    assert (err.description or "") in text
    for prop in err.properties or []:
        assert prop in text
    assert exc.response.not_created["k1"] == err  # what the server said is kept
    assert exc.call is not None
    assert exc.call.method == "Message/set"


async def test_generic_set_keeps_returning_failures_as_data(client: AsyncClient) -> None:
    res = await client.message.set(create={"k1": MessageCreate(chat_id="NOPE", body="hi")})
    assert "k1" in res.not_created
    assert not res.created


async def test_every_one_object_helper_raises(client: AsyncClient, jmap_server: ChatServer) -> None:
    chat_id = await new_chat(client, jmap_server)
    sent = await client.message.send(chat_id, "hello")
    assert sent.created  # success still returns the response
    for helper, args in [
        (client.message.edit, ("NOPE", "new body")),
        (client.message.react, ("NOPE", "👍")),
        (client.message.unreact, ("NOPE", "01HZZZZZZZZZZZZZZZZZZZZZZZ")),
        (client.message.mark_read, (["NOPE"],)),
        (client.message.delete, (["NOPE"],)),
        (client.read_position.set_last_read, ("NOPE", None)),
    ]:
        with pytest.raises(SetErrors, match=r"update 'NOPE': notFound"):
            await helper(*args)  # type: ignore[operator]


async def test_blob_upload_failure_raises(client: AsyncClient) -> None:
    with pytest.raises(
        SetErrors, match=r"Blob/upload \(call c0\): 1 object failed: create 'b': tooLarge"
    ):
        await client.blob.upload(["x"] * 65, creation_id="b")  # over maxDataSources (64)
    assert (await client.blob.upload(["x"], creation_id="b")).created


async def test_helper_in_a_batch_raises_at_its_result_only(
    client: AsyncClient, jmap_server: ChatServer
) -> None:
    chat_id = await new_chat(client, jmap_server)
    req = client.request()
    bad = req.message.send("NOPE", "lost")
    good = req.message.send(chat_id, "kept")
    plain = req.message.set(create={"p": MessageCreate(chat_id="NOPE", body="x")})
    await client.send(req)
    assert isinstance(bad.error, SetErrors)
    with pytest.raises(SetErrors):
        bad.result  # noqa: B018
    assert good.result.created[good.creation_key].id
    assert plain.error is None
    assert "p" in plain.result.not_created


async def test_body_over_max_body_bytes_from_the_server_raises(
    client: AsyncClient, jmap_server: ChatServer, jmap_wire: Wire
) -> None:
    chat_id = await new_chat(client, jmap_server)
    client._chat_limits = None  # as if the session had not said: the server refuses it
    with pytest.raises(SetErrors, match=r"\(body\)"):
        await client.message.send(chat_id, "x" * 100_001)


def test_set_errors_message_shows_the_first_few_then_a_count() -> None:
    errors = {
        f"k{i}": SetError(
            type="invalidProperties", description="bad", properties=["a", "b", "c", "d", "e", "f"]
        )
        for i in range(8)
    }
    res = jmapchat.Request(account_id="A")
    call = res.message.set(create={f"k{i}": MessageCreate(chat_id="c", body="b") for i in range(8)})
    call.expects_success = True
    body = {
        "methodResponses": [
            [
                "Message/set",
                {
                    "accountId": "A",
                    "newState": "1",
                    "notCreated": {k: e.to_wire() for k, e in errors.items()},
                },
                call.id,
            ]
        ],
        "sessionState": "s",
    }
    Response.parse(res, json.dumps(body))
    with pytest.raises(SetErrors) as info:
        call.result  # noqa: B018
    text = str(info.value)
    assert "8 objects failed" in text
    assert text.endswith("; +3 more")
    assert text.count("create 'k") == 5
    assert "(a, b, c, d +2 more): bad" in text


def test_unanswered_object_of_a_helper_is_a_remote_protocol_error() -> None:
    req = jmapchat.Request(account_id="A")
    call = req.message.send("c", "hi", creation_id="k1")
    body = {
        "methodResponses": [["Message/set", {"accountId": "A", "newState": "1"}, call.id]],
        "sessionState": "s",
    }
    Response.parse(req, json.dumps(body))
    with pytest.raises(RemoteProtocolError, match="neither success nor failure for create 'k1'"):
        call.result  # noqa: B018
    assert call.responses[0][0] == "Message/set"


# --- 2. page.idz ---------------------------------------------------------------------------


def test_unknown_reference_on_a_call_is_a_local_protocol_error() -> None:
    req = Request(account_id="A")
    page = req.message.query(filter=MessageFilter(chat_id="c"))
    with pytest.raises(BadReference) as info:
        page.idz  # type: ignore[attr-defined]  # noqa: B018
    assert isinstance(info.value, LocalProtocolError)
    assert isinstance(info.value, AttributeError)
    assert "'idz' (did you mean 'ids'?)" in str(info.value)
    assert "ids, query_state" in str(info.value)
    assert not hasattr(page, "idz")
    with pytest.raises(BadReference, match="colour"):
        req.chat.get(None).list.each.colour  # noqa: B018


# --- 3. invoke without response= ------------------------------------------------------------


async def test_invoke_without_response_keeps_every_field(client: AsyncClient) -> None:
    req = client.request()
    echo = req.invoke("Core/echo", {"helloWorld": 1, "nested": {"a": [1, None]}})
    as_dict = req.invoke("Core/echo", {"x": None}, response=dict)
    chats = req.invoke(
        "Chat/get", {"accountId": client.account_id, "ids": None}, response=dict, using=[CHAT]
    )
    await client.send(req)
    assert echo.result.model_extra == {"helloWorld": 1, "nested": {"a": [1, None]}}
    assert echo.result.to_wire() == {"helloWorld": 1, "nested": {"a": [1, None]}}
    assert as_dict.result == {"x": None}
    assert isinstance(chats.result["list"], list)


def test_invoke_refuses_a_response_type_it_cannot_validate() -> None:
    req = Request(account_id="A")
    with pytest.raises(LocalProtocolError, match="response=5 is not a type"):
        req.invoke("Foo/bar", {}, response=5)  # type: ignore[call-overload]
    assert len(req) == 0


# --- 4. URLs --------------------------------------------------------------------------------


def test_url_without_scheme_is_refused_at_once() -> None:
    with pytest.raises(InvalidInput, match=r"did you mean 'http://127.0.0.1:8080'\?"):
        AsyncClient.connect("127.0.0.1:8080", token="t")
    with pytest.raises(InvalidInput, match="session_url="):
        jmapchat.Client.connect(session_url="localhost/.well-known/jmap", token="t")


async def test_base_url_with_a_path_gets_a_hint(jmap_server: ChatServer, jmap_wire: Wire) -> None:
    with pytest.raises(HTTPStatusError) as info:
        await connect(jmap_server, jmap_wire, "http://testserver/jmap").open()
    assert info.value.status_code == 404
    text = str(info.value)
    assert "no JMAP session at http://testserver/jmap/.well-known/jmap" in text
    assert "already ends in a path ('/jmap')" in text
    assert "'http://testserver'" in text
    assert jmap_wire.session_gets == 1  # a 404 is not retried


async def test_404_for_the_session_hints_at_base_url_or_session_url(
    jmap_server: ChatServer,
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:  # a web server, not JMAP
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"not found"})

    client = AsyncClient.connect(
        "http://elsewhere", token="t", transport=httpx.ASGITransport(app=app), retries=NO_BACKOFF
    )
    with pytest.raises(HTTPStatusError) as info:
        await client.open()
    assert str(info.value).endswith(
        "(no JMAP session at http://elsewhere/.well-known/jmap: "
        "pass the server's base URL or session_url=)"
    )


async def test_a_web_page_instead_of_a_session_gets_the_same_hint() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:  # a web site
        headers = [(b"content-type", b"text/html")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"<html>welcome</html>"})

    client = AsyncClient.connect(
        "http://web/app", token="t", transport=httpx.ASGITransport(app=app), retries=NO_BACKOFF
    )
    with pytest.raises(RemoteProtocolError) as info:
        await client.open()
    text = str(info.value)
    assert "invalid JSON" in text
    assert "http://web/app/.well-known/jmap is not a JMAP session" in text
    assert "already ends in a path ('/app')" in text


# --- 6. what the session already tells ------------------------------------------------------


async def test_what_the_chat_capability_rules_out_is_refused_before_io(
    client: AsyncClient, jmap_server: ChatServer, jmap_wire: Wire
) -> None:
    chat_id = await new_chat(client, jmap_server)
    cap = client.session.accounts[client.account_id].chat
    assert cap is not None
    assert cap.max_body_bytes == 100_000
    jmap_wire.reset()
    with pytest.raises(InvalidInput, match=r"100,001 UTF-8 bytes; the account's maxBodyBytes"):
        await client.message.send(chat_id, "x" * 100_001)
    with pytest.raises(InvalidInput, match="maxBodyBytes"):
        client.request().message.set(
            create={"m": MessageCreate(chat_id=chat_id, body="é" * 50_001)}
        )
    with pytest.raises(InvalidInput, match="update 'm1'"):
        client.request().message.edit("m1", "x" * 100_001)
    one = Attachment(blob_id="B", filename="a.txt", content_type="text/plain", size=1, sha256="0")
    with pytest.raises(InvalidInput, match="21 attachments; the account's maxAttachments"):
        await client.message.send(chat_id, "files", attachments=[one] * 21)
    with pytest.raises(InvalidInput, match="bodyType 'text/x-nope' is not one of"):
        await client.message.send(chat_id, "hi", body_type="text/x-nope")
    with pytest.raises(InvalidInput, match="bodyType"):
        client.request().message.set(update={"m1": {"body": "b", "bodyType": "text/x-nope"}})
    assert jmap_wire.requests == []
    await client.message.send(chat_id, "x" * 100_000)  # exactly the limit is fine
    await client.message.send(chat_id, "*hi*", body_type="text/markdown")


async def test_dates_are_checked_before_io(client: AsyncClient, jmap_wire: Wire) -> None:
    jmap_wire.reset()
    with pytest.raises(InvalidInput, match="'yesterday' is not a UTCDate"):
        await client.message.send("c", "hi", sent_at="yesterday")
    with pytest.raises(InvalidInput, match="read_at"):
        await client.message.mark_read(["m"], read_at="2026-11-25 10:00:00")
    with pytest.raises(ValidationError, match="not a UTCDate"):
        MessageCreate(chat_id="c", body="b", sent_at="2026-11-25T10:00:00+01:00")
    with pytest.raises(ValidationError, match="not a UTCDate"):
        MessageFilter(chat_id="c", after="2026-02-30T10:00:00Z")
    assert jmap_wire.requests == []
    when = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert MessageCreate(chat_id="c", body="b", sent_at=when).sent_at == "2026-11-25T10:00:00Z"


# --- 7. null lists and maps -----------------------------------------------------------------


def test_null_lists_and_maps_read_as_empty() -> None:
    req = Request(account_id="A")
    got = req.chat.get(["x"])
    changes = req.chat.changes("0")
    query = req.chat.query()
    sets = req.chat.set(destroy=["y"])
    body = {
        "methodResponses": [
            ["Chat/get", {"accountId": "A", "state": "1", "list": [], "notFound": None}, "c0"],
            [
                "Chat/changes",
                {
                    "accountId": "A",
                    "oldState": "0",
                    "newState": "1",
                    "hasMoreChanges": False,
                    "created": None,
                    "updated": None,
                    "destroyed": None,
                },
                "c1",
            ],
            [
                "Chat/query",
                {
                    "accountId": "A",
                    "queryState": "q",
                    "canCalculateChanges": False,
                    "position": 0,
                    "ids": None,
                },
                "c2",
            ],
            ["Chat/set", {"accountId": "A", "newState": "2", "destroyed": None}, "c3"],
        ],
        "sessionState": "s",
    }
    Response.parse(req, json.dumps(body))
    assert got.result.not_found == []
    assert got.result.list == []
    assert (changes.result.created, changes.result.updated, changes.result.destroyed) == (
        [],
        [],
        [],
    )
    assert query.result.ids == []
    assert sets.result.destroyed == []
    assert sets.result.not_destroyed == {}


# --- 8. serverRetryAfter ----------------------------------------------------------------------


def test_server_retry_after_as_seconds_or_utc_date() -> None:
    soon = (datetime.now(UTC) + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert SetError(type="rateLimit", server_retry_after=12).retry_after_seconds() == 12
    as_date = SetError.model_validate({"type": "rateLimited", "serverRetryAfter": soon})
    wait = as_date.retry_after_seconds()
    assert wait is not None
    assert 0 < wait <= 30
    past = SetError.model_validate(
        {"type": "rateLimited", "serverRetryAfter": "2000-01-01T00:00:00Z"}
    )
    assert past.retry_after_seconds() == 0
    not_a_date = SetError(type="rateLimited", server_retry_after="2026-11-25 10:00:00")
    assert not_a_date.retry_after_seconds() is None


async def test_slow_mode_rate_limit_gives_seconds_from_now(
    jmap_server: ChatServer, jmap_wire: Wire
) -> None:
    async with connect(jmap_server, jmap_wire) as alice:
        made = await alice.space.set(create={"s": SpaceCreate(name="Acme")})
        space_id = made.created["s"].id
        await alice.space.set(
            update={space_id: {"addChannels": [{"name": "general"}], "addMembers": [{"id": "bob"}]}}
        )
        space = (await alice.space.get([space_id])).list[0]
        channel = space.model_dump(by_alias=True)["uncategorizedChannelIds"][0]
        await alice.space.set(
            update={space_id: {"updateChannels": [{"id": channel, "slowModeSeconds": 60}]}}
        )
    async with connect(jmap_server, jmap_wire, token=jmap_server.tokens["bob"]) as bob:
        await bob.message.send(channel, "one")
        with pytest.raises(SetErrors) as info:
            await bob.message.send(channel, "two")
    limited = info.value.rate_limited
    assert limited is not None
    assert limited.retry_after is not None
    assert 0 < limited.retry_after <= 60
    assert "rateLimited" in str(info.value)


# --- 9. MessageFilter sender_id / after / before ---------------------------------------------


async def test_message_filter_sender_after_before(
    client: AsyncClient, jmap_server: ChatServer
) -> None:
    chat_id = await new_chat(client, jmap_server)
    for body in ("one", "two", "three"):
        await client.message.send(chat_id, body)
    async with connect(jmap_server, Wire(), token=jmap_server.tokens["bob"]) as bob:
        bob_chat = await bob.chat.open_direct(jmap_server.contact_ids["alice"])
        await bob.message.send(bob_chat.chat_id, "from bob")
    page = await client.message.query(filter=MessageFilter(chat_id=chat_id))
    msgs = (await client.message.get(page.ids)).list
    assert len(msgs) == 4
    mine = await client.message.query(filter=MessageFilter(chat_id=chat_id, sender_id="self"))
    assert len(mine.ids) == 3
    bobs = [m for m in msgs if m.sender_id != "self"]
    theirs = await client.message.query(
        filter=MessageFilter(chat_id=chat_id, sender_id=bobs[0].sender_id)
    )
    assert theirs.ids == [bobs[0].id]
    times = sorted({m.received_at for m in msgs if m.received_at})
    after = await client.message.query(filter=MessageFilter(chat_id=chat_id, after=times[-1]))
    before = await client.message.query(filter=MessageFilter(chat_id=chat_id, before=times[-1]))
    assert set(after.ids) | set(before.ids) == {m.id for m in msgs}
    assert not set(after.ids) & set(before.ids)
    assert after.ids
    future = format(datetime.now(UTC) + timedelta(days=1), "%Y-%m-%dT%H:%M:%SZ")
    assert (
        await client.message.query(filter=MessageFilter(chat_id=chat_id, after=future))
    ).ids == []


# --- 10. get() defaults to all where the spec allows it --------------------------------------


async def test_get_defaults_to_all_but_message_get_needs_ids(
    client: AsyncClient, jmap_server: ChatServer
) -> None:
    chat_id = await new_chat(client, jmap_server)
    assert [c.id for c in (await client.chat.get()).list] == [chat_id]
    assert len((await client.presence_status.get()).list) == 1
    with pytest.raises(LocalProtocolError, match="ids=None would fetch every Message"):
        await client.message.get(None)
    with pytest.raises(TypeError):
        await client.message.get()  # type: ignore[call-arg]


# --- 12. get-or-create a direct chat ----------------------------------------------------------


async def test_open_direct_returns_the_id_created_or_existing(
    client: AsyncClient, jmap_server: ChatServer
) -> None:
    first = await client.chat.open_direct(jmap_server.contact_ids["bob"])
    again = await client.chat.open_direct(jmap_server.contact_ids["bob"])
    assert isinstance(first, DirectChatResponse)
    assert first.was_created
    assert not again.was_created
    assert first.chat_id == again.chat_id
    assert [c.id for c in (await client.chat.get()).list] == [first.chat_id]
    with pytest.raises(SetErrors, match="contactId"):
        await client.chat.open_direct(jmap_server.contact_ids["alice"])  # yourself


def test_open_direct_reads_already_exists_with_existing_id() -> None:
    req = Request(account_id="A")
    call = req.chat.open_direct("bob", creation_id="d")
    err = {"type": "alreadyExists", "existingId": "chat-1"}
    body = {
        "methodResponses": [
            ["Chat/set", {"accountId": "A", "newState": "1", "notCreated": {"d": err}}, call.id]
        ],
        "sessionState": "s",
    }
    Response.parse(req, json.dumps(body))
    assert call.result.chat_id == "chat-1"
    assert not call.result.was_created
    assert ChatCreate.direct("bob").to_wire() == call.args["create"]["d"].to_wire()


def test_blocking_client_over_loopback_raises_the_same(
    jmap_live_url: str, jmap_server: ChatServer
) -> None:
    with jmapchat.Client.connect(
        jmap_live_url, token=jmap_server.tokens["alice"], retries=NO_BACKOFF
    ) as client:
        with pytest.raises(SetErrors, match="create '"):
            client.message.send("NOPE", "hi")
        dm = client.chat.open_direct(jmap_server.contact_ids["bob"])
        assert client.chat.open_direct(jmap_server.contact_ids["bob"]).chat_id == dm.chat_id
    with pytest.raises(HTTPStatusError, match=r"already ends in a path \('/jmap'\)"):
        jmapchat.Client.connect(jmap_live_url + "/jmap", token="t", retries=NO_BACKOFF).open()


class Answer(TypedDict):
    count: int


def test_blob_convert_failure_raises_and_typed_dict_invoke_validates() -> None:
    req = Request(account_id="A")
    conv = req.blob.convert("B1", "image/webp", width=64, creation_id="t")
    vendor = req.invoke("Vendor/count", {}, response=Answer)
    failed = {"t": {"type": "notFound", "description": "no blob B1"}}
    body = {
        "methodResponses": [
            ["Blob/convert", {"accountId": "A", "created": None, "notCreated": failed}, conv.id],
            ["Vendor/count", {"count": 3}, vendor.id],
        ],
        "sessionState": "s",
    }
    Response.parse(req, json.dumps(body))
    with pytest.raises(SetErrors, match="create 't': notFound: no blob B1"):
        conv.result  # noqa: B018
    assert vendor.result == {"count": 3}
