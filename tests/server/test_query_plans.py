"""Message/query answered by SQLite (`SqlPlan`: filter in SQL, order from the k3/k4
indexes) gives exactly what the reference path gives (every candidate loaded, filtered and
sorted in Python), for generated filters, sorts, positions, anchors and limits over a chat
with receivedAt and sentAt ties, tombstones, removed messages, replies, attachments,
mentions and bodies whose case folding is not ASCII."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jmapchat.server import ChatServer, serve_in_thread
from jmapchat.server._query import python_reference
from jmapchat.server._types.message import RICH, MessageType

from .conftest import USING

SENT = [
    "2025-01-01T00:00:00Z",
    "2025-01-01T02:00:00+02:00",  # the same instant as the first: a sentAt tie
    "2025-01-01T00:00:00.500Z",
    "2024-12-31T23:59:59Z",
    "2025-06-01T12:00:00Z",
]
BODIES = [
    "Hello World",
    "hello world",
    "STRASSE",
    "Straße",  # casefolds to "strasse"
    "\u212aelvin",  # KELVIN SIGN casefolds to "k"
    "\ufb01le",  # the "fi" ligature casefolds to "fi"
    'say "hi" \\ there',
    "café",
    "zzz",
    "",
]
NEEDLES = [
    "",
    "hello",
    "HELLO",
    "ss",
    "ß",
    "strasse",
    "k",
    "kelvin",
    "fi",
    "ﬁ",
    '"hi"',
    "\\",
    "É",
    "zz",
]


class Seeded:
    def __init__(self, server: ChatServer) -> None:
        self.server = server
        self.chats: dict[str, str] = {}  # user -> group chat id in that user's account
        self.direct: str = ""
        self.ids: dict[str, list[str]] = {}  # user -> message ids in the group chat
        self.roots: dict[str, list[str]] = {}
        self.received: list[str] = []
        self.states: dict[str, list[str]] = {}  # user -> old Message query states
        self.base = ""  # the server's URL over a loopback socket


def _handle(server: ChatServer, user: str, calls: list[list[Any]]) -> list[Any]:
    body = orjson.dumps({"using": USING, "methodCalls": calls})
    out: dict[str, Any] = server.engine.handle(user, body)
    responses: list[Any] = out["methodResponses"]
    return responses


def _ok(server: ChatServer, user: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    acc = server.account_ids[user]
    ((rname, rargs, _),) = _handle(server, user, [[name, {"accountId": acc, **args}, "c"]])
    assert rname == name, rargs
    out: dict[str, Any] = rargs
    return out


def _message(chat: str, i: int, **more: Any) -> dict[str, Any]:
    return {"chatId": chat, "body": BODIES[i % len(BODIES)], "sentAt": SENT[i % len(SENT)], **more}


def _seed(server: ChatServer, base: str) -> Seeded:
    s = Seeded(server)
    alice_acc = server.account_ids["alice"]
    with httpx.Client(base_url=base, timeout=60) as http:
        up = http.post(
            f"/jmap/upload/{alice_acc}/",
            content=b"attached",
            headers={
                "Authorization": f"Bearer {server.tokens['alice']}",
                "Content-Type": "text/plain",
            },
        )
        assert up.status_code == 201, up.text
        blob = up.json()["blobId"]
    group = _ok(
        server,
        "alice",
        "Chat/set",
        {"create": {"g": {"kind": "group", "name": "g", "memberIds": ["bob", "carol"]}}},
    )["created"]["g"]["id"]
    s.direct = _ok(
        server, "alice", "Chat/set", {"create": {"d": {"kind": "direct", "contactId": "bob"}}}
    )["created"]["d"]["id"]
    attach = [{"blobId": blob, "filename": "a.txt", "contentType": "text/plain"}]
    for user in ("alice", "bob", "carol"):
        s.states[user] = []
    counter = itertools.count()

    def batch(user: str, n: int, **more: Any) -> list[str]:
        create = {}
        for _ in range(n):
            i = next(counter)
            extra: dict[str, Any] = dict(more)
            if i % 4 == 1:
                extra["attachments"] = attach
            if i % 7 == 2:
                body = "@bob @carol hey"
                extra.update(
                    body=body,
                    mentions=[
                        {"id": "bob", "offset": 0, "length": 4},
                        {"id": "carol", "offset": 5, "length": 6},
                    ],
                )
            if i % 7 == 5:
                extra.update(
                    body="@alice look", mentions=[{"id": "alice", "offset": 0, "length": 6}]
                )
            create[f"m{i}"] = _message(group, i, **extra)
        for u in ("alice", "bob", "carol"):
            s.states[u].append(
                _ok(server, u, "Message/query", {"filter": {"chatId": group}})["queryState"]
            )
        res = _ok(server, user, "Message/set", {"create": create})
        assert not res["notCreated"], res["notCreated"]
        return [m["id"] for m in res["created"].values()]

    first = batch("alice", 9)  # one call: one receivedAt for all nine
    batch("bob", 6, replyTo=None)
    bob_view = _ok(server, "bob", "Message/query", {"filter": {"chatId": group}})["ids"]
    batch("bob", 3, replyTo=bob_view[0])  # a thread under alice's first message
    batch("carol", 5)
    rich = [
        '{"spans":[{"type":"mention","text":"@alice","userId":"alice"}]}',
        '{"spans":[{"type":"mention","text":"@alice","userId":"\\u0061lice"}]}',
        '{"spans":[{"type":"mention","text":"@bob","userId":"bob"}]}',
    ]
    for body in rich:
        create = {"r": {**_message(group, 0), "body": body, "bodyType": RICH}}
        res = _ok(server, "carol", "Message/set", {"create": create})
        assert "r" in res["created"], res
    for _ in range(4):
        batch("alice", 1)
    batch("alice", 3, burnOnRead=True)
    # deletes: a tombstone (destroy) and a delete for everyone stay as tombstones
    _ok(server, "alice", "Message/set", {"destroy": [first[1]]})
    _ok(
        server,
        "alice",
        "Message/set",
        {"update": {first[2]: {"deletedAt": "2025-01-02T00:00:00Z", "deletedForAll": True}}},
    )
    # burn-on-read: bob reads two of the burning messages, which leave his account
    bob_all = _ok(server, "bob", "Message/query", {"filter": {"chatId": group}})["ids"]
    burning = [
        m["id"]
        for m in _ok(server, "bob", "Message/get", {"ids": bob_all})["list"]
        if m.get("burnOnRead")
    ]
    assert len(burning) == 3
    _ok(
        server,
        "bob",
        "Message/set",
        {"update": {mid: {"readAt": "2030-01-01T00:00:00Z"} for mid in burning[:2]}},
    )
    # the chat's expiry policy re-stamps every stored copy (a rewrite of each row)
    res = _ok(server, "alice", "Chat/set", {"update": {group: {"messageExpirySeconds": 10**8}}})
    assert group in res["updated"], res
    batch("carol", 4)
    _ok(server, "alice", "Message/set", {"create": {"x": _message(s.direct, 0)}})
    for user in ("alice", "bob", "carol"):
        s.chats[user] = group
        ids = _ok(server, user, "Message/query", {"filter": {"chatId": group}})["ids"]
        s.ids[user] = ids
        got = _ok(server, user, "Message/get", {"ids": ids, "properties": ["receivedAt"]})
        s.received += [m["receivedAt"] for m in got["list"]]
        s.roots[user] = [ids[0], ids[3]]
    assert len(s.ids["alice"]) == 37
    assert len(s.ids["bob"]) == 35  # two burnt after reading
    return s


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    db = Path(tmp_path_factory.mktemp("plans")) / "q.sqlite"  # a file: WAL reader connections
    with (
        ChatServer(db=str(db), users=["alice", "bob", "carol"]) as server,
        serve_in_thread(server) as bind,
    ):
        base = bind if bind.startswith("http") else f"http://{bind}"
        s = _seed(server, base)
        s.base = base
        yield s


def _both(server: ChatServer, user: str, call: list[Any]) -> tuple[Any, Any]:
    fast = _handle(server, user, [call])
    with python_reference():
        slow = _handle(server, user, [call])
    return fast, slow


# --- strategies -----------------------------------------------------------------------


def _leaves(s: Seeded, user: str) -> st.SearchStrategy[dict[str, Any]]:
    when = st.sampled_from(
        [*s.received, "2025-01-01T00:00:00Z", "garbage", "2099-01-01T00:00:00+05:00"]
    )
    return st.one_of(
        st.builds(lambda v: {"text": v}, st.sampled_from(NEEDLES)),
        st.builds(
            lambda v: {"senderId": v}, st.sampled_from(["self", "alice", "bob", "carol", "x"])
        ),
        st.builds(
            lambda v: {"threadRootId": v},
            st.sampled_from([*s.roots[user], s.ids[user][-1], "NOPE"]),
        ),
        st.builds(lambda v: {"hasAttachment": v}, st.booleans()),
        st.builds(lambda v: {"hasMention": v}, st.booleans()),
        st.builds(lambda v: {"after": v}, when),
        st.builds(lambda v: {"before": v}, when),
        st.builds(lambda v: {"chatId": v}, st.sampled_from([s.chats[user], s.direct])),
        st.builds(
            lambda a, b: {**a, **b},
            st.builds(lambda v: {"senderId": v}, st.sampled_from(["self", "bob", "carol"])),
            st.builds(lambda v: {"text": v}, st.sampled_from(NEEDLES)),
        ),
    )


def _trees(s: Seeded, user: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        _leaves(s, user),
        lambda inner: st.builds(
            lambda op, conds: {"operator": op, "conditions": conds},
            st.sampled_from(["AND", "OR", "NOT"]),
            st.lists(inner, max_size=3),
        ),
        max_leaves=5,
    )


def _filters(s: Seeded, user: str) -> st.SearchStrategy[dict[str, Any]]:
    chat = {"chatId": s.chats[user]}
    mention = {"hasMention": True}  # no chatId: every visible chat
    return st.one_of(
        st.just(chat),
        st.just(mention),
        st.builds(lambda t: {"operator": "AND", "conditions": [mention, t]}, _trees(s, user)),
        st.builds(lambda t: {"operator": "AND", "conditions": [chat, t]}, _trees(s, user)),
        st.builds(lambda leaf: {**leaf, **chat}, _leaves(s, user)),
        st.builds(
            lambda t: {
                "operator": "AND",
                "conditions": [{"operator": "AND", "conditions": [t, chat]}],
            },
            _trees(s, user),
        ),
    )


_comparators = st.builds(
    lambda prop, asc, coll: {
        "property": prop,
        **({} if asc is None else {"isAscending": asc}),
        **({} if coll is None else {"collation": coll}),
    },
    st.sampled_from(["receivedAt", "sentAt", "id"]),
    st.one_of(st.none(), st.booleans()),
    st.sampled_from([None, "i;unicode-casemap", "i;ascii-casemap", "i;octet", "i;ascii-numeric"]),
)


@st.composite
def _queries(draw: st.DrawFn, s: Seeded) -> tuple[str, dict[str, Any]]:
    user = draw(st.sampled_from(["alice", "bob"]))
    args: dict[str, Any] = {"accountId": s.server.account_ids[user]}
    args["filter"] = draw(_filters(s, user))
    sort = draw(st.one_of(st.none(), st.just([]), st.lists(_comparators, min_size=1, max_size=3)))
    if sort is not None:
        args["sort"] = sort
    if draw(st.booleans()):
        args["anchor"] = draw(st.sampled_from([*s.ids[user], "NOPE"]))
        if draw(st.booleans()):
            args["anchorOffset"] = draw(st.integers(-40, 40))
    elif draw(st.booleans()):
        args["position"] = draw(st.integers(-35, 35))
    limit = draw(st.one_of(st.none(), st.integers(0, 40)))
    if limit is not None:
        args["limit"] = limit
    args["calculateTotal"] = draw(st.booleans())
    return user, args


# --- tests ----------------------------------------------------------------------------


def _settings(examples: int) -> Any:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        derandomize=True,
    )


def test_the_seeded_chat_has_ties_tombstones_and_removals(seeded: Seeded) -> None:
    server = seeded.server
    got = _ok(server, "alice", "Message/get", {"ids": seeded.ids["alice"]})["list"]
    received = [m["receivedAt"] for m in got]
    assert len(set(received)) < len(received) - 5  # whole batches share a receivedAt
    assert sum(1 for m in got if m.get("deletedAt")) == 2
    sent = {m["sentAt"] for m in got}
    assert {"2025-01-01T00:00:00Z", "2025-01-01T02:00:00+02:00"} <= sent  # one instant


@_settings(120)
@given(data=st.data())
def test_sql_plans_match_the_python_reference(seeded: Seeded, data: st.DataObject) -> None:
    user, args = data.draw(_queries(seeded))
    call = ["Message/query", args, "q"]
    fast, slow = _both(seeded.server, user, call)
    assert fast == slow, (args, fast, slow)


@_settings(40)
@given(data=st.data())
def test_query_changes_match_the_python_reference(seeded: Seeded, data: st.DataObject) -> None:
    user = data.draw(st.sampled_from(["alice", "bob"]))
    args: dict[str, Any] = {
        "accountId": seeded.server.account_ids[user],
        "filter": data.draw(_filters(seeded, user)),
        "sinceQueryState": data.draw(st.sampled_from(seeded.states[user])),
        "calculateTotal": True,
    }
    sort = data.draw(st.one_of(st.none(), st.lists(_comparators, min_size=1, max_size=2)))
    if sort is not None:
        args["sort"] = sort
    fast, slow = _both(seeded.server, user, ["Message/queryChanges", args, "q"])
    assert fast == slow, (args, fast, slow)


@pytest.mark.parametrize(
    ("filter_", "sort"),
    [
        ({}, None),
        ({}, [{"property": "sentAt", "isAscending": False}]),
        ({}, [{"property": "sentAt"}]),
        ({}, [{"property": "receivedAt", "isAscending": False}]),
        ({}, [{"property": "id", "isAscending": False}]),
        ({"senderId": "bob"}, None),
        ({"after": "2025-01-01T00:00:00Z", "before": "2099-01-01T00:00:00Z"}, None),
        ({"hasAttachment": True}, [{"property": "sentAt"}]),
    ],
)
def test_common_queries_run_entirely_in_sql(
    monkeypatch: pytest.MonkeyPatch, seeded: Seeded, filter_: dict[str, Any], sort: Any
) -> None:
    """No residual: SQL filters, orders and windows; Python never sees a message."""
    server = seeded.server
    plans: list[Any] = []
    original = MessageType.query_plan

    def spy(self: MessageType, ctx: Any, flt: Any, spec: Any) -> Any:
        plan = original(self, ctx, flt, spec)
        plans.append(plan)
        return plan

    args: dict[str, Any] = {
        "filter": {"chatId": seeded.chats["alice"], **filter_},
        "position": -3,
        "limit": 2,
        "calculateTotal": True,
    }
    if sort is not None:
        args["sort"] = sort
    monkeypatch.setattr(MessageType, "query_plan", spy)
    fast = _ok(server, "alice", "Message/query", args)
    assert plans
    assert plans[0] is not None
    assert not plans[0].residual
    with python_reference():
        slow = _ok(server, "alice", "Message/query", args)
    assert fast == slow
    assert len(fast["ids"]) == min(2, fast["total"])


@pytest.mark.parametrize(
    "sort",
    [
        None,
        [{"property": "sentAt", "isAscending": False}],
        [{"property": "id"}],
        [{"property": "receivedAt", "isAscending": False}],
    ],
)
def test_anchored_windows_match_the_reference(seeded: Seeded, sort: Any) -> None:
    """Windows read outwards from the anchor's place: every anchor offset and limit
    around the first, a middle and the last message, with and without a total."""
    server = seeded.server
    acc = server.account_ids["alice"]
    ids = seeded.ids["alice"]
    for anchor, offset, limit, total in itertools.product(
        (ids[0], ids[len(ids) // 2], ids[-1]), (-40, -3, -1, 0, 2, 40), (None, 0, 1, 5), (0, 1)
    ):
        args: dict[str, Any] = {
            "accountId": acc,
            "filter": {"chatId": seeded.chats["alice"]},
            "anchor": anchor,
            "anchorOffset": offset,
            "calculateTotal": bool(total),
        }
        if sort is not None:
            args["sort"] = sort
        if limit is not None:
            args["limit"] = limit
        fast, slow = _both(server, "alice", ["Message/query", args, "q"])
        assert fast == slow, args


def test_text_search_narrows_in_sql_and_checks_the_rest_in_python(seeded: Seeded) -> None:
    """``text`` is decided in SQL for ASCII rows; "ss" still finds "Straße" (Python's
    casefold on the non-ASCII row), and "k" finds the Kelvin sign."""
    server = seeded.server
    chat = seeded.chats["alice"]
    for needle, body in (("ss", "Straße"), ("k", "\u212aelvin"), ("fi", "\ufb01le")):
        ids = _ok(server, "alice", "Message/query", {"filter": {"chatId": chat, "text": needle}})[
            "ids"
        ]
        bodies = {m["body"] for m in _ok(server, "alice", "Message/get", {"ids": ids})["list"]}
        assert body in bodies, (needle, bodies)


def test_mentions_across_chats_include_rich_bodies(seeded: Seeded) -> None:
    """``hasMention: true`` alone spans alice's chats; SQL narrows on the stored bytes and
    leaves rich bodies to Python, so an escaped ``userId`` (``\u0061lice``) still counts."""
    server = seeded.server
    found = _ok(server, "alice", "Message/query", {"filter": {"hasMention": True}})["ids"]
    got = _ok(server, "alice", "Message/get", {"ids": found})["list"]
    rich = [m["body"] for m in got if m["bodyType"] == RICH]
    assert len(rich) == 2
    assert any("\\u0061lice" in body for body in rich)
    assert all(m["bodyType"] == RICH or m["mentions"] for m in got)
    with python_reference():
        assert (
            _ok(server, "alice", "Message/query", {"filter": {"hasMention": True}})["ids"] == found
        )


def test_errors_are_the_same_on_both_paths(seeded: Seeded) -> None:
    server = seeded.server
    acc = server.account_ids["alice"]
    chat = seeded.chats["alice"]
    for args, error in (
        ({"filter": {"chatId": chat}, "anchor": "NOPE"}, "anchorNotFound"),
        (
            {"filter": {"chatId": chat, "senderId": "bob"}, "anchor": seeded.ids["alice"][0]},
            "anchorNotFound",
        ),
        ({"filter": {"chatId": chat}, "sort": [{"property": "body"}]}, "unsupportedSort"),
        ({"filter": {"text": "x"}}, "unsupportedFilter"),
        ({"filter": {"chatId": chat, "nope": 1}}, "unsupportedFilter"),
    ):
        fast, slow = _both(server, "alice", ["Message/query", {"accountId": acc, **args}, "q"])
        assert fast == slow
        assert fast[0][0] == "error", fast
        assert fast[0][1]["type"] == error, fast


def test_pages_over_a_real_socket_match_the_reference(seeded: Seeded) -> None:
    """The same comparison through hypercorn and HTTP, paging newest-first by sentAt."""
    server = seeded.server
    acc = server.account_ids["alice"]
    base = seeded.base
    headers = {"Authorization": f"Bearer {server.tokens['alice']}"}
    sort = [{"property": "sentAt", "isAscending": False}]
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:

        def page(position: int) -> dict[str, Any]:
            args = {
                "accountId": acc,
                "filter": {"chatId": seeded.chats["alice"]},
                "sort": sort,
                "position": position,
                "limit": 7,
                "calculateTotal": True,
            }
            r = http.post(
                "/jmap/api/", json={"using": USING, "methodCalls": [["Message/query", args, "q"]]}
            )
            assert r.status_code == 200, r.text
            out: dict[str, Any] = r.json()["methodResponses"][0][1]
            return out

        pages = [page(p) for p in range(0, 42, 7)]
        with python_reference():
            reference = [page(p) for p in range(0, 42, 7)]
    assert pages == reference
    ids = [i for p in pages for i in p["ids"]]
    assert sorted(ids) == sorted(seeded.ids["alice"])  # every message once
