"""Free-form JSON and string bounds (issue 9, points 2 and 6), and replies that survive
an unserialisable value (point 2): one bad object never fails a whole request."""

from __future__ import annotations

from typing import Any

import pytest

from jmapchat.server import ChatServer

from .conftest import Api

pytestmark = pytest.mark.anyio


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


async def _chat(alice: Api) -> str:
    chat = await alice.create("Chat", {"kind": "direct", "contactId": "bob"})
    chat_id: str = chat["id"]
    return chat_id


def _action(metadata: Any) -> dict[str, Any]:
    return {"type": "urn:x", "uri": "https://example.org/call", "metadata": metadata}


async def test_deep_action_metadata_is_invalid_properties(alice: Api, bob: Api) -> None:
    chat_id = await _chat(alice)
    res = await alice.ok(
        "Message/set",
        {"create": {"m": {"chatId": chat_id, "body": "x", "actions": [_action(nested(40))]}}},
    )
    assert res["notCreated"]["m"]["type"] == "invalidProperties"
    assert res["notCreated"]["m"]["properties"] == ["actions"]
    assert (await bob.ok("Message/query", {"filter": {"chatId": chat_id}}))["ids"] == []


async def test_issue_case_metadata_250_levels_is_refused_and_breaks_nobody(
    alice: Api, bob: Api
) -> None:
    chat_id = await _chat(alice)
    out = await alice.request(
        [
            ["Core/echo", {"sibling": True}, "0"],
            [
                "Message/set",
                {
                    "accountId": alice.acc,
                    "create": {
                        "m": {"chatId": chat_id, "body": "x", "actions": [_action(nested(250))]}
                    },
                },
                "1",
            ],
        ]
    )
    (n0, a0, _), (n1, a1, _) = out["methodResponses"]
    assert (n0, a0) == ("Core/echo", {"sibling": True})
    assert n1 == "error"
    assert a1["type"] == "invalidArguments"
    assert "nest" in a1["description"]
    # nothing was stored, so the recipient's Message/get still works
    res = await bob.ok("Message/get", {"ids": None})
    assert res["list"] == []


async def test_oversized_metadata_is_invalid_properties(alice: Api) -> None:
    chat_id = await _chat(alice)
    big = {"blob": "x" * 20_000}
    res = await alice.ok(
        "Message/set",
        {"create": {"m": {"chatId": chat_id, "body": "x", "actions": [_action(big)]}}},
    )
    assert res["notCreated"]["m"]["type"] == "invalidProperties"


async def test_unserialisable_result_fails_only_its_call(server: ChatServer, alice: Api) -> None:
    """A value stored before bounds existed (written straight into the store here) makes
    its call serverFail; the sibling calls' results still arrive."""
    chat_id = await _chat(alice)
    msg = await alice.send(chat_id, "ok")
    obj = server.store.get(alice.acc, "Message", msg["id"])
    assert obj is not None
    obj["actions"] = [_action(nested(249))]  # storable, but not inside a reply
    with server.store.transaction():
        server.store.put(alice.acc, "Message", obj, k1=chat_id, k2=obj["senderMsgId"])
    out = await alice.request(
        [
            ["Core/echo", {"before": 1}, "0"],
            ["Message/get", {"accountId": alice.acc, "ids": [msg["id"]]}, "1"],
            ["Core/echo", {"after": 2}, "2"],
        ]
    )
    names = [r[0] for r in out["methodResponses"]]
    assert names == ["Core/echo", "error", "Core/echo"]
    assert out["methodResponses"][1][1]["type"] == "serverFail"
    assert out["methodResponses"][2][1] == {"after": 2}


@pytest.mark.parametrize(
    ("type", "create", "prop"),
    [
        ("ChatContact", None, "displayName"),
        ("Space", {"name": "n" * 1_000_000}, "name"),
        ("Space", {"name": "ok", "description": "d" * 100_000}, "description"),
        ("Chat", {"kind": "group", "name": "g" * 10_000, "memberIds": ["bob"]}, "name"),
        ("PresenceStatus", None, "statusText"),
    ],
)
async def test_string_caps(alice: Api, type: str, create: dict[str, Any] | None, prop: str) -> None:
    if create is not None:
        res = await alice.ok(f"{type}/set", {"create": {"x": create}})
        assert res["notCreated"]["x"]["type"] == "invalidProperties", res
        assert res["notCreated"]["x"]["properties"] == [prop]
        return
    ids = (await alice.ok(f"{type}/get", {"ids": None}))["list"]
    oid = ids[0]["id"]
    res = await alice.ok(f"{type}/set", {"update": {oid: {prop: "x" * 1_000_000}}})
    assert res["notUpdated"][oid]["type"] == "invalidProperties", res
    assert res["notUpdated"][oid]["properties"] == [prop]


async def test_push_url_cap(alice: Api) -> None:
    res = await alice.ok(
        "PushSubscription/set",
        {
            "create": {
                "p": {"deviceClientId": "d", "url": "https://push.example/" + "a" * 1_000_000}
            }
        },
    )
    assert res["notCreated"]["p"]["type"] == "invalidProperties"
    assert res["notCreated"]["p"]["properties"] == ["url"]


async def test_strings_at_the_cap_are_accepted(alice: Api) -> None:
    space = await alice.create("Space", {"name": "n" * 256, "description": "d" * 4096})
    assert space["id"]
