"""Response.parse on arbitrary or mutated input raises only JMAPError subclasses."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jmapchat._core import JMAPError, Response

from ._ns import MsgCreate, Req

VALID = json.dumps(
    {
        "methodResponses": [
            [
                "Message/set",
                {
                    "accountId": "A",
                    "newState": "2",
                    "created": {"m1": {"id": "M1"}},
                    "notCreated": {"m2": {"type": "forbidden"}},
                },
                "c0",
            ],
            [
                "Message/query",
                {
                    "accountId": "A",
                    "queryState": "q",
                    "canCalculateChanges": True,
                    "position": 0,
                    "ids": ["M1"],
                },
                "c1",
            ],
            [
                "Message/get",
                {
                    "accountId": "A",
                    "state": "2",
                    "list": [{"id": "M1", "body": "x"}],
                    "notFound": [],
                },
                "c2",
            ],
            ["error", {"type": "serverFail"}, "c3"],
        ],
        "createdIds": {"m1": "M1"},
        "sessionState": "S",
    }
).encode()


def make_request() -> Req:
    req = Req(account_id="A")
    req.msg.set(
        create={"m1": MsgCreate(chat_id="C", body="b"), "m2": MsgCreate(chat_id="C", body="c")}
    )
    q = req.msg.query()
    req.msg.get(ids=q.ids)
    req.msg.changes(since_state="1")
    return req


def exercise(raw: bytes) -> None:
    req = make_request()
    try:
        resp = Response.parse(req, raw)
    except JMAPError:
        return
    for call in req.calls:
        try:
            result: Any = call.result
            result.to_wire()
        except JMAPError:
            pass
    resp.errors  # noqa: B018


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes(raw: bytes) -> None:
    exercise(raw)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), max_size=6))
def test_mutated_valid_reply(mutations: list[tuple[int, int]]) -> None:
    raw = bytearray(VALID)
    for pos, byte in mutations:
        raw[pos] = byte
    exercise(bytes(raw))


json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)
    ),
    lambda kids: st.one_of(
        st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                ["Message/set", "Message/query", "Message/get", "Message/changes", "error", "x"]
            ),
            json_values,
            st.sampled_from(["c0", "c1", "c2", "c3", "zz"]),
        ),
        max_size=6,
    ),
    json_values,
    json_values,
)
def test_structurally_plausible_replies(
    invocations: list[tuple[str, Any, str]], state: Any, created: Any
) -> None:
    doc = {
        "methodResponses": [list(i) for i in invocations],
        "sessionState": state,
        "createdIds": created,
    }
    exercise(json.dumps(doc).encode())
