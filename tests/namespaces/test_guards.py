"""Guards before I/O: mistakes raise LocalProtocolError (or ValueError from the input
models) and leave the request untouched."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from jmapchat import LocalProtocolError, Request
from jmapchat._core import FilterOperator
from jmapchat.models import (
    CategoryAdd,
    ChannelAdd,
    ChatCreate,
    ChatUpdate,
    MessageFilter,
    SpaceCreate,
    SpaceJoin,
    SpaceRoleAdd,
    SpaceUpdate,
)

Action = Callable[[Request], Any]


def assert_refused(action: Action, match: str) -> None:
    req = Request(account_id="A1")
    req.core.echo({"before": True})
    with pytest.raises(LocalProtocolError, match=match):
        action(req)
    assert len(req) == 1, "a refused call must not be added"
    assert req.to_dict()["methodCalls"] == [["Core/echo", {"before": True}, "c0"]]


# --- empty destroy -----------------------------------------------------------------------

EMPTY_DESTROY: list[tuple[str, Action]] = [
    ("Chat", lambda r: r.chat.set(destroy=[])),
    ("Message", lambda r: r.message.set(destroy=[])),
    ("Space", lambda r: r.space.set(destroy=())),
    ("SpaceInvite", lambda r: r.space_invite.set(destroy=[])),
    ("CustomEmoji", lambda r: r.custom_emoji.set(destroy=[])),
    ("SpaceBan", lambda r: r.space_ban.set(destroy=[])),
    ("PushSubscription", lambda r: r.push_subscription.set(destroy=[])),
]


@pytest.mark.parametrize(("type_name", "action"), EMPTY_DESTROY, ids=[c[0] for c in EMPTY_DESTROY])
def test_empty_destroy_is_refused(type_name: str, action: Action) -> None:
    assert_refused(action, rf"{type_name}/set: destroy=\[\]")


def test_bad_destroy_items_and_update_keys_are_refused() -> None:
    assert_refused(lambda r: r.message.set(destroy=["M1", ""]), "invalid id ''")
    assert_refused(lambda r: r.chat.set(update={"": ChatUpdate(muted=True)}), "update keys")
    assert_refused(lambda r: r.push_subscription.set(update={"": {}}), "update keys")


def test_destroy_by_reference_is_fine() -> None:
    req = Request(account_id="A1")
    q = req.message.query(filter=MessageFilter(chat_id="C1"))
    req.message.set(destroy=q.ids)
    assert len(req) == 2


# --- Message/query scoping -----------------------------------------------------------------

UNSCOPED: list[tuple[str, Any]] = [
    ("no filter", None),
    ("text only", MessageFilter(text="hello")),
    ("hasMention false", MessageFilter(has_mention=False)),
    (
        "OR",
        FilterOperator(
            operator="OR", conditions=[MessageFilter(chat_id="C1"), MessageFilter(text="x")]
        ),
    ),
    ("NOT", FilterOperator(operator="NOT", conditions=[MessageFilter(chat_id="C1")])),
    ("AND without chat", FilterOperator(operator="AND", conditions=[MessageFilter(text="x")])),
    ("raw dict", {"text": "x"}),
]

SCOPED: list[tuple[str, Any]] = [
    ("chatId", MessageFilter(chat_id="C1")),
    ("hasMention", MessageFilter(has_mention=True)),
    (
        "AND",
        FilterOperator(
            operator="AND", conditions=[MessageFilter(text="x"), MessageFilter(chat_id="C1")]
        ),
    ),
    (
        "nested AND",
        FilterOperator(
            operator="AND",
            conditions=[FilterOperator(operator="AND", conditions=[{"hasMention": True}])],
        ),
    ),
    (
        "AND of raw dicts",
        FilterOperator(operator="AND", conditions=[{"chatId": "C1"}, {"text": "x"}]),
    ),
]


@pytest.mark.parametrize(("name", "flt"), UNSCOPED, ids=[c[0] for c in UNSCOPED])
def test_unscoped_message_query_is_refused(name: str, flt: Any) -> None:
    kwargs = {} if flt is None else {"filter": flt}
    assert_refused(lambda r: r.message.query(**kwargs), r"Message/query: the filter needs chat_id")
    assert_refused(
        lambda r: r.message.query_changes("q1", **kwargs), r"Message/queryChanges: the filter"
    )


@pytest.mark.parametrize(("name", "flt"), SCOPED, ids=[c[0] for c in SCOPED])
def test_scoped_message_query_is_accepted(name: str, flt: Any) -> None:
    req = Request(account_id="A1")
    req.message.query(filter=flt)
    req.message.query_changes("q1", filter=flt)
    assert len(req) == 2


def test_creation_ref_chat_id_scopes_a_query() -> None:
    req = Request(account_id="A1")
    s = req.chat.set(create={"c": ChatCreate.direct("bob")})
    req.message.query(filter=MessageFilter(chat_id=s.created_id("c")))
    assert req.to_dict()["methodCalls"][1][1]["filter"] == {"chatId": "#c"}


# --- Message/get ---------------------------------------------------------------------------


def test_message_get_all_is_refused() -> None:
    assert_refused(lambda r: r.message.get(None), "Message/get: ids=None")  # type: ignore[arg-type]
    assert_refused(lambda r: r.message.get("M1"), "Message/get: ids must be a list")


def test_get_all_is_fine_where_it_makes_sense() -> None:
    req = Request(account_id="A1")
    req.presence_status.get(None)
    req.read_position.get(None)
    req.custom_emoji.get(None)
    req.quota.get(None)
    req.push_subscription.get()
    assert [c.args["ids"] for c in req.calls] == [None] * 5


# --- Space/join ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "match"),
    [
        (lambda r: r.space.join(), "exactly one .* got none"),
        (
            lambda r: r.space.join(SpaceJoin.by_invite("abc"), invite_code="abc"),
            "got a SpaceJoin and invite_code",
        ),
        (lambda r: r.space.join(invite_code="abc", space_id="S1"), "got invite_code and space_id"),
        (lambda r: r.space.join(invite_code=""), "invite_code must be a non-empty string"),
        (lambda r: r.space.join(invite_code="   "), "invite_code must be a non-empty string"),
        (lambda r: r.space.join(space_id=""), "space_id must be a non-empty string"),
        (lambda r: r.space.join({"inviteCode": "abc"}), "expected a SpaceJoin, not dict"),
    ],
    ids=["neither", "model+keyword", "both", "empty code", "blank code", "empty space", "dict"],
)
def test_space_join_guards(action: Action, match: str) -> None:
    assert_refused(action, match)


def test_space_join_model_guards_empty_code() -> None:
    with pytest.raises(ValueError, match="invite code must not be empty"):
        SpaceJoin.by_invite("")
    with pytest.raises(ValueError, match="exactly one"):
        SpaceJoin()


def test_invite_code_not_in_join_repr() -> None:
    assert "s3cr3t" not in repr(SpaceJoin.by_invite("s3cr3t"))


# --- empty names (guarded by the input models, before any call exists) ---------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: ChatCreate.group("", ["bob"]),
        lambda: ChatCreate.group("  ", ["bob"]),
        lambda: ChatUpdate(name=""),
        lambda: SpaceCreate(name=""),
        lambda: SpaceUpdate(name=" "),
        lambda: SpaceRoleAdd(name="", permissions=["view"], position=1),
        lambda: ChannelAdd(name=""),
        lambda: CategoryAdd(name=""),
    ],
    ids=[
        "group",
        "group blank",
        "chat rename",
        "space",
        "space rename",
        "role",
        "channel",
        "category",
    ],
)
def test_empty_names_are_refused(make: Callable[[], Any]) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        make()


# --- other argument guards -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "match"),
    [
        (lambda r: r.chat.typing(""), "Chat/typing: chat_id"),
        (lambda r: r.chat.typing("C1", typing="yes"), "typing must be a bool"),
        (lambda r: r.message.send("", "hi"), "chat_id must be a non-empty"),
        (lambda r: r.message.send("C1", "hi", creation_id=""), "creation_id"),
        (lambda r: r.message.react("", "👍"), "message_id"),
        (lambda r: r.message.react("M1", "👍", reaction_id=""), "reaction_id"),
        (lambda r: r.message.unreact("M1", ""), "reaction_id"),
        (lambda r: r.message.edit("", "x"), "message_id"),
        (lambda r: r.message.mark_read([]), r"ids=\[\]"),
        (lambda r: r.message.mark_read("M1"), "must be a list of ids"),
        (lambda r: r.message.delete([]), r"ids=\[\]"),
        (lambda r: r.read_position.set_last_read("", "M1"), "read_position_id"),
        (lambda r: r.read_position.set_last_read("RP1", ""), "message_id"),
        (lambda r: r.blob.lookup([]), r"Blob/lookup: ids=\[\]"),
        (lambda r: r.blob.lookup(["B1"], type_names=[]), r"type_names=\[\]"),
        (lambda r: r.blob.lookup(["B1"], capability="urn:x"), "unknown blob capability"),
        (lambda r: r.blob.convert("B1", ""), "Blob/convert: type"),
        (lambda r: r.blob.convert("", "image/png"), "blob_id"),
        (lambda r: r.blob.convert("B1", "image/png", width=0), "width must be a positive int"),
        (lambda r: r.chat.query(sort="lastMessageAt"), "not a single one"),
        (lambda r: r.push_subscription.get("PS1"), "must be a list of ids"),
    ],
)
def test_argument_guards(action: Action, match: str) -> None:
    assert_refused(action, match)


def test_model_guards_still_apply_in_conveniences() -> None:
    req = Request(account_id="A1")
    with pytest.raises(ValueError, match="emoji"):
        req.message.react("M1", "")
    assert len(req) == 0
