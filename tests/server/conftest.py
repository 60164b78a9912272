from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from jmapchat.server import ChatServer, ServerLimits

CORE = "urn:ietf:params:jmap:core"
CHAT = "urn:ietf:params:jmap:chat"
USING = [CORE, CHAT]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Api:
    """Raw-HTTP helper: one user talking to the server's ASGI app."""

    def __init__(self, client: httpx.AsyncClient, server: ChatServer, user: str) -> None:
        self.client = client
        self.server = server
        self.user = user
        self.acc = server.account_ids[user]
        self.headers = {"Authorization": f"Bearer {server.tokens[user]}"}

    async def post(self, body: Any, **kw: Any) -> httpx.Response:
        return await self.client.post("/jmap/api/", json=body, headers=self.headers, **kw)

    async def request(
        self, calls: list[list[Any]], using: list[str] | None = None, **extra: Any
    ) -> dict[str, Any]:
        resp = await self.post({"using": using or USING, "methodCalls": calls, **extra})
        assert resp.status_code == 200, resp.text
        out: dict[str, Any] = resp.json()
        return out

    async def call(
        self, name: str, args: dict[str, Any], using: list[str] | None = None
    ) -> tuple[str, dict[str, Any]]:
        args = {"accountId": self.acc, **args}
        out = await self.request([[name, args, "c"]], using)
        rname, rargs, _ = out["methodResponses"][0]
        return rname, rargs

    async def ok(
        self, name: str, args: dict[str, Any], using: list[str] | None = None
    ) -> dict[str, Any]:
        rname, rargs = await self.call(name, args, using)
        assert rname == name, rargs
        return rargs

    async def create(self, type: str, obj: dict[str, Any]) -> dict[str, Any]:
        res = await self.ok(f"{type}/set", {"create": {"x": obj}})
        assert res["created"], res
        assert "x" in res["created"], res
        created: dict[str, Any] = res["created"]["x"]
        return created

    async def get1(self, type: str, oid: str) -> dict[str, Any] | None:
        res = await self.ok(f"{type}/get", {"ids": [oid]})
        return res["list"][0] if res["list"] else None

    async def send(self, chat_id: str, body: str, **more: Any) -> dict[str, Any]:
        return await self.create(
            "Message",
            {
                "chatId": chat_id,
                "body": body,
                "bodyType": "text/plain",
                "sentAt": "2025-01-01T00:00:00Z",
                **more,
            },
        )


@pytest.fixture
def jmap_users() -> list[str]:
    return ["alice", "bob", "carol"]


@pytest.fixture
def server(jmap_server: ChatServer) -> ChatServer:
    """The `jmapchat.testing` plugin's in-memory server, with alice, bob and carol."""
    return jmap_server


@pytest.fixture
def small_server() -> Iterator[ChatServer]:
    limits = ServerLimits(
        max_calls_in_request=3, max_objects_in_get=5, max_objects_in_set=4, max_size_request=5000
    )
    with ChatServer(users=["alice", "bob"], limits=limits) as s:
        yield s


@pytest.fixture
async def client(server: ChatServer) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=server.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def alice(client: httpx.AsyncClient, server: ChatServer) -> Api:
    return Api(client, server, "alice")


@pytest.fixture
def bob(client: httpx.AsyncClient, server: ChatServer) -> Api:
    return Api(client, server, "bob")


@pytest.fixture
def carol(client: httpx.AsyncClient, server: ChatServer) -> Api:
    return Api(client, server, "carol")
