"""A syrupy JSON snapshot of the built envelope for every method of the spec's table."""

from __future__ import annotations

import json
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from jmapchat import Request
from jmapchat.models import MessageFilter, MessageText, seeded_ids

from ._cases import CHAT_USING, SPEC_CASES, SPEC_METHODS, T0, VARIANT_CASES, Builder


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.with_defaults(extension_class=JSONSnapshotExtension)


def _id(name: str) -> str:
    """Snapshot files are named after test ids: no slashes or spaces."""
    return name.replace("/", ".").replace(" ", "_")


def build(builder: Builder) -> tuple[dict[str, Any], str]:
    with seeded_ids(7):
        req = Request(account_id="A1")
        call = builder(req)
    env: dict[str, Any] = json.loads(req.build())
    return env, call.method


def test_every_spec_method_has_a_case() -> None:
    methods = [m for m, _, _ in SPEC_CASES]
    assert len(methods) == len(set(methods))
    assert set(methods) == SPEC_METHODS


@pytest.mark.parametrize(
    ("method", "builder", "using"), SPEC_CASES, ids=[_id(c[0]) for c in SPEC_CASES]
)
def test_envelope(
    method: str, builder: Builder, using: list[str], snapshot_json: SnapshotAssertion
) -> None:
    env, called = build(builder)
    assert called == method
    assert env["methodCalls"][-1][0] == method
    assert env["using"] == using
    assert env == snapshot_json


@pytest.mark.parametrize(
    ("name", "builder", "using"), VARIANT_CASES, ids=[_id(c[0]) for c in VARIANT_CASES]
)
def test_variant_envelope(
    name: str, builder: Builder, using: list[str], snapshot_json: SnapshotAssertion
) -> None:
    env, _ = build(builder)
    assert env["using"] == using
    assert env == snapshot_json


def test_envelopes_are_deterministic() -> None:
    for _, builder, _ in [*SPEC_CASES, *VARIANT_CASES]:
        assert build(builder) == build(builder)


def test_query_then_get_chain(snapshot_json: SnapshotAssertion) -> None:
    """The everyday batch: new messages of a chat, their senders, one round trip."""
    req = Request(account_id="A1")
    q = req.message.query(filter=MessageFilter(chat_id="C1"), limit=20)
    g = req.message.get(q.ids, properties=["id", "senderId", "body"])
    req.chat_contact.get(g.list.each.sender_id, properties=["id", "displayName", "login"])
    rp = req.read_position.get(None)
    env = json.loads(req.build())
    assert env["using"] == CHAT_USING
    assert env["methodCalls"][2][1]["#ids"]["path"] == "/list/*/senderId"
    assert rp.method == "ReadPosition/get"
    assert env == snapshot_json


def test_conveniences(snapshot_json: SnapshotAssertion) -> None:
    """send/react/unreact/edit/mark_read/delete/set_last_read: one Message/set each."""
    with seeded_ids(3):
        req = Request(account_id="A1")
        sent = req.message.send(
            "C1", MessageText().text("hi ").mention("@bøb", id="bob"), sent_at=T0
        )
        reply = req.message.send("C1", "re", reply_to=sent.message_id, sent_at=T0)
        reacted = req.message.react(sent.message_id, "🎉", sent_at=T0)
        req.message.unreact("M7", "01JOLDREACTION000000000000")
        req.message.edit("M8", "fixed typo")
        req.message.mark_read(["M1", "M2"], read_at=T0, disposition="displayed")
        req.message.delete(["M3"], for_all=True, deleted_at=T0)
        req.message.delete(["M4"], deleted_at=T0)
        req.read_position.set_last_read("RP1", reply.message_id)
    env = json.loads(req.build())
    calls = env["methodCalls"]
    assert all(c[0] in ("Message/set", "ReadPosition/set") for c in calls)
    key = sent.creation_key
    assert calls[0][1]["create"][key]["mentions"] == [{"id": "bob", "offset": 3, "length": 5}]
    assert calls[1][1]["create"][reply.creation_key]["replyTo"] == f"#{key}"
    assert calls[2][1]["update"] == {
        f"#{key}": {f"reactions/{reacted.reaction_id}": {"emoji": "🎉", "sentAt": T0}}
    }
    assert calls[3][1]["update"] == {"M7": {"reactions/01JOLDREACTION000000000000": None}}
    assert calls[4][1]["update"] == {
        "M8": {"body": "fixed typo", "mentions": [], "broadcastMentions": []}
    }
    assert calls[6][1]["update"] == {"M3": {"deletedAt": T0, "deletedForAll": True}}
    assert calls[7][1]["update"] == {"M4": {"deletedAt": T0}}
    assert calls[8][1]["update"] == {"RP1": {"lastReadMessageId": f"#{reply.creation_key}"}}
    assert sent.created.id.path == f"/created/{key}/id"
    assert env == snapshot_json


def test_send_uses_the_default_id_generator() -> None:
    with seeded_ids(11) as gen:
        expected = gen.__class__(11).creation_id()
        req = Request(account_id="A1")
        sent = req.message.send("C1", "x")
    assert sent.creation_key == expected
    assert len(sent.creation_key) == 26


def test_defaults_fill_dates_with_now() -> None:
    req = Request(account_id="A1")
    req.message.mark_read(["M1"])
    read_at = req.calls[0].args["update"]["M1"].read_at
    assert read_at.endswith("Z")
    assert len(read_at) == 20
