"""The bulk-send paths (10,000 creates in one send) behave exactly like the general paths.

- a large map of same-class models is serialized in one pydantic-core call;
- `iter_nested` skips a map of flat models without a Python loop;
- `JMAPInput.model_post_init` computes the same fields set;
- `utc_now` reuses the text of the current second;
- a chunked /set encodes each chunk's arguments once and splices the invocation;
- the cyclic GC is held off while a large call is encoded or a large result validated.

No timing here: only that bytes, results, errors and bookkeeping are identical.
"""

from __future__ import annotations

import gc
import json
from typing import Any

import pytest
from pydantic import BaseModel

import jmapchat
from jmapchat._core import _call, _gc, _wire
from jmapchat._core._exec import Splitter, plan
from jmapchat._core._json import dumps
from jmapchat._core._model import JMAPInput, JMAPModel
from jmapchat._core._types import NOT_GIVEN, CreationRef, NotGiven
from jmapchat._core._wire import ACCOUNT_ID, encode_value, iter_nested
from jmapchat.models import Attachment, MessageCreate, MessageUpdate, ReactionInput, _common
from jmapchat.models.mention import Mention

from .test_split import limits


def _account() -> str:
    return "A"


def per_model(value: dict[str, Any]) -> dict[str, Any]:
    """What ``encode_value`` gave before the batched path: one ``to_wire`` per model."""
    return {str(k): encode_value(v, _account) for k, v in value.items() if v is not NOT_GIVEN}


def creates(n: int, **kw: Any) -> dict[str, MessageCreate]:
    return {
        f"m{i}": MessageCreate(
            chat_id="C", body=f"body {i} é\u2028\x01", sent_at="2026-01-01T00:00:00Z", **kw
        )
        for i in range(n)
    }


class Loose(JMAPModel):
    name: str
    size: float = 0.5


class LooseChild(Loose):
    extra_field: int = 1


def test_batched_model_map_is_identical_to_per_model() -> None:
    plain = creates(100)
    rich = creates(
        100,
        mentions=[Mention(id="X", offset=0, length=4)],
        attachments=[
            Attachment(blob_id="B", filename="f", content_type="text/plain", size=1, sha256="0")
        ],
        reply_to="R",
        burn_on_read=False,
    )
    server = {
        f"k{i}": Loose.model_validate({"name": "n", "size": 1e16, "unknown": [i]})
        for i in range(40)
    }
    for value in (plain, rich, server):
        batched = _wire._encode_model_map(value)
        assert batched is not None
        assert batched == per_model(value)
        assert dumps(batched) == dumps(per_model(value))
        assert dumps(encode_value(value, _account)) == dumps(per_model(value))


@pytest.mark.parametrize(
    "value",
    [
        # a class with its own to_wire (adds reaction keys)
        {f"u{i}": MessageUpdate(add_reactions={"r": ReactionInput(emoji="x")}) for i in range(40)},
        # a subclass instance among the values (the adapter would drop its own fields)
        {**{f"k{i}": Loose(name="n") for i in range(40)}, "sub": LooseChild(name="s")},
        # non-str keys, and a CreationRef (a str subclass) as a key
        {**{f"k{i}": Loose(name="n") for i in range(40)}, 7: Loose(name="seven")},
        {**{f"k{i}": Loose(name="n") for i in range(40)}, CreationRef("x"): Loose(name="x")},
        # NOT_GIVEN values and plain values are not models
        {**{f"k{i}": Loose(name="n") for i in range(40)}, "gone": NOT_GIVEN},
        {f"k{i}": {"name": "n"} for i in range(40)},
    ],
)
def test_batched_model_map_declines_what_it_cannot_copy(value: dict[Any, Any]) -> None:
    assert _wire._encode_model_map(value) is None
    assert encode_value(value, _account) == per_model(value)


def test_batched_model_map_falls_back_on_a_serialization_problem() -> None:
    class Odd(JMAPModel):
        value: Any = None

    bad = {f"k{i}": Odd(value=i) for i in range(40)}
    bad["k3"].value = object()  # not JSON: the per-model path raises its usual error
    assert _wire._encode_model_map(bad) is None
    with pytest.raises(Exception) as batched:
        encode_value(bad, _account)
    with pytest.raises(Exception) as single:
        bad["k3"].to_wire()
    assert type(batched.value) is type(single.value)


def test_flat_model_map_skip_finds_the_same_references() -> None:
    ref = CreationRef("m1")
    plain = creates(50)
    assert _wire._flat_model_map(plain) in (True, False)  # kind cached on first walk
    assert list(iter_nested(plain, "create")) == []
    assert _wire._flat_model_map(plain)

    nested = creates(50)
    nested["m7"] = MessageCreate(chat_id="C", body="b", reply_to=ref)
    assert not _wire._flat_model_map(nested)
    assert list(iter_nested(nested, "create")) == [("create['m7'].reply_to", ref)]

    keyed: dict[Any, Any] = dict(creates(50))
    keyed[ref] = MessageCreate(chat_id="C", body="b")
    assert not _wire._flat_model_map(keyed)
    assert [w for w, _ in iter_nested(keyed, "create")] == ["create[key #m1]"]

    with_list = creates(50, mentions=[])
    assert not _wire._flat_model_map(with_list)
    assert list(iter_nested(with_list, "create")) == []

    extras = {f"k{i}": Loose.model_validate({"name": "n", "x": ref}) for i in range(40)}
    assert not _wire._flat_model_map(extras)
    assert len(list(iter_nested(extras))) == 40

    mixed: dict[str, Any] = {**creates(40), "plain": "x"}
    assert not _wire._flat_model_map(mixed)

    # A value assigned after construction is still seen (no caching by identity).
    later = creates(50)
    later["m3"].reply_to = ref
    assert list(iter_nested(later, "c")) == [("c['m3'].reply_to", ref)]


def test_flat_model_skip_for_single_models() -> None:
    ref = CreationRef("k")
    m = MessageCreate(chat_id="C", body="b")
    assert _wire._flat_model(m)
    assert not _wire._flat_model(MessageCreate(chat_id=ref, body="b"))
    assert list(iter_nested([m, MessageCreate(chat_id=ref, body="b")], "x")) == [
        ("x[1].chat_id", ref)
    ]


def test_add_call_still_rejects_unknown_creation_ids_in_a_bulk_set() -> None:
    req = jmapchat.Request(account_id="A")
    bulk: dict[str, Any] = dict(creates(100))
    bulk["m50"] = MessageCreate(chat_id="C", body="b", reply_to=CreationRef("nope"))
    with pytest.raises(jmapchat.LocalProtocolError, match="unknown creation id 'nope'"):
        req.message.set(create=bulk)


def test_input_fields_set_is_the_given_fields() -> None:
    class Input(JMAPInput):
        a: str
        b: str | NotGiven = NOT_GIVEN
        c: str | None | NotGiven = NOT_GIVEN
        d: int = 3

    assert Input(a="x").model_fields_set == {"a", "d"}
    assert Input(a="x", c=None).model_fields_set == {"a", "c", "d"}
    assert Input(a="x", b="y", c="z").to_wire() == {"a": "x", "b": "y", "c": "z", "d": 3}
    m = MessageCreate(chat_id="C", body="b")
    assert m.model_fields_set == {"chat_id", "body", "body_type", "sent_at"}


def test_utc_now_reuses_the_text_of_the_current_second() -> None:
    first = _common.utc_now()
    assert len(first) == len("2026-01-01T00:00:00Z")
    assert first.endswith("Z")
    assert _common.utc_now() >= first
    cached = _common._last_now  # (whole second, its text); other threads may move it on
    assert cached is not None
    assert cached[0].microsecond == 0
    assert _common.format_utc_date(cached[0]) == cached[1]
    assert _common.utc_now() >= cached[1]


def test_chunked_set_bytes_are_the_plain_dumps_of_each_invocation() -> None:
    req = jmapchat.Request(account_id="A")
    s = req.message.set(create=creates(1_234))
    envelopes = plan(req, limits(max_calls_in_request=2))
    pieces = [p for env in envelopes for p in env.pieces]
    assert [p.objects for p in pieces] == [500, 500, 234]
    for p in pieces:
        assert p.encoded == dumps([s.method, p.args, p.wire_id])
    for env in envelopes:
        doc = {
            "using": env.using,
            "methodCalls": [[s.method, p.args, p.wire_id] for p in env.pieces],
        }
        assert env.body == dumps(doc)


def test_chunks_halve_by_size_as_before() -> None:
    req = jmapchat.Request(account_id="A")
    req.message.set(create=creates(40))
    one = len(dumps(MessageCreate(chat_id="C", body="body 0 é\u2028\x01").to_wire()))
    envelopes = plan(req, limits(max_calls_in_request=64, max_size_request=30 * one))
    sizes = [p.objects for env in envelopes for p in env.pieces]
    assert sum(s or 0 for s in sizes) == 40
    assert max(s or 0 for s in sizes) < 40
    for env in envelopes:
        assert len(env.body) <= 30 * one


def test_gc_paused_and_items_hint() -> None:
    assert gc.isenabled()
    with _gc.gc_paused(True):
        assert not gc.isenabled()
    assert gc.isenabled()
    with _gc.gc_paused(False):
        assert gc.isenabled()
    with pytest.raises(KeyError), _gc.gc_paused(True):
        raise KeyError
    assert gc.isenabled()
    assert _gc.items_hint({"a": [1, 2], "b": {"x": 1}, "c": "long string", "d": None}) == 3


def test_large_result_is_validated_with_the_gc_paused(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    real = _call.gc_paused

    def spy(big: bool) -> Any:
        seen.append(big)
        return real(big)

    monkeypatch.setattr(_call, "gc_paused", spy)
    req = jmapchat.Request(account_id="A")
    s = req.message.set(create=creates(300))
    created = {f"m{i}": {"id": f"M{i}"} for i in range(300)}
    body = {
        "methodResponses": [
            ["Message/set", {"accountId": "A", "newState": "2", "created": created}, s.id]
        ]
    }
    jmapchat.Response.parse(req, json.dumps(body).encode())
    s._outcome = _call._UNSET  # re-validate from the raw form, as the general path does
    s._responses = [("Message/set", body["methodResponses"][0][1])]  # type: ignore[index]
    assert len(s.result.created) == 300
    assert seen == [True]
    assert gc.isenabled()


def test_large_call_is_encoded_with_the_gc_paused(monkeypatch: pytest.MonkeyPatch) -> None:
    from jmapchat._core._exec import _plan as _split

    states: list[bool] = []
    real = _split.gc_paused

    def spy(big: bool) -> Any:
        states.append(big)
        return real(big)

    monkeypatch.setattr(_split, "gc_paused", spy)
    req = jmapchat.Request(account_id="A")
    req.message.set(create=creates(300))
    req.message.set(create={"solo": MessageCreate(chat_id="C", body="b")}, call_id="small")
    splitter = Splitter(req, limits(max_calls_in_request=8))
    assert splitter.next_envelope() is not None
    assert states == [True, False]
    assert gc.isenabled()


def test_placeholders_are_still_filled_in_batched_maps() -> None:
    class Holder(BaseModel):
        x: int

    # Plain pydantic models (not JMAPModel) keep the per-value path.
    value = {f"k{i}": Holder(x=i) for i in range(40)}
    assert _wire._encode_model_map(value) is None
    assert encode_value({"a": ACCOUNT_ID, "m": value}, _account)["a"] == "A"
