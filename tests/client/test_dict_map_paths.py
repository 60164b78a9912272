"""A bulk /set of raw wire dicts takes C-level fast paths that give the general paths' results.

- `iter_nested` skips a large map of flat dicts (nothing in it can be a reference);
- `encode_value` copies such a map without walking it key by key;
- after the typed one-pass parse, a /set's created ids are read from the typed result
  instead of dumping it back to wire form.

Each is compared with the general path on the same input (the fast paths switched off),
including inputs that do hold references and creation ids. No timing here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jmapchat
from jmapchat._core import InvokeResponse, JMAPModel, _wire
from jmapchat._core._exec import Splitter
from jmapchat._core._json import dumps
from jmapchat._core._response import Response
from jmapchat._core._responses import SetOutcome
from jmapchat._core._types import NOT_GIVEN, CreationRef
from jmapchat._core._wire import ACCOUNT_ID, encode_value, iter_nested
from jmapchat.models import MessageCreate

from .test_split import limits


def _account() -> str:
    return "A"


def general(fn: Any, *args: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``fn(*args)`` with the bulk fast paths off (every map walked key by key)."""
    with monkeypatch.context() as m:
        m.setattr(_wire, "_BATCH_MIN", 10**9)
        return fn(*args)


def wire_creates(n: int) -> dict[str, Any]:
    return {
        f"m{i}": {
            "chatId": "C",
            "body": f"body {i} é\u2028\x01",
            "sentAt": "2026-01-01T00:00:00Z",
            "pinned": i % 2 == 0,
            "weight": i / 3,
            "replyTo": None if i % 5 else f"#m{i - 1}",  # a plain string: the server's business
        }
        for i in range(n)
    }


ref = CreationRef("m1")
# What may sit inside a create map that the fast paths must not swallow: each either
# holds a reference (so iter_nested must find it) or needs the general copy.
ODD_VALUES: list[Any] = [
    ref,
    NOT_GIVEN,
    ACCOUNT_ID,
    [ref],
    {"deep": ref},
    {"deep": 1},
    ["x", 2],
    MessageCreate(chat_id=ref, body="b"),
    MessageCreate(chat_id="C", body="b"),
]
scalars = st.one_of(
    st.text(max_size=5),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)


@st.composite
def create_maps(draw: st.DrawFn) -> dict[Any, Any]:
    """A map of 32–60 flat wire dicts, sometimes with one odd key or value planted."""
    n = draw(st.integers(32, 60))
    keys = [f"k{i}" for i in range(n)]
    value: dict[Any, Any] = {
        k: draw(st.dictionaries(st.sampled_from(["a", "b", "c"]), scalars, max_size=3))
        for k in keys
    }
    where = draw(st.sampled_from(keys))
    plant = draw(st.sampled_from(["none", "value", "inner key", "outer key", "entry", "int key"]))
    if plant == "value":
        value[where] = {**value[where], "x": draw(st.sampled_from(ODD_VALUES))}
    elif plant == "inner key":
        value[where] = {ref: 1}
    elif plant == "outer key":
        value[CreationRef("planted")] = {"a": 1}
    elif plant == "entry":
        value[where] = draw(st.sampled_from(ODD_VALUES))
    elif plant == "int key":
        value[7] = {"a": 1}
    return value


@settings(max_examples=80, deadline=None)
@given(value=create_maps())
def test_fast_paths_agree_with_the_general_paths(value: dict[Any, Any]) -> None:
    with pytest.MonkeyPatch.context() as mp:
        walked = general(lambda: list(iter_nested(value, "create")), monkeypatch=mp)
        try:
            encoded = general(encode_value, value, _account, monkeypatch=mp)
        except jmapchat.LocalProtocolError as exc:
            encoded = exc
    assert list(iter_nested(value, "create")) == walked
    if isinstance(encoded, Exception):
        with pytest.raises(type(encoded), match="nested"):
            encode_value(value, _account)
    else:
        fast = encode_value(value, _account)
        assert fast == encoded
        assert dumps(fast) == dumps(encoded)


def test_flat_dict_map_is_recognised_and_copied_not_shared() -> None:
    value = wire_creates(40)
    assert _wire._flat_dicts(value, _wire._LEAF_TYPES)
    assert list(iter_nested(value, "create")) == []
    copied = _wire._copy_flat_dict_map(value)
    assert copied == value
    assert copied is not None
    assert all(copied[k] is not value[k] for k in value)
    # a dict subclass, or a map of fewer than _BATCH_MIN entries, keeps the general path
    assert _wire._copy_flat_dict_map(type("D", (dict,), {})(value)) is None
    small = wire_creates(5)
    assert encode_value(small, _account) == small


def test_request_bytes_and_reference_errors_are_those_of_the_general_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def build(create: dict[str, Any]) -> bytes:
        req = jmapchat.Request(account_id="A")
        req.message.set(create={"parent": MessageCreate(chat_id="C", body="p")})
        req.message.set(create=create)
        return req.build()

    plain = wire_creates(300)
    assert build(plain) == general(build, plain, monkeypatch=monkeypatch)

    # A CreationRef inside one raw dict is still found and checked: known, then unknown.
    known = {**wire_creates(300), "child": {"chatId": "C", "replyTo": CreationRef("parent")}}
    assert build(known) == general(build, known, monkeypatch=monkeypatch)
    assert b'"replyTo":"#parent"' in build(known)
    unknown = {**wire_creates(300), "child": {"chatId": "C", "replyTo": CreationRef("nope")}}
    with pytest.raises(jmapchat.LocalProtocolError, match="unknown creation id 'nope'"):
        build(unknown)


def set_reply(req: jmapchat.Request, created: dict[str, Any]) -> bytes:
    (call,) = req.calls
    result = {"accountId": "A", "newState": "2", "created": created}
    return json.dumps({"methodResponses": [[call.method, result, call.id]]}).encode()


def created_ids(req: jmapchat.Request, reply: bytes) -> dict[str, str]:
    splitter = Splitter(req, limits())
    envelope = splitter.next_envelope()
    assert envelope is not None
    assert splitter.absorb(envelope, reply)
    return splitter.created


class IdsOnly(JMAPModel):
    id: str


@pytest.mark.parametrize(
    "response",
    [
        None,
        SetOutcome[IdsOnly],
        SetOutcome[JMAPModel],
        SetOutcome[dict[str, Any]],
        dict,
        InvokeResponse,
    ],
)
def test_created_ids_after_the_typed_parse_are_those_of_the_general_path(
    response: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def request() -> jmapchat.Request:
        req = jmapchat.Request(account_id="A")
        create = {f"m{i}": MessageCreate(chat_id="C", body="b") for i in range(40)}
        if response is None:
            req.message.set(create=create)  # typed SetResponse[Message]
        else:
            req.invoke("Message/set", {"accountId": "A", "create": create}, response=response)
        return req

    created = {
        f"m{i}": {
            "id": f"M{i}",
            "chatId": "C",
            "body": "b",
            "senderId": "alice",
            "sentAt": "2026-01-01T00:00:00Z",
            "receivedAt": "2026-01-01T00:00:01Z",
        }
        for i in range(40)
    }
    reply = set_reply(request(), created)
    req = request()
    fast = created_ids(req, reply)
    if response is None or (isinstance(response, type) and issubclass(response, SetOutcome)):
        assert req.calls[0]._responses is None  # read from the typed result, not re-dumped
    monkeypatch.setattr(Response, "_parse_expected", classmethod(lambda cls, c, b: None))
    assert fast == created_ids(request(), reply)
    assert fast == {f"m{i}": f"M{i}" for i in range(40)}


def test_created_entries_without_an_id_are_skipped_on_both_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class MaybeId(JMAPModel):
        id: str | None = None

    def request() -> jmapchat.Request:
        req = jmapchat.Request(account_id="A")
        req.invoke(
            "Message/set",
            {"accountId": "A", "create": {"a": {}, "b": {}, "c": {}}},
            response=SetOutcome[MaybeId],
        )
        return req

    reply = set_reply(request(), {"a": {"id": "X"}, "b": {}, "c": {"id": None}})
    fast = created_ids(request(), reply)
    monkeypatch.setattr(Response, "_parse_expected", classmethod(lambda cls, c, b: None))
    assert fast == created_ids(request(), reply) == {"a": "X"}
