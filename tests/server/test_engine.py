# ruff: noqa: PT018, RUF059
"""RFC 8620 engine: envelope, problem details, references, creation ids, states, limits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from jmapchat.server import ChatServer

from .conftest import CHAT, CORE, USING, Api

pytestmark = pytest.mark.anyio

ERR = "urn:ietf:params:jmap:error:"


async def test_session_resource(client: httpx.AsyncClient, alice: Api) -> None:
    r = await client.get("/.well-known/jmap", headers=alice.headers)
    assert r.status_code == 200
    s = r.json()
    assert s["capabilities"][CHAT] == {}
    assert s["capabilities"][CORE]["maxCallsInRequest"] == 16
    assert "collationAlgorithms" in s["capabilities"][CORE]
    acc = s["accounts"][alice.acc]["accountCapabilities"][CHAT]
    assert "text/plain" in acc["supportedBodyTypes"] and acc["supportsThreads"] is True
    assert s["primaryAccounts"][CHAT] == alice.acc
    assert s["primaryAccounts"]["urn:ietf:params:jmap:chat:push"] == alice.acc
    assert s["apiUrl"] == "http://testserver/jmap/api/"
    assert s["uploadUrl"].startswith("http://testserver/jmap/upload/{accountId}")
    assert "{blobId}" in s["downloadUrl"] and "{closeafter}" in s["eventSourceUrl"]
    assert s["username"] == "alice"


@pytest.mark.parametrize("token", [None, "wrong"])
async def test_auth_required(client: httpx.AsyncClient, token: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for method, url in [
        ("GET", "/.well-known/jmap"),
        ("POST", "/jmap/api/"),
        ("GET", "/jmap/eventsource/"),
    ]:
        r = await client.request(method, url, headers=headers, content=b"{}")
        assert r.status_code == 401


async def test_request_problems(alice: Api) -> None:
    r = await alice.client.post(
        "/jmap/api/",
        content=b"{nope",
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["type"] == ERR + "notJSON"
    r = await alice.post([1, 2])
    assert r.json()["type"] == ERR + "notRequest"
    r = await alice.post({"using": USING, "methodCalls": [["Core/echo", {}]]})
    assert r.json()["type"] == ERR + "notRequest"
    r = await alice.post({"using": [CORE, "urn:x:nope"], "methodCalls": []})
    assert r.json()["type"] == ERR + "unknownCapability"
    r = await alice.post(
        {"using": USING, "methodCalls": [["Core/echo", {}, str(i)] for i in range(17)]}
    )
    assert r.json()["type"] == ERR + "limit" and r.json()["limit"] == "maxCallsInRequest"


async def test_small_limits(small_server: ChatServer) -> None:
    transport = httpx.ASGITransport(app=small_server.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        a = Api(c, small_server, "alice")
        r = await a.post(
            {"using": USING, "methodCalls": [["Core/echo", {}, str(i)] for i in range(4)]}
        )
        assert r.json()["limit"] == "maxCallsInRequest"
        r = await a.post({"using": USING, "methodCalls": [["Core/echo", {"x": "y" * 6000}, "0"]]})
        assert r.status_code == 400 and r.json()["limit"] == "maxSizeRequest"
        name, res = await a.call("ChatContact/get", {"ids": ["a", "b", "c", "d", "e", "f"]})
        assert (name, res["type"]) == ("error", "requestTooLarge")
        create = {f"c{i}": {"kind": "group", "name": "g", "memberIds": []} for i in range(5)}
        name, res = await a.call("Chat/set", {"create": create})
        assert (name, res["type"]) == ("error", "requestTooLarge")
        for i in range(6):
            await a.create("Chat", {"kind": "group", "name": f"g{i}", "memberIds": []})
        name, res = await a.call("Chat/get", {"ids": None})
        assert (name, res["type"]) == ("error", "requestTooLarge")


async def test_unknown_method_and_arguments(alice: Api) -> None:
    name, res = await alice.call("Foo/bar", {})
    assert (name, res["type"]) == ("error", "unknownMethod")
    name, res = await alice.call("Chat/get", {"bogus": 1})
    assert res["type"] == "invalidArguments"
    name, res = await alice.call("Chat/get", {"ids": "notalist"})
    assert res["type"] == "invalidArguments"
    name, res = await alice.call("Quota/get", {})
    assert res["type"] == "unknownMethod"  # quota not in using
    name, res = await alice.call("Peer/deliver", {})
    assert res["type"] == "forbidden"


async def test_echo(alice: Api) -> None:
    out = await alice.request([["Core/echo", {"hello": [1, {"a": None}]}, "e"]])
    assert out["methodResponses"] == [["Core/echo", {"hello": [1, {"a": None}]}, "e"]]


async def test_result_references_and_creation_ids(alice: Api) -> None:
    out = await alice.request(
        [
            [
                "Chat/set",
                {
                    "accountId": alice.acc,
                    "create": {"g": {"kind": "group", "name": "G", "memberIds": ["bob"]}},
                },
                "0",
            ],
            [
                "Message/set",
                {
                    "accountId": alice.acc,
                    "create": {
                        "m1": {
                            "chatId": "#g",
                            "body": "one",
                            "bodyType": "text/plain",
                            "sentAt": "2025-01-01T00:00:00Z",
                        },
                        "m2": {
                            "chatId": "#g",
                            "body": "two",
                            "bodyType": "text/plain",
                            "sentAt": "2025-01-01T00:00:00Z",
                            "replyTo": "#m1",
                        },
                    },
                },
                "1",
            ],
            ["Message/query", {"accountId": alice.acc, "filter": {"chatId": "#g"}}, "2"],
            [
                "Message/get",
                {
                    "accountId": alice.acc,
                    "#ids": {"resultOf": "2", "name": "Message/query", "path": "/ids"},
                    "properties": ["body", "replyTo", "chatId"],
                },
                "3",
            ],
            [
                "Chat/get",
                {
                    "accountId": alice.acc,
                    "#ids": {"resultOf": "3", "name": "Message/get", "path": "/list/*/chatId"},
                },
                "4",
            ],
            [
                "Chat/get",
                {
                    "accountId": alice.acc,
                    "#ids": {"resultOf": "2", "name": "Chat/get", "path": "/ids"},
                },
                "5",
            ],
            [
                "Chat/get",
                {
                    "accountId": alice.acc,
                    "ids": [],
                    "#ids": {"resultOf": "2", "name": "Message/query", "path": "/ids"},
                },
                "6",
            ],
        ],
        createdIds={},
    )
    r = out["methodResponses"]
    gid = r[0][1]["created"]["g"]["id"]
    m1 = r[1][1]["created"]["m1"]["id"]
    assert r[1][1]["created"]["m2"]["replyTo"] == m1
    assert [m["body"] for m in r[3][1]["list"]] == ["one", "two"]
    assert set(r[3][1]["list"][0]) == {"id", "body", "replyTo", "chatId"}
    assert [c["id"] for c in r[4][1]["list"]] == [gid]
    assert r[5][0] == "error" and r[5][1]["type"] == "invalidResultReference"
    assert r[6][0] == "error" and r[6][1]["type"] == "invalidArguments"
    assert out["createdIds"]["g"] == gid and out["createdIds"]["m1"] == m1


async def test_created_ids_passed_in(alice: Api) -> None:
    g = await alice.create("Chat", {"kind": "group", "name": "G", "memberIds": []})
    out = await alice.request(
        [
            [
                "Message/set",
                {
                    "accountId": alice.acc,
                    "create": {
                        "m": {
                            "chatId": "#k",
                            "body": "x",
                            "bodyType": "text/plain",
                            "sentAt": "2025-01-01T00:00:00Z",
                        }
                    },
                },
                "0",
            ]
        ],
        createdIds={"k": g["id"]},
    )
    assert out["methodResponses"][0][1]["created"]["m"]["chatId"] == g["id"]
    assert set(out["createdIds"]) == {"k", "m"}


async def test_later_failure_keeps_earlier_set(alice: Api) -> None:
    out = await alice.request(
        [
            [
                "Chat/set",
                {
                    "accountId": alice.acc,
                    "create": {"g": {"kind": "group", "name": "Kept", "memberIds": []}},
                },
                "0",
            ],
            ["Chat/get", {"accountId": alice.acc, "ids": None, "junk": True}, "1"],
            ["Chat/set", {"accountId": "nope", "create": {}}, "2"],
        ]
    )
    assert (
        out["methodResponses"][1][0] == "error"
        and out["methodResponses"][2][1]["type"] == "accountNotFound"
    )
    gid = out["methodResponses"][0][1]["created"]["g"]["id"]
    assert (await alice.get1("Chat", gid))["name"] == "Kept"  # type: ignore[index]


async def test_states_changes_and_if_in_state(alice: Api) -> None:
    s0 = (await alice.ok("Chat/get", {"ids": []}))["state"]
    ids = [
        (await alice.create("Chat", {"kind": "group", "name": f"g{i}", "memberIds": []}))["id"]
        for i in range(3)
    ]
    name, res = await alice.call("Chat/set", {"ifInState": s0, "update": {ids[0]: {"muted": True}}})
    assert res["type"] == "stateMismatch"
    seen: list[str] = []
    since, more = s0, True
    while more:
        ch = await alice.ok("Chat/changes", {"sinceState": since, "maxChanges": 1})
        assert len(ch["created"]) + len(ch["updated"]) + len(ch["destroyed"]) <= 1
        seen += ch["created"]
        since, more = ch["newState"], ch["hasMoreChanges"]
    assert seen == ids
    cur = (await alice.ok("Chat/get", {"ids": []}))["state"]
    ok = await alice.ok(
        "Chat/set", {"ifInState": cur, "update": {ids[0]: {"muted": True}}, "destroy": [ids[2]]}
    )
    assert ok["updated"] == {ids[0]: None} and ok["destroyed"] == [ids[2]]
    ch = await alice.ok("Chat/changes", {"sinceState": cur})
    assert ch["updated"] == [ids[0]] and ch["destroyed"] == [ids[2]] and not ch["hasMoreChanges"]
    for bad in ("zzz", "999999"):
        name, res = await alice.call("Chat/changes", {"sinceState": bad})
        assert res["type"] == "cannotCalculateChanges"


async def test_query_window_and_query_changes(alice: Api) -> None:
    g = await alice.create("Chat", {"kind": "group", "name": "G", "memberIds": []})
    ids = [(await alice.send(g["id"], f"m{i}"))["id"] for i in range(6)]
    q = await alice.ok("Message/query", {"filter": {"chatId": g["id"]}, "calculateTotal": True})
    assert q["ids"] == ids and q["total"] == 6 and q["position"] == 0
    q = await alice.ok("Message/query", {"filter": {"chatId": g["id"]}, "position": 2, "limit": 2})
    assert q["ids"] == ids[2:4]
    q = await alice.ok("Message/query", {"filter": {"chatId": g["id"]}, "position": -2})
    assert q["ids"] == ids[4:]
    q = await alice.ok(
        "Message/query",
        {"filter": {"chatId": g["id"]}, "anchor": ids[3], "anchorOffset": -1, "limit": 2},
    )
    assert q["ids"] == ids[2:4] and q["position"] == 2
    q = await alice.ok(
        "Message/query",
        {"filter": {"chatId": g["id"]}, "sort": [{"property": "receivedAt", "isAscending": False}]},
    )
    assert q["ids"] == ids[::-1]
    name, res = await alice.call("Message/query", {"filter": {"chatId": g["id"]}, "anchor": "nope"})
    assert res["type"] == "anchorNotFound"
    name, res = await alice.call(
        "Message/query", {"filter": {"chatId": g["id"]}, "sort": [{"property": "body"}]}
    )
    assert res["type"] == "unsupportedSort"
    name, res = await alice.call("Message/query", {"filter": {"hasAttachment": False}})
    assert res["type"] == "unsupportedFilter"
    name, res = await alice.call("Message/query", {"filter": {"chatId": g["id"], "colour": 1}})
    assert res["type"] == "unsupportedFilter"
    q = await alice.ok(
        "Message/query",
        {
            "filter": {
                "operator": "AND",
                "conditions": [
                    {"chatId": g["id"]},
                    {"operator": "NOT", "conditions": [{"text": "m1"}]},
                ],
            }
        },
    )
    assert q["ids"] == [i for i in ids if i != ids[1]]
    state = q["queryState"]
    new = await alice.send(g["id"], "late")
    await alice.ok("Message/set", {"update": {ids[0]: {"deletedAt": "2025-01-01T00:00:00Z"}}})
    qc = await alice.ok(
        "Message/queryChanges",
        {"filter": {"chatId": g["id"]}, "sinceQueryState": state, "calculateTotal": True},
    )
    assert qc["oldQueryState"] == state and qc["total"] == 7
    assert {"id": new["id"], "index": 6} in qc["added"]
    assert ids[0] in qc["removed"]
    name, res = await alice.call(
        "Message/queryChanges",
        {"filter": {"chatId": g["id"]}, "sinceQueryState": state, "maxChanges": 1},
    )
    assert res["type"] == "tooManyChanges"


async def test_every_method_rejects_foreign_account(
    alice: Api, bob: Api, server: ChatServer
) -> None:
    bob_acc = bob.acc
    methods = sorted(server.core.registry)
    assert len(methods) > 40
    for name in methods:
        if name in ("Core/echo", "PushSubscription/get", "PushSubscription/set"):
            continue
        args: dict[str, Any] = {"accountId": bob_acc}
        out = await alice.request(
            [[name, args, "x"]],
            using=[CORE, CHAT, "urn:ietf:params:jmap:quota", "urn:ietf:params:jmap:blob2"],
        )
        rname, rargs, _ = out["methodResponses"][0]
        assert rname == "error", name
        assert rargs["type"] in ("accountNotFound", "invalidArguments"), (name, rargs)
        if rargs["type"] == "invalidArguments":  # missing required args: retry with them
            filled = {
                "accountId": bob_acc,
                "sinceState": "0",
                "sinceQueryState": "0",
                "chatId": "x",
                "typing": True,
                "typeNames": ["Message"],
                "ids": ["x"],
                "inviteCode": "x",
            }
            out = await alice.request(
                [[name, filled, "x"]],
                using=[CORE, CHAT, "urn:ietf:params:jmap:quota", "urn:ietf:params:jmap:blob2"],
            )
            rname, rargs, _ = out["methodResponses"][0]
            assert rargs.get("type") in ("accountNotFound", "invalidArguments"), (name, rargs)
