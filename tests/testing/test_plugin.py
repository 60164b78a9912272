"""The `jmapchat.testing` pytest plugin and fault transports, used as a user would."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points

import httpx
import pytest

import jmapchat
from jmapchat.models import ChatCreate, MessageCreate, MessageFilter
from jmapchat.server import ChatServer
from jmapchat.testing import (
    AsyncClientFactory,
    ClientFactory,
    Wire,
    delay,
    drop,
    envelope,
    malformed,
    rate_limited,
    reset_after_send,
    reset_before_send,
    session_state_changed,
    status,
    truncated,
    unavailable,
)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_registered_as_a_pytest11_entry_point() -> None:
    found = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert found.get("jmapchat") == "jmapchat.testing.plugin"


def test_importing_the_plugin_loads_neither_server_nor_trio_nor_http() -> None:
    # pytest imports the plugin in every project where jmapchat is installed.
    code = (
        "import sys, jmapchat.testing.plugin\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('trio', 'starlette', "
        "'hypercorn', 'syrupy', 'httpx', 'anyio') or m.startswith(('jmapchat.server', "
        "'jmapchat._client', 'jmapchat.testing._'))]\n"
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"


# --- fixtures ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_clients_per_user_in_process_and_live(
    jmap_async_client: AsyncClientFactory, jmap_server: ChatServer, jmap_wire: Wire
) -> None:
    async with jmap_async_client("alice") as alice, jmap_async_client("bob", live=True) as bob:
        assert alice.account_id == jmap_server.account_ids["alice"]
        assert bob.account_id == jmap_server.account_ids["bob"]
        res = await alice.chat.set(
            create={"c": ChatCreate.direct(contact_id=jmap_server.contact_ids["bob"])}
        )
        assert res.created is not None
        chat_id = res.created["c"].id
        await alice.message.send(chat_id, "hello bob")
        got = await bob.message.query(filter=MessageFilter(chat_id=chat_id))
        assert len(got.ids) == 1
    # Both clients went through the one wire.
    assert jmap_wire.api == 3
    assert ("GET", "/.well-known/jmap") in jmap_wire.requests


def test_blocking_client_per_user(jmap_client: ClientFactory, jmap_server: ChatServer) -> None:
    with jmap_client("bob") as bob:
        assert bob.account_id == jmap_server.account_ids["bob"]
        assert bob.chat.query().ids == []


def test_unknown_user_is_a_clear_error(jmap_client: ClientFactory) -> None:
    with pytest.raises(LookupError, match="override the jmap_users fixture"):
        jmap_client("mallory")


class TestOverriddenUsersAndLimits:
    @pytest.fixture
    def jmap_users(self) -> list[str]:
        return ["ann", "ben", "cat"]

    @pytest.fixture
    def jmap_limits(self) -> jmapchat.server.ServerLimits:
        return jmapchat.server.ServerLimits(max_calls_in_request=2)

    @pytest.mark.anyio
    async def test_users_and_limits(
        self, jmap_async_client: AsyncClientFactory, jmap_server: ChatServer, jmap_wire: Wire
    ) -> None:
        assert sorted(jmap_server.tokens) == ["ann", "ben", "cat"]
        async with jmap_async_client("cat") as cat:
            req = cat.request()
            for i in range(5):
                req.core.echo({"i": i})
            jmap_wire.reset()
            await cat.send(req)
            assert jmap_wire.api == 3  # split by the server's limit of 2 calls


def test_envelope_snapshot(jmap_envelope: object) -> None:
    req = jmapchat.Request(account_id="A1")
    req.message.send("C1", "hello", sent_at="2026-01-01T00:00:00Z")
    req.message.react("M1", "👍", sent_at="2026-01-01T00:00:00Z")  # id: seeded generator
    assert callable(jmap_envelope)
    jmap_envelope(req)
    # Deterministic: the same request built again under the same seed is identical.
    first = envelope(req)
    assert first["methodCalls"][0][0] == "Message/set"


# --- faults, async -------------------------------------------------------------------------


async def _chat(client: jmapchat.AsyncClient, server: ChatServer) -> str:
    res = await client.chat.set(
        create={"c": ChatCreate.direct(contact_id=server.contact_ids["bob"])}
    )
    assert res.created is not None
    return res.created["c"].id


async def _count(client: jmapchat.AsyncClient, chat_id: str) -> int:
    return len((await client.message.query(filter=MessageFilter(chat_id=chat_id))).ids)


@pytest.mark.anyio
@pytest.mark.parametrize("live", [False, True], ids=["asgi", "loopback"])
async def test_each_fault_as_the_client_sees_it(
    jmap_async_client: AsyncClientFactory, jmap_server: ChatServer, jmap_wire: Wire, live: bool
) -> None:
    async with jmap_async_client(live=live) as client:
        chat_id = await _chat(client, jmap_server)

        # reset before sending: the server never saw it; retried; applied once.
        hit = jmap_wire.inject(reset_before_send())
        jmap_wire.reset()
        await client.message.send(chat_id, "a")
        assert (hit.hits, jmap_wire.api, await _count(client, chat_id)) == (1, 2, 1)

        # reset after sending: it ran; a write is not resent blindly.
        jmap_wire.inject(reset_after_send())
        with pytest.raises(jmapchat.ReadError) as read_error:
            await client.message.send(chat_id, "b")
        assert read_error.value.sent
        assert await _count(client, chat_id) == 2

        # drop: no answer; a write times out, typed, not resent.
        jmap_wire.inject(drop())
        with pytest.raises(jmapchat.Timeout):
            await client.message.send(chat_id, "c")
        assert await _count(client, chat_id) == 2

        # a delay changes nothing but the timing.
        slow = jmap_wire.inject(delay(0.01))
        assert (await client.core.echo({"x": 1})).model_extra == {"x": 1}
        assert slow.hits == 1

        # 503, and 429 with Retry-After: retried.
        for fault in (unavailable(), rate_limited(retry_after=0)):
            jmap_wire.inject(fault)
            jmap_wire.reset()
            await client.core.echo({})
            assert jmap_wire.api == 2
        jmap_wire.inject(rate_limited(retry_after=3600))
        with pytest.raises(jmapchat.RateLimited) as limited:
            await client.core.echo({})
        assert limited.value.retry_after == 3600

        # a truncated or malformed answer: a typed protocol error, never a bare ValueError.
        for fault in (truncated(), malformed()):
            jmap_wire.inject(fault, times=None)
            with pytest.raises(jmapchat.RemoteProtocolError):
                await client.core.echo({})
            jmap_wire.clear()

        # a changed sessionState: the session is fetched again before the next request.
        jmap_wire.inject(session_state_changed())
        await client.core.echo({})
        jmap_wire.reset()
        await client.core.echo({})
        assert [m for m, _ in jmap_wire.requests] == ["GET", "POST"]


def test_faults_on_the_blocking_client(jmap_client: ClientFactory, jmap_wire: Wire) -> None:
    with jmap_client() as client:
        busy = jmap_wire.inject(unavailable())
        jmap_wire.inject(rate_limited(retry_after=0))
        assert not busy.wait_blocking(timeout=0)
        jmap_wire.reset()
        client.core.echo({})
        assert jmap_wire.api == 3
        assert busy.wait_blocking(timeout=0)
        jmap_wire.inject(reset_after_send())
        with pytest.raises(jmapchat.ReadError):
            client.message.send("nope", "x")
        jmap_wire.inject(malformed(), times=None)
        with pytest.raises(jmapchat.RemoteProtocolError):
            client.core.echo({})


def test_status_fault_sends_what_it_is_told() -> None:
    wire = Wire()
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json={"ok": True}))
    from jmapchat.testing import FaultTransport

    with httpx.Client(transport=FaultTransport(transport, wire), base_url="http://x") as http:
        wire.inject(status(418, headers={"X-T": "1"}, body=b"teapot"), on="any", skip=1)
        assert http.get("/a").json() == {"ok": True}  # skipped
        teapot = http.get("/b")
        assert (teapot.status_code, teapot.headers["X-T"], teapot.content) == (418, "1", b"teapot")
        assert http.get("/c").status_code == 200  # fired once only
        r = http.post("/jmap/api", content=b"not json")
        assert r.status_code == 200
    assert wire.requests[-1] == ("POST", "/jmap/api")
    assert wire.api_bodies == [{"<not JSON>": "not json"}]
    with pytest.raises(ValueError, match="times"):
        wire.inject(status(500), times=0)


def test_message_create_envelope_is_plain_json() -> None:
    req = jmapchat.Request(account_id="A1")
    req.message.set(
        create={"m": MessageCreate(chat_id="C1", body="x", sent_at="2026-01-01T00:00:00Z")}
    )
    assert json.loads(req.build()) == envelope(req)


@pytest.mark.anyio
async def test_requests_are_told_apart_and_faults_aim_at_one_kind(
    jmap_async_client: AsyncClientFactory, jmap_wire: Wire
) -> None:
    async with jmap_async_client() as client:
        assert jmap_wire.kinds == ["session"]
        busy = jmap_wire.inject(unavailable(), on="upload")
        up = await client.upload(b"blob bytes", type="application/octet-stream")
        assert busy.hits == 1  # the upload got the 503 and was retried; API calls did not
        assert await client.download(up.blob_id) == b"blob bytes"
        await client.core.echo({})
    assert jmap_wire.kinds == ["session", "upload", "upload", "download", "api"]
    assert (jmap_wire.api, jmap_wire.session_gets) == (1, 1)


def test_a_missing_extra_is_named() -> None:
    from jmapchat.testing.plugin import _require

    with pytest.raises(pytest.UsageError, match=r"jmap_server fixture needs no_such_mod.*testing"):
        _require("httpx", "no_such_mod", fixture="jmap_server")
    _require("httpx", fixture="jmap_server")  # present: nothing happens
