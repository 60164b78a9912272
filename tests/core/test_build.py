"""Building envelopes: ids, using, references, creation ids, determinism, snapshots."""

from __future__ import annotations

import json
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from jmapchat._core import NOT_GIVEN, Comparator, FilterOperator
from jmapchat._core._capabilities import CHAT, CORE

from ._ns import MsgCreate, MsgFilter, MsgUpdate, Req


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.with_defaults(extension_class=JSONSnapshotExtension)


def envelope(req: Req) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(req.build())
    return out


def test_query_then_get_by_reference(snapshot_json: SnapshotAssertion) -> None:
    req = Req(account_id="A1")
    q = req.msg.query(filter=MsgFilter(chat_id="C1"), limit=50)
    g = req.msg.get(ids=q.ids, properties=["id", "body", "senderId"])
    env = envelope(req)
    assert env["using"] == [CORE, CHAT]
    assert env["methodCalls"][1] == [
        "Message/get",
        {
            "accountId": "A1",
            "#ids": {"resultOf": "c0", "name": "Message/query", "path": "/ids"},
            "properties": ["id", "body", "senderId"],
        },
        "c1",
    ]
    assert g.id == "c1"
    assert env == snapshot_json


def test_set_then_changes_with_creation_ids(snapshot_json: SnapshotAssertion) -> None:
    req = Req(account_id="A1")
    s = req.msg.set(
        create={
            "m1": MsgCreate(chat_id="C1", body="hi"),
            "m2": MsgCreate(chat_id="C1", body="re", reply_to=NOT_GIVEN),
        },
        if_in_state="s0",
    )
    req.msg.set(
        update={s.created_id("m1"): MsgUpdate(body="edited")},
        destroy=[s.created_id("m2")],
    )
    req.msg.set(create={"m3": MsgCreate(chat_id="C1", body="x", reply_to=s.created_id("m1"))})
    req.msg.changes(since_state="s0", max_changes=100)
    env = envelope(req)
    calls = env["methodCalls"]
    assert calls[0][1]["create"]["m1"] == {"chatId": "C1", "body": "hi", "bodyType": "text/plain"}
    assert calls[0][1]["ifInState"] == "s0"
    assert calls[1][1]["update"] == {"#m1": {"body": "edited"}}
    assert calls[1][1]["destroy"] == ["#m2"]
    assert calls[2][1]["create"]["m3"]["replyTo"] == "#m1"
    assert calls[3] == [
        "Message/changes",
        {"accountId": "A1", "sinceState": "s0", "maxChanges": 100},
        "c3",
    ]
    assert env == snapshot_json


def test_list_each_reference_and_flattening_path() -> None:
    req = Req(account_id="A1")
    g = req.msg.get(ids=["m1", "m2"], properties=["chatId", "memberIds"])
    g2 = req.msg.get(ids=g.list.each.chat_id)
    g3 = req.msg.get(ids=g.list.each.member_ids)
    calls = envelope(req)["methodCalls"]
    assert calls[1][1]["#ids"]["path"] == "/list/*/chatId"
    assert calls[2][1]["#ids"]["path"] == "/list/*/memberIds"
    assert g2.args["ids"].tokens == ("list", "*", "chatId")
    assert g3.method == "Message/get"


def test_changes_created_updated_refs() -> None:
    req = Req(account_id="A1")
    chg = req.msg.changes(since_state="s1")
    req.msg.get(ids=chg.created)
    req.msg.get(ids=chg.updated)
    calls = envelope(req)["methodCalls"]
    assert [c[1]["#ids"]["path"] for c in calls[1:]] == ["/created", "/updated"]


def test_escape_hatch_ref_is_validated() -> None:
    req = Req(account_id="A1")
    s = req.msg.set(create={"k": MsgCreate(chat_id="C", body="b")})
    r = s.ref("/created/k/id")
    req.msg.get(ids=[], properties=None)
    assert r.path == "/created/k/id"
    assert s.created_ref("k").id.path == "/created/k/id"


def test_user_chosen_call_ids_and_auto_ids_skip_them() -> None:
    req = Req(account_id="A1")
    a = req.msg.query(call_id="c1")
    b = req.msg.query()
    c = req.msg.query()
    assert [a.id, b.id, c.id] == ["c1", "c0", "c2"]


def test_account_id_per_call_and_late_binding() -> None:
    req = Req()
    req.msg.query(account_id="other")
    req.msg.query()
    req.account_id = "late"
    calls = envelope(req)["methodCalls"]
    assert [c[1]["accountId"] for c in calls] == ["other", "late"]


def test_filter_operator_and_sort_serialize() -> None:
    req = Req(account_id="A1")
    req.msg.query(
        filter=FilterOperator(
            operator="OR", conditions=[MsgFilter(chat_id="a"), MsgFilter(has_mention=True)]
        ),
        sort=[Comparator(property="receivedAt", is_ascending=False)],
        calculate_total=True,
    )
    args = envelope(req)["methodCalls"][0][1]
    assert args["filter"] == {
        "operator": "OR",
        "conditions": [{"chatId": "a"}, {"hasMention": True}],
    }
    assert args["sort"] == [{"property": "receivedAt", "isAscending": False}]
    assert args["calculateTotal"] is True


def test_null_versus_absent_in_patches() -> None:
    req = Req(account_id="A1")
    req.msg.set(update={"m1": MsgUpdate(read_at=None), "m2": MsgUpdate()})
    assert envelope(req)["methodCalls"][0][1]["update"] == {"m1": {"readAt": None}, "m2": {}}


def test_build_is_byte_for_byte_deterministic() -> None:
    def make() -> bytes:
        req = Req(account_id="A1")
        s = req.msg.set(create={"x": MsgCreate(chat_id="C", body="héllo 👋", body_type="t")})
        q = req.msg.query(filter=MsgFilter(chat_id=s.created_id("x")))
        req.msg.get(ids=q.ids)
        return req.build()

    first = make()
    assert first == make()
    assert "héllo 👋".encode() in first  # UTF-8, not \\u escapes
    assert b" " not in first.replace("héllo 👋".encode(), b"")  # compact


def test_created_ids_are_forwarded() -> None:
    req = Req(account_id="A1", created_ids={"m0": "M123"})
    req.msg.query()
    assert envelope(req)["createdIds"] == {"m0": "M123"}


def test_echo_and_explicit_using() -> None:
    req = Req(using=["urn:example:vendor"])
    e = req.core.echo({"ping": [1, 2]})
    env = envelope(req)
    assert env["using"] == [CORE, "urn:example:vendor"]
    assert env["methodCalls"] == [["Core/echo", {"ping": [1, 2]}, "c0"]]
    assert e.method == "Core/echo"


def test_invoke_any_method_with_custom_using() -> None:
    from jmapchat._core import EchoResponse

    req = Req(account_id="A1")
    call = req.invoke("Foo/bar", {"x": 1}, using=["urn:example:foo"], response=EchoResponse)
    req.invoke(
        "Foo/baz",
        {"#y": {"resultOf": call.id, "name": "Foo/bar", "path": "/x"}},
        response=EchoResponse,
    )
    env = envelope(req)
    assert "urn:example:foo" in env["using"]
    assert env["methodCalls"][1][1] == {"#y": {"resultOf": "c0", "name": "Foo/bar", "path": "/x"}}


def test_explain_shows_calls_refs_creations_and_using() -> None:
    req = Req(account_id="A1")
    s = req.msg.set(create={"m1": MsgCreate(chat_id="C", body="b")})
    q = req.msg.query(filter=MsgFilter(chat_id=s.created_id("m1")))
    req.msg.get(ids=q.ids)
    text = req.explain()
    assert "c0  Message/set" in text
    assert "creates: m1" in text
    assert "#m1 <- created by c0 (Message/set)" in text
    assert "#ids <- c1 (Message/query) /ids" in text
    assert f"using: {CORE}, {CHAT}" in text
    assert "(at filter.chat_id)" in text  # paths as the docs write them


def test_explain_abbreviates_many_creation_keys() -> None:
    req = Req(account_id="A1")
    s = req.msg.set(create={"c": MsgCreate(chat_id="C", body="b")})
    req.msg.set(
        create={f"m{i}": MsgCreate(chat_id=s.created_id("c"), body="b") for i in range(10_000)}
    )
    text = req.explain()
    assert "creates: m0 … m9999 (10,000 creates)" in text
    assert "#c <- created by c0 (Message/set) (at create.m0.chat_id and 9,999 more)" in text
    assert max(len(line) for line in text.splitlines()) < 120
    small = Req(account_id="A1")
    small.msg.set(create={f"k{i}": MsgCreate(chat_id="C", body="b") for i in range(8)})
    assert "creates: k0, k1, k2, k3, k4, k5, k6, k7" in small.explain()
