"""The performance paths (issue 6) behave exactly like the general paths they shortcut.

- the executor validates a one-envelope reply in one typed pass from the bytes;
- `Response.parse` validates strictly first, falling back to the lax general path;
- the cyclic GC is held off while a large reply is validated;
- `iter_nested` dispatches on a per-type kind table.

No timing here: only that results, errors and bookkeeping are identical.
"""

from __future__ import annotations

import gc
import json
from collections import UserDict
from typing import Any, NamedTuple

import pytest

import jmapchat
from jmapchat._core import _json
from jmapchat._core._exec import (
    HTTPRequest,
    HTTPResponse,
    ObservedSessionState,
    Splitter,
    execute_flow,
)
from jmapchat._core._types import NOT_GIVEN, CreationRef
from jmapchat._core._wire import iter_nested
from jmapchat.models import MessageCreate, MessageFilter

from .test_flows import POLICY, drive, http_count, ok


def reply_for(doc: dict[str, Any]) -> Any:
    def handler(req: HTTPRequest) -> HTTPResponse:
        return ok(doc)

    return handler


def set_query_get() -> tuple[jmapchat.Request, Any, Any, Any]:
    req = jmapchat.Request(created_ids={"old": "X0"})
    s = req.message.set(create={"m": MessageCreate(chat_id="C", body="b")})
    q = req.message.query(filter=MessageFilter(chat_id="C"), limit=2)
    g = req.message.get(ids=q.ids)
    return req, s, q, g


def good_reply(calls: list[Any]) -> dict[str, Any]:
    s, q, g = (c.id for c in calls)
    return {
        "methodResponses": [
            [
                "Message/set",
                {
                    "accountId": "A",
                    "oldState": "1",
                    "newState": "2",
                    "created": {"m": {"id": "M9", "receivedAt": "2026-01-01T00:00:00Z"}},
                },
                s,
            ],
            [
                "Message/query",
                {
                    "accountId": "A",
                    "queryState": "q",
                    "canCalculateChanges": True,
                    "position": 0,
                    "ids": ["M1", "M9"],
                },
                q,
            ],
            [
                "Message/get",
                {
                    "accountId": "A",
                    "state": "2",
                    "list": [{"id": "M1", "body": "x", "vendorExtra": 1}, {"id": "M9"}],
                    "notFound": [],
                },
                g,
            ],
        ],
        "sessionState": "s1",
        "createdIds": {"m": "M9"},
    }


def run(req: jmapchat.Request, doc: dict[str, Any]) -> tuple[Any, list[Any]]:
    return drive(execute_flow(req, account_id="A", policy=POLICY), reply_for(doc))


def summary(resp: Any, calls: list[Any]) -> Any:
    out = []
    for c in calls:
        err = c.error
        out.append(repr(err) if err is not None else c.result)
    return (
        out,
        resp.created_ids,
        resp.session_state,
        resp.method_responses,
        resp.unmatched,
        [c.responses for c in calls],
    )


def test_one_envelope_reply_takes_the_typed_path_with_identical_results(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    req, _s, q, g = set_query_get()
    doc = good_reply(req.calls)
    fast, seen = run(req, doc)
    # The typed one-pass path was taken: no raw copies, except the /set's wire form,
    # rebuilt from its typed result to collect the created ids.
    assert q._responses is None
    assert g._responses is None
    assert ObservedSessionState("s1") in seen
    assert http_count(seen) == 1
    assert fast.created_ids == {"old": "X0", "m": "M9"}  # given, /set created, createdIds
    assert g.result.list[0].model_extra == {"vendorExtra": 1}
    fast_summary = summary(fast, req.calls)

    monkeypatch.setattr(Splitter, "_whole_calls", lambda *a: None)
    req2, *_ = set_query_get()
    slow, seen2 = run(req2, good_reply(req2.calls))
    assert all(c._responses is not None for c in req2.calls), "the general path was taken"
    assert seen2 == seen
    assert summary(slow, req2.calls) == fast_summary
    assert list(slow.created_ids.items()) == list(fast.created_ids.items())


def test_a_method_error_falls_back_to_the_general_path() -> None:
    req, s, q, _g = set_query_get()
    doc = good_reply(req.calls)
    doc["methodResponses"][1] = ["error", {"type": "unsupportedFilter"}, q.id]
    resp, _ = run(req, doc)
    assert q._responses is not None
    assert isinstance(q.error, jmapchat.MethodError)
    assert s.result.created["m"].id == "M9"
    assert resp.created_ids == {"old": "X0", "m": "M9"}


def test_split_requests_do_not_take_the_one_envelope_path() -> None:
    req = jmapchat.Request()
    calls = [req.core.echo({"i": i}) for i in range(6)]  # maxCallsInRequest is 4

    def echo(r: HTTPRequest) -> HTTPResponse:
        body = json.loads(r.body)
        return ok({"methodResponses": body["methodCalls"], "sessionState": "s0"})

    resp, seen = drive(execute_flow(req, account_id="A", policy=POLICY), echo)
    assert http_count(seen) == 2
    assert [c.result.model_extra for c in calls] == [{"i": i} for i in range(6)]
    assert all(c._responses is not None for c in calls)
    assert len(resp.method_responses) == 6


def test_strict_typed_pass_falls_back_to_lax_validation() -> None:
    req = jmapchat.Request(account_id="A")
    q = req.message.query(filter=MessageFilter(chat_id="C"))
    body = json.dumps(
        {
            "methodResponses": [
                [
                    "Message/query",
                    {
                        "accountId": "A",
                        "queryState": "q",
                        "canCalculateChanges": True,
                        "position": 0.0,  # lax validation accepts 0.0 for an int
                        "ids": [],
                    },
                    q.id,
                ]
            ],
            "sessionState": "s",
        }
    ).encode()
    jmapchat.Response.parse(req, body)
    assert q._responses is not None  # strict pass refused it; the general path bound it
    assert q.result.position == 0


def test_gc_pause_restores_the_collector_state() -> None:
    assert gc.isenabled()
    with _json.gc_paused_for(10**6):
        assert not gc.isenabled()
    assert gc.isenabled()
    with _json.gc_paused_for(10):  # small replies are left alone
        assert gc.isenabled()
    with pytest.raises(RuntimeError), _json.gc_paused_for(10**6):
        raise RuntimeError
    assert gc.isenabled()
    gc.disable()
    try:
        with _json.gc_paused_for(10**6):
            assert not gc.isenabled()
        assert not gc.isenabled()  # an application's choice is kept
    finally:
        gc.enable()


def test_large_reply_parses_with_the_gc_pause() -> None:
    req = jmapchat.Request(account_id="A")
    g = req.message.get(ids=[f"M{i}" for i in range(2000)])
    items = [{"id": f"M{i}", "body": "x" * 40} for i in range(2000)]
    doc = {"accountId": "A", "state": "1", "list": items, "notFound": []}
    body = json.dumps({"methodResponses": [["Message/get", doc, g.id]], "sessionState": "s"})
    assert len(body) > _json.GC_PAUSE_MIN_BYTES
    jmapchat.Response.parse(req, body.encode())
    assert gc.isenabled()
    assert [m.id for m in g.result.list] == [f"M{i}" for i in range(2000)]


class Pair(NamedTuple):
    a: Any
    b: Any


class MyList(list[Any]):
    pass


def test_iter_nested_kinds() -> None:
    ref = CreationRef("m1")
    got = list(
        iter_nested(
            {
                ref: [ref, NOT_GIVEN, 1, None, {"k": ref}],
                "model": MessageCreate(chat_id=ref, body="b"),
                "mapping": UserDict({"x": ref}),
                "tuple": (ref,),
            },
            "arg",
        )
    )
    assert [where for where, _ in got] == [
        "arg[key #m1]",
        "arg[CreationRef('m1')][0]",
        "arg[CreationRef('m1')][4]['k']",
        "arg['model'].chat_id",
        "arg['mapping']['x']",
        "arg['tuple'][0]",
    ]
    # Only exact lists and tuples are walked, as before the kind table.
    assert list(iter_nested(Pair(ref, ref))) == []
    assert list(iter_nested(MyList([ref]))) == []
    assert list(iter_nested(NOT_GIVEN)) == []
    assert list(iter_nested(ref, "x")) == [("x", ref)]
