"""The namespaces offer exactly the spec's operations, declare the right capabilities,
and their calls parse typed results."""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest

from jmapchat import Request, Response, SetErrors
from jmapchat._core._capabilities import BLOB, CHAT_PUSH, CORE
from jmapchat.models import (
    ChatPushConfig,
    ChatTypingResponse,
    Message,
    MessageFilter,
    PushSubscriptionUpdate,
    SpaceJoinResponse,
)

STANDARD = {"get", "changes", "set", "query", "query_changes", "comparator"}

SURFACE: dict[str, set[str]] = {
    "chat_contact": STANDARD,
    "chat": STANDARD | {"typing", "open_direct"},
    "message": STANDARD | {"send", "react", "unreact", "edit", "mark_read", "delete"},
    "space": STANDARD | {"join"},
    "space_invite": {"get", "changes", "set"},
    "custom_emoji": STANDARD,
    "space_ban": {"get", "changes", "set"},
    "read_position": {"get", "changes", "set", "set_last_read"},
    "presence_status": {"get", "changes", "set"},
    "push_subscription": {"get", "set"},
    "quota": {"get", "changes", "query", "query_changes", "comparator"},
    "blob": {"lookup", "convert", "upload", "get", "copy"},
    "core": {"echo"},
}

# Which /set arguments each type takes (forbidden operations are simply absent).
SET_ARGS: dict[str, set[str]] = {
    "chat_contact": {"update"},
    "chat": {"create", "update", "destroy"},
    "message": {"create", "update", "destroy"},
    "space": {"create", "update", "destroy"},
    "space_invite": {"create", "destroy"},
    "custom_emoji": {"create", "update", "destroy"},
    "space_ban": {"create", "update", "destroy"},
    "read_position": {"update"},
    "presence_status": {"update"},
    "push_subscription": {"create", "update", "destroy"},
}


def public_methods(obj: object) -> set[str]:
    return {
        name
        for name, value in inspect.getmembers(obj, callable)
        if not name.startswith("_") and inspect.ismethod(value)
    }


@pytest.mark.parametrize("namespace", sorted(SURFACE))
def test_namespace_offers_exactly_the_allowed_methods(namespace: str) -> None:
    ns = getattr(Request(account_id="A1"), namespace)
    assert public_methods(ns) == SURFACE[namespace]


@pytest.mark.parametrize("namespace", sorted(SET_ARGS))
def test_set_takes_only_the_allowed_operations(namespace: str) -> None:
    ns = getattr(Request(account_id="A1"), namespace)
    params = set(inspect.signature(ns.set).parameters)
    assert params & {"create", "update", "destroy"} == SET_ARGS[namespace]


def test_forbidden_operations_fail_at_run_time_too() -> None:
    req: Any = Request(account_id="A1")
    with pytest.raises(TypeError):
        req.chat_contact.set(create={"x": {}})
    with pytest.raises(TypeError):
        req.space_invite.set(update={"I1": {}})
    with pytest.raises(TypeError):
        req.read_position.set(destroy=["RP1"])
    with pytest.raises(AttributeError):
        req.space_ban.query()
    with pytest.raises(AttributeError):
        req.push_subscription.changes("s")
    assert len(req) == 0


def test_namespaces_are_cached_per_request() -> None:
    req = Request(account_id="A1")
    assert req.message is req.message
    assert req.message is not Request(account_id="A1").message
    assert repr(req.space_ban) == "<SpaceBan methods>"


def test_push_capability_only_when_chat_push_is_used() -> None:
    req = Request()
    req.push_subscription.get(properties=["id", "types"])
    req.push_subscription.set(update={"PS1": PushSubscriptionUpdate(types=["Message"])})
    assert req.using == [CORE]
    req.push_subscription.get(properties=["id", "chatPush"])
    assert req.calls[-1].using == {CORE, CHAT_PUSH}
    req2 = Request()
    req2.push_subscription.set(update={"PS1": {"chatPush": None}})
    assert req2.using == [CORE, CHAT_PUSH]
    req3 = Request()
    req3.push_subscription.set(
        update={"PS1": PushSubscriptionUpdate(chat_push={"A1": ChatPushConfig(urgency="low")})}
    )
    assert req3.using == [CORE, CHAT_PUSH]
    assert "accountId" not in req3.to_dict()["methodCalls"][0][1]


def test_blob_lookup_can_declare_the_rfc9404_capability() -> None:
    req = Request(account_id="A1")
    req.blob.lookup(["B1"], capability=BLOB)
    assert req.using == [CORE, BLOB]


def test_mixed_request_using_is_the_union() -> None:
    req = Request(account_id="A1")
    req.message.query(filter=MessageFilter(has_mention=True))
    req.quota.get(None)
    req.blob.lookup(["B1"])
    assert req.using == [
        CORE,
        "urn:ietf:params:jmap:blob2",
        "urn:ietf:params:jmap:chat",
        "urn:ietf:params:jmap:quota",
    ]


def reply(*responses: list[Any]) -> bytes:
    return json.dumps({"methodResponses": list(responses), "sessionState": "S"}).encode()


def test_results_parse_typed() -> None:
    req = Request(account_id="A1")
    g = req.message.get(["M1"], properties=["id", "body"])
    t = req.chat.typing("C1")
    j = req.space.join(invite_code="abc")
    p = req.push_subscription.get()
    ps = req.push_subscription.set(destroy=["PS1"])
    lk = req.blob.lookup(["B1"])
    cv = req.blob.convert("B1", "image/webp", creation_id="t")
    sent = req.message.send("C1", "hi", creation_id="m1")
    body = reply(
        [
            "Message/get",
            {"accountId": "A1", "state": "s", "list": [{"id": "M1", "body": "x"}], "notFound": []},
            g.id,
        ],
        ["Chat/typing", {"accountId": "A1"}, t.id],
        ["Space/join", {"accountId": "A1", "spaceId": "S1"}, j.id],
        [
            "PushSubscription/get",
            {"list": [{"id": "PS1", "deviceClientId": "d"}], "notFound": []},
            p.id,
        ],
        [
            "PushSubscription/set",
            {"destroyed": [], "notDestroyed": {"PS1": {"type": "notFound"}}},
            ps.id,
        ],
        [
            "Blob/lookup",
            {"accountId": "A1", "list": [{"id": "B1", "matchedIds": {"Message": ["M1"]}}]},
            lk.id,
        ],
        [
            "Blob/convert",
            {"accountId": "A1", "created": {"t": {"id": "B2", "type": "image/webp", "size": 9}}},
            cv.id,
        ],
        [
            "Message/set",
            {"accountId": "A1", "newState": "s2", "created": {"m1": {"id": "M9"}}},
            sent.id,
        ],
    )
    resp = Response.parse(req, body)
    assert isinstance(resp[g].list[0], Message)
    assert resp[g].list[0].body == "x"
    assert isinstance(t.result, ChatTypingResponse)
    assert isinstance(j.result, SpaceJoinResponse)
    assert j.result.space_id == "S1"
    assert p.result.list[0].device_client_id == "d"
    assert ps.result.errors["PS1"].type == "notFound"
    with pytest.raises(SetErrors, match="1 object"):
        ps.result.raise_for_errors()
    assert lk.result.list[0].matched_ids == {"Message": ["M1"]}
    created = cv.result.created
    assert created is not None
    assert created["t"].id == "B2"
    assert sent.result.created is not None
    assert sent.result.created[sent.creation_key].id == "M9"
