# ruff: noqa: PT018
"""Blobs, Blob/lookup, Quota, PushSubscription, EventSource, a real socket, restart, fuzzing."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from jmapchat.server import ChatServer, serve_in_thread

from .conftest import CHAT, CORE, USING, Api

pytestmark = pytest.mark.anyio

ALL = [CORE, CHAT, "urn:ietf:params:jmap:quota", "urn:ietf:params:jmap:blob2"]


async def test_upload_download_lookup_quota(alice: Api, bob: Api) -> None:
    data = b"hello blob" * 10
    r = await alice.client.post(
        f"/jmap/upload/{alice.acc}/",
        content=data,
        headers={**alice.headers, "Content-Type": "text/plain"},
    )
    assert r.status_code == 201
    up = r.json()
    assert up["sha256"] == hashlib.sha256(data).hexdigest() and up["size"] == len(data)
    r = await alice.client.post(f"/jmap/upload/{bob.acc}/", content=data, headers=alice.headers)
    assert r.status_code == 404
    r = await bob.client.get(f"/jmap/download/{bob.acc}/{up['blobId']}/x.txt", headers=bob.headers)
    assert r.status_code == 404  # not bob's (yet)
    chat = await alice.create("Chat", {"kind": "direct", "contactId": "bob"})
    m = await alice.send(
        chat["id"],
        "file",
        attachments=[
            {
                "blobId": up["blobId"],
                "filename": 'a "b".txt',
                "contentType": "text/plain",
                "size": len(data),
                "sha256": up["sha256"],
            }
        ],
    )
    r = await bob.client.get(
        f"/jmap/download/{bob.acc}/{up['blobId']}/a%20%22b%22.txt?type=text/plain",
        headers=bob.headers,
    )
    assert (
        r.status_code == 200
        and r.content == data
        and "filename*=" in r.headers["content-disposition"]
    )
    out = await alice.request(
        [
            [
                "Blob/lookup",
                {"accountId": alice.acc, "typeNames": ["Message"], "ids": [up["blobId"], "nope"]},
                "0",
            ],
            ["Quota/get", {"accountId": alice.acc, "ids": None}, "1"],
        ],
        using=ALL,
    )
    look, quota = out["methodResponses"][0][1], out["methodResponses"][1][1]
    assert look["list"][0]["matchedIds"]["Message"] == [m["id"]] and look["notFound"] == ["nope"]
    assert {q["id"] for q in quota["list"]} >= {"messages", "storage"}
    bad = await alice.ok(
        "Message/set",
        {
            "create": {
                "x": {
                    "chatId": chat["id"],
                    "body": "f",
                    "bodyType": "text/plain",
                    "sentAt": "2025-01-01T00:00:00Z",
                    "attachments": [
                        {
                            "blobId": up["blobId"],
                            "filename": "a",
                            "contentType": "text/plain",
                            "sha256": "0" * 64,
                        }
                    ],
                }
            }
        },
    )
    assert bad["notCreated"]["x"]["type"] == "invalidProperties"


async def test_push_subscription(alice: Api) -> None:
    res = await alice.ok(
        "PushSubscription/set",
        {
            "create": {
                "p": {
                    "deviceClientId": "d1",
                    "url": "https://push.example.com/x",
                    "types": None,
                    "chatPush": {
                        alice.acc: {
                            "kinds": ["direct"],
                            "chatIds": None,
                            "urgency": "low",
                            "properties": ["messageId", "chatId"],
                        }
                    },
                },
                "bad": {
                    "deviceClientId": "d2",
                    "url": "https://push.example.com/y",
                    "chatPush": {alice.acc: {"urgency": "invalid"}},
                },
            }
        },
    )
    assert res["notCreated"]["bad"]["type"] == "invalidArguments"
    pid = res["created"]["p"]["id"]
    got = await alice.ok("PushSubscription/get", {"ids": None})
    assert (
        got["list"][0]["id"] == pid and "url" not in got["list"][0] and got["list"][0]["chatPush"]
    )
    res = await alice.ok("PushSubscription/set", {"update": {pid: {"verificationCode": "wrong"}}})
    assert res["notUpdated"][pid]["type"] == "invalidProperties"
    res = await alice.ok("PushSubscription/set", {"destroy": [pid]})
    assert res["destroyed"] == [pid]


async def test_eventsource_state_asgi(alice: Api, bob: Api) -> None:
    result: dict[str, Any] = {}

    async def listen() -> None:
        r = await bob.client.get(
            "/jmap/eventsource/?types=*&closeafter=state&ping=0", headers=bob.headers
        )
        result["text"] = r.text

    # the chat exists first: the one state change the listener reports is the message's
    # (requests run on worker threads, so the listener may wake between two of them)
    chat = await alice.create("Chat", {"kind": "direct", "contactId": "bob"})
    async with anyio.create_task_group() as tg:
        tg.start_soon(listen)
        await anyio.sleep(0.05)
        await alice.send(chat["id"], "ping")
    text = result["text"]
    assert "event: state" in text
    data = json.loads(text.split("data: ", 1)[1].split("\n", 1)[0])
    assert data["@type"] == "StateChange" and "Message" in data["changed"][bob.acc]
    event_id = text.split("id: ", 1)[1].split("\n", 1)[0]
    await alice.send(chat["id"], "again")
    r = await bob.client.get(
        "/jmap/eventsource/?types=Message&closeafter=state&ping=0",
        headers={**bob.headers, "Last-Event-ID": event_id},
    )
    assert "event: state" in r.text


@pytest.mark.timeout(60)
def test_real_socket_typing_and_ping() -> None:
    with ChatServer(users=["alice", "bob"]) as server, serve_in_thread(server) as base:
        ha = {"Authorization": f"Bearer {server.tokens['alice']}"}
        hb = {"Authorization": f"Bearer {server.tokens['bob']}"}
        with httpx.Client(base_url=base, timeout=10) as c:
            sess = c.get("/.well-known/jmap", headers=ha).json()
            assert sess["apiUrl"] == f"{base}/jmap/api/"
            acc = server.account_ids["alice"]
            r = c.post(
                "/jmap/api/",
                headers=ha,
                json={
                    "using": USING,
                    "methodCalls": [
                        [
                            "Chat/set",
                            {
                                "accountId": acc,
                                "create": {"d": {"kind": "direct", "contactId": "bob"}},
                            },
                            "0",
                        ]
                    ],
                },
            )
            chat_id = r.json()["methodResponses"][0][1]["created"]["d"]["id"]
            events: list[str] = []
            with c.stream(
                "GET", "/jmap/eventsource/?types=*&closeafter=no&ping=1", headers=hb
            ) as stream:
                lines = stream.iter_lines()
                assert next(lines).startswith(":")
                c2 = httpx.Client(base_url=base, timeout=10)
                c2.post(
                    "/jmap/api/",
                    headers=ha,
                    json={
                        "using": USING,
                        "methodCalls": [
                            [
                                "Chat/typing",
                                {"accountId": acc, "chatId": chat_id, "typing": True},
                                "0",
                            ]
                        ],
                    },
                )
                c2.close()
                for n, line in enumerate(lines):
                    assert n < 50, events
                    if line.startswith("event:"):
                        events.append(line.split(":", 1)[1].strip())
                    if "typing" in events and "ping" in events:
                        break
            assert "typing" in events and "ping" in events


async def test_restart_keeps_data(tmp_path: Path) -> None:
    db = str(tmp_path / "chat.sqlite")
    with ChatServer(db=db, users=["alice", "bob"]) as s1:
        tokens = s1.tokens
        accounts = s1.account_ids
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=s1.app), base_url="http://t"
        ) as c:
            a = Api(c, s1, "alice")
            chat = await a.create("Chat", {"kind": "direct", "contactId": "bob"})
            m = await a.send(chat["id"], "persisted")
            state = (await a.ok("Message/get", {"ids": []}))["state"]
    with ChatServer(db=db, users=["alice", "bob", "carol"], tokens=tokens) as s2:
        assert s2.tokens["alice"] == tokens["alice"] and s2.account_ids["bob"] == accounts["bob"]
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=s2.app), base_url="http://t"
        ) as c:
            a = Api(c, s2, "alice")
            got = await a.get1("Message", m["id"])
            assert got is not None and got["body"] == "persisted"
            assert (await a.ok("Message/get", {"ids": []}))["state"] == state
            b = Api(c, s2, "bob")
            assert (
                len((await b.ok("Message/query", {"filter": {"chatId": chat["id"]}}))["ids"]) == 1
            )


def _fuzz_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(10 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 1, 2**60, 3.5, 10**20])
    if kind == 3:
        return rng.choice(
            ["", "#x", "self", "alice", "bob", "🙂", "\x00", "a" * 300, "2025-01-01T00:00:00Z"]
        )
    if kind == 4:
        return rng.choice(["x", "/ids", "#c"])
    if kind == 5:
        return "".join(rng.choice("ab#/*~01") for _ in range(rng.randrange(6)))
    if kind in (6, 7):
        return [_fuzz_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = [
        "accountId",
        "ids",
        "properties",
        "create",
        "update",
        "destroy",
        "filter",
        "sort",
        "sinceState",
        "chatId",
        "kind",
        "body",
        "contactId",
        "name",
        "#ids",
        "resultOf",
        "path",
        "typing",
        "inviteCode",
        "spaceId",
        "position",
        "limit",
        "anchor",
        "maxChanges",
        "ifInState",
        "addMembers",
        "reactions/x",
        "members",
        "operator",
        "conditions",
        "property",
    ]
    return {rng.choice(keys): _fuzz_value(rng, depth + 1) for _ in range(rng.randrange(5))}


async def test_fuzzed_requests_never_500(alice: Api, server: ChatServer) -> None:
    rng = random.Random(8620)
    methods = [*sorted(server.core.registry), "Nope/x", "Peer/deliver"]
    statuses: set[int] = set()
    for i in range(1000):
        shape = rng.randrange(10)
        if shape == 0:
            raw = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
            r = await alice.client.post(
                "/jmap/api/",
                content=raw,
                headers={**alice.headers, "Content-Type": "application/json"},
            )
        elif shape == 1:
            r = await alice.post(_fuzz_value(rng))
        else:
            calls = []
            for j in range(rng.randrange(1, 5)):
                args = _fuzz_value(rng)
                if isinstance(args, dict) and rng.random() < 0.7:
                    args["accountId"] = alice.acc
                call = [rng.choice(methods), args, f"c{j}"]
                if rng.random() < 0.05:
                    call = call[:2]
                calls.append(call)
            r = await alice.post(
                {"using": ALL if rng.random() < 0.9 else [CORE, "x"], "methodCalls": calls}
            )
        statuses.add(r.status_code)
        assert r.status_code in (200, 400), (i, r.status_code, r.text)
        body = r.json()
        if r.status_code == 400:
            assert body["type"].startswith("urn:ietf:params:jmap:error:")
        else:
            for name, args, _ in body["methodResponses"]:
                if name == "error":
                    assert args["type"] != "serverFail", (i, args)
    assert statuses == {200, 400}


async def test_concurrency_limit(alice: Api, server: ChatServer) -> None:
    gate = anyio.Event()
    results: list[httpx.Response] = []

    async def slow_body() -> Any:
        await gate.wait()
        yield json.dumps({"using": USING, "methodCalls": []}).encode()

    async def one() -> None:
        results.append(
            await alice.client.post(
                "/jmap/api/",
                content=slow_body(),
                headers={**alice.headers, "Content-Type": "application/json"},
            )
        )

    async with anyio.create_task_group() as tg:
        for _ in range(server.limits.max_concurrent_requests):
            tg.start_soon(one)
        await anyio.sleep(0.05)
        r = await alice.post({"using": USING, "methodCalls": []})
        gate.set()
    assert r.status_code == 400 and r.json()["limit"] == "maxConcurrentRequests"
    assert all(x.status_code == 200 for x in results)
