"""Demultiplexing responses: typed results, lazy per-call errors, odd shapes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jmapchat._core import (
    Forbidden,
    InvalidArguments,
    JMAPError,
    LimitExceeded,
    MissingResponse,
    NotJSON,
    NotRequest,
    RemoteProtocolError,
    RequestRejected,
    Response,
    ServerFail,
    SetErrors,
    UnknownCapability,
    UnsupportedFilter,
    parse_problem,
)

from ._ns import Msg, MsgCreate, Req


def body(*responses: list[Any], **extra: Any) -> bytes:
    doc: dict[str, Any] = {"methodResponses": list(responses), "sessionState": "S1"}
    doc.update(extra)
    return json.dumps(doc).encode()


def query_get() -> tuple[Req, Any, Any]:
    req = Req(account_id="A1")
    q = req.msg.query()
    g = req.msg.get(ids=q.ids)
    return req, q, g


QUERY = {
    "accountId": "A1",
    "queryState": "q1",
    "canCalculateChanges": True,
    "position": 0,
    "ids": ["m1", "m2"],
}
GET = {
    "accountId": "A1",
    "state": "s1",
    "list": [{"id": "m1", "body": "hi", "senderId": "self", "vendorX": 1}],
    "notFound": ["m2"],
}


def test_typed_results_bound_to_handles() -> None:
    req, q, g = query_get()
    resp = Response.parse(req, body(["Message/query", QUERY, "c0"], ["Message/get", GET, "c1"]))
    assert q.result.ids == ["m1", "m2"]
    msg = g.result.list[0]
    assert isinstance(msg, Msg)
    assert (msg.body, msg.sender_id) == ("hi", "self")
    assert msg.model_extra == {"vendorX": 1}  # unknown fields kept
    assert resp[g] is g.result
    assert resp.session_state == "S1"
    assert resp.created_ids == {}


def test_method_error_is_lazy_and_siblings_unaffected() -> None:
    req, q, _g = query_get()
    resp = Response.parse(
        req,
        body(
            ["error", {"type": "unsupportedFilter", "description": "needs chatId"}, "c0"],
            ["error", {"type": "invalidResultReference"}, "c1"],
        ),
    )
    with pytest.raises(UnsupportedFilter, match=r"Message/query \(call c0\) failed") as info:
        q.result  # noqa: B018
    assert info.value.call is q
    assert info.value.description == "needs chatId"
    assert isinstance(resp.get(q), UnsupportedFilter)
    assert set(resp.errors) == {"c0", "c1"}


def test_one_failing_call_among_successes() -> None:
    req = Req(account_id="A1")
    s = req.msg.set(create={"m1": MsgCreate(chat_id="C", body="b")})
    q = req.msg.query()
    Response.parse(
        req,
        body(
            [
                "Message/set",
                {"accountId": "A1", "newState": "s2", "created": {"m1": {"id": "M1"}}},
                "c0",
            ],
            ["error", {"type": "forbidden"}, "c1"],
            createdIds={"m1": "M1"},
        ),
    )
    assert s.result.created is not None
    assert s.result.created["m1"].id == "M1"
    assert isinstance(q.error, Forbidden)
    assert s.error is None


def test_unknown_error_type_behaves_as_server_fail_keeping_its_name() -> None:
    req, q, _ = query_get()
    Response.parse(req, body(["error", {"type": "somethingNew"}, "c0"]))
    with pytest.raises(ServerFail) as info:
        q.result  # noqa: B018
    assert info.value.type == "somethingNew"


def test_missing_response_is_an_error_on_that_call_only() -> None:
    req, q, g = query_get()
    Response.parse(req, body(["Message/query", QUERY, "c0"]))
    assert q.result.position == 0
    with pytest.raises(MissingResponse, match="no response for call c1"):
        g.result  # noqa: B018


def test_several_responses_for_one_call_are_kept() -> None:
    req, q, _ = query_get()
    resp = Response.parse(
        req,
        body(
            ["Message/query", QUERY, "c0"],
            ["Message/set", {"accountId": "A1", "newState": "x"}, "c0"],
            ["Message/get", GET, "c1"],
            ["Other/thing", {}, "zz"],
        ),
    )
    assert q.result.ids == ["m1", "m2"]
    assert [n for n, _ in q.extra_responses] == ["Message/set"]
    assert resp.unmatched == [("Other/thing", {}, "zz")]


def test_created_ids_and_session_state_exposed() -> None:
    req, _, _ = query_get()
    resp = Response.parse(req, body(createdIds={"m1": "M1"}))
    assert resp.created_ids == {"m1": "M1"}
    assert resp.session_state == "S1"


def test_wrong_response_name_is_remote_protocol_error() -> None:
    req, q, _ = query_get()
    Response.parse(req, body(["Message/get", GET, "c0"]))
    with pytest.raises(RemoteProtocolError, match="answered with 'Message/get'"):
        q.result  # noqa: B018


def test_malformed_result_becomes_remote_protocol_error_with_context() -> None:
    req, q, _ = query_get()
    bad = dict(QUERY, ids="not-a-list")
    Response.parse(req, body(["Message/query", bad, "c0"]))
    with pytest.raises(RemoteProtocolError, match=r"malformed Message/query response.*'ids'"):
        q.result  # noqa: B018


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{nope", "invalid JSON"),
        (b"[1,2]", "JSON list, not an object"),
        (b"{}", "no 'methodResponses'"),
        (b'{"methodResponses": [["a", {}]]}', r"methodResponses\[0\]"),
        (b'{"methodResponses": [[1, {}, "c0"]]}', r"methodResponses\[0\]"),
        (b'{"methodResponses": [], "sessionState": 5}', "sessionState"),
        (b'{"methodResponses": [], "createdIds": {"a": 1}}', "createdIds"),
    ],
)
def test_malformed_envelopes(raw: bytes, message: str) -> None:
    req, _, _ = query_get()
    with pytest.raises(RemoteProtocolError, match=message):
        Response.parse(req, raw)


@pytest.mark.parametrize(
    ("problem", "cls"),
    [
        (
            {"type": "urn:ietf:params:jmap:error:unknownCapability", "status": 400},
            UnknownCapability,
        ),
        ({"type": "urn:ietf:params:jmap:error:notJSON", "status": 400}, NotJSON),
        ({"type": "urn:ietf:params:jmap:error:notRequest", "status": 400}, NotRequest),
        ({"type": "urn:ietf:params:jmap:error:limit", "limit": "maxCallsInRequest"}, LimitExceeded),
        ({"type": "about:blank", "status": 418}, RequestRejected),
    ],
)
def test_problem_details_become_typed_errors(problem: dict[str, Any], cls: type) -> None:
    req, _, _ = query_get()
    raw = json.dumps(problem).encode()
    with pytest.raises(cls) as info:
        Response.parse(req, raw)
    err = info.value
    assert isinstance(err, RequestRejected)
    assert type(err) is cls
    assert err.type == problem["type"]
    if cls is LimitExceeded:
        assert err.limit == "maxCallsInRequest"
    again = parse_problem(raw, status=400)
    assert type(again) is cls


def test_parse_problem_ignores_non_problems() -> None:
    assert parse_problem(b"not json") is None
    assert parse_problem(b'{"methodResponses": []}') is None


def test_set_errors_are_data_with_opt_in_raise() -> None:
    req = Req(account_id="A1")
    s = req.msg.set(create={"a": MsgCreate(chat_id="C", body="x")})
    Response.parse(
        req,
        body(
            [
                "Message/set",
                {
                    "accountId": "A1",
                    "newState": "s2",
                    "notCreated": {
                        "a": {"type": "alreadyExists", "existingId": "C9"},
                    },
                    "notDestroyed": {"z": {"type": "rateLimited", "serverRetryAfter": 2.5}},
                },
                "c0",
            ]
        ),
    )
    result = s.result
    assert result.not_created is not None
    assert result.not_created["a"].existing_id == "C9"
    assert result.errors["z"].server_retry_after == 2.5
    with pytest.raises(SetErrors, match="2 object") as info:
        result.raise_for_errors()
    assert set(info.value.errors) == {"a", "z"}


def test_response_parse_only_raises_jmap_errors_on_junk() -> None:
    req, _q, _g = query_get()
    for junk in [b"", b"\xff\xfe", b"null", b'"x"', b'{"methodResponses": null}']:
        with pytest.raises(JMAPError):
            Response.parse(req, junk)


def test_invalid_arguments_class() -> None:
    req, q, _ = query_get()
    Response.parse(req, body(["error", {"type": "invalidArguments"}, "c0"]))
    assert isinstance(q.error, InvalidArguments)


def test_fast_and_general_paths_agree() -> None:
    raw = body(["Message/query", QUERY, "c0"], ["Message/get", GET, "c1"])
    req1, q1, g1 = query_get()
    fast = Response.parse(req1, raw)
    assert fast._method_responses is None  # took the one-pass typed path
    req2, q2, g2 = query_get()
    slow = Response.from_document(req2.calls, json.loads(raw))
    assert g1.result == g2.result
    assert q1.result == q2.result
    assert g1.responses == g2.responses == [("Message/get", GET)]
    assert fast.method_responses == slow.method_responses
    assert fast.session_state == slow.session_state == "S1"


def test_fast_path_falls_back_on_anything_unexpected() -> None:
    req, q, g = query_get()
    raw = body(["Message/query", QUERY, "c0"], ["Message/get", GET, "zz"])
    resp = Response.parse(req, raw)
    assert q.result.ids == ["m1", "m2"]
    assert resp.unmatched == [("Message/get", GET, "zz")]
    with pytest.raises(MissingResponse):
        g.result  # noqa: B018
