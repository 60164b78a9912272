"""The split planner on its own: no I/O, replies fabricated by hand."""

from __future__ import annotations

import json
from typing import Any

import pytest

import jmapchat
from jmapchat._core import CoreCapability
from jmapchat._core._exec import Envelope, Splitter, plan
from jmapchat.models import MessageCreate, MessageFilter


def limits(**kw: int) -> CoreCapability:
    base = {"maxCallsInRequest": 4, "maxObjectsInSet": 500, "maxObjectsInGet": 500}
    base.update({_camel(k): v for k, v in kw.items()})
    return CoreCapability.model_validate(base)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def body(env: Envelope) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(env.body)
    return out


def answer(env: Envelope, fn: Any = None, created: dict[str, str] | None = None) -> dict[str, Any]:
    """A reply to ``env``: each invocation answered by ``fn(name, args, id)`` or echoed."""
    responses = []
    for name, args, cid in body(env)["methodCalls"]:
        out = fn(name, args, cid) if fn else None
        responses.append(list(out) if out else [name, args, cid])
    doc: dict[str, Any] = {"methodResponses": responses, "sessionState": "s1"}
    if created is not None:
        doc["createdIds"] = created
    return doc


def test_no_split_gives_exactly_the_built_envelope() -> None:
    req = jmapchat.Request(account_id="A")
    q = req.message.query(filter=MessageFilter(chat_id="C"), limit=50)
    req.message.get(ids=q.ids)
    envs = plan(req, limits())
    assert len(envs) == 1
    assert envs[0].body == req.build()


def test_split_between_calls_keeps_order() -> None:
    req = jmapchat.Request(account_id="A")
    for i in range(10):
        req.core.echo({"i": i})
    envs = plan(req, limits(max_calls_in_request=4))
    assert [len(e.pieces) for e in envs] == [4, 4, 2]
    order = [inv[1]["i"] for e in envs for inv in body(e)["methodCalls"]]
    assert order == list(range(10))


def test_set_over_limit_is_chunked_and_merged() -> None:
    req = jmapchat.Request(account_id="A")
    s = req.message.set(
        create={f"m{i}": MessageCreate(chat_id="C", body=str(i)) for i in range(1200)}
    )
    sp = Splitter(req, limits(max_calls_in_request=2))
    env1 = sp.next_envelope()
    assert env1 is not None
    assert [p.wire_id for p in env1.pieces] == ["c0.1", "c0.2"]
    assert [p.objects for p in env1.pieces] == [500, 500]

    def created(name: str, args: dict[str, Any], cid: str) -> Any:
        ids = {k: {"id": "ID" + k} for k in args["create"]}
        return [
            name,
            {"accountId": "A", "oldState": cid, "newState": cid + "'", "created": ids},
            cid,
        ]

    sp.absorb(env1, answer(env1, created))
    assert not s.done
    env2 = sp.next_envelope()
    assert env2 is not None
    assert [p.objects for p in env2.pieces] == [200]
    sp.absorb(env2, answer(env2, created))
    assert sp.next_envelope() is None
    result = s.result
    assert result.created is not None
    assert len(result.created) == 1200
    assert result.old_state == "c0.1"  # first chunk's
    assert result.new_state == "c0.3'"  # last chunk's
    assert sp.created["m1199"] == "IDm1199"


def test_set_with_if_in_state_is_never_chunked() -> None:
    req = jmapchat.Request(account_id="A")
    req.message.set(
        create={f"m{i}": MessageCreate(chat_id="C", body="x") for i in range(501)},
        if_in_state="s0",
    )
    with pytest.raises(jmapchat.LocalProtocolError, match="ifInState"):
        Splitter(req, limits())


def test_get_chunks_keep_first_state() -> None:
    req = jmapchat.Request(account_id="A")
    g = req.message.get(ids=[f"id{i}" for i in range(1100)])
    sp = Splitter(req, limits())
    env = sp.next_envelope()
    assert env is not None
    assert len(env.pieces) == 3

    def got(name: str, args: dict[str, Any], cid: str) -> Any:
        return [
            name,
            {"accountId": "A", "state": "st-" + cid, "list": [{"id": i} for i in args["ids"]]},
            cid,
        ]

    sp.absorb(env, answer(env, got))
    assert len(g.result.list) == 1100
    assert g.result.state == "st-c0.1"


def test_reference_to_earlier_envelope_is_resolved_client_side() -> None:
    req = jmapchat.Request(account_id="A")
    q = req.message.query(filter=MessageFilter(chat_id="C"), limit=10)
    for i in range(4):
        req.core.echo({"i": i})
    g = req.message.get(ids=q.ids)
    sp = Splitter(req, limits())
    env1 = sp.next_envelope()
    assert env1 is not None

    def query(name: str, args: dict[str, Any], cid: str) -> Any:
        if name == "Message/query":
            resp = {"accountId": "A", "queryState": "q", "canCalculateChanges": True}
            return [name, {**resp, "position": 0, "ids": ["x", "y"]}, cid]
        return None

    sp.absorb(env1, answer(env1, query))
    env2 = sp.next_envelope()
    assert env2 is not None
    calls = body(env2)["methodCalls"]
    assert calls[-1][0] == "Message/get"
    assert calls[-1][1]["ids"] == ["x", "y"]  # a value, not "#ids"
    assert "#ids" not in calls[-1][1]
    sp.absorb(env2, answer(env2))
    assert g.done


def test_reference_within_envelope_stays_server_side() -> None:
    req = jmapchat.Request(account_id="A")
    q = req.message.query(filter=MessageFilter(chat_id="C"), limit=10)
    req.message.get(ids=q.ids)
    req.core.echo({})
    envs = plan(req, limits())
    assert len(envs) == 1
    assert "#ids" in body(envs[0])["methodCalls"][1][1]


def test_unbounded_reference_ends_envelope_and_falls_back_on_request_too_large() -> None:
    req = jmapchat.Request(account_id="A")
    q = req.message.query(filter=MessageFilter(chat_id="C"))  # no limit: size unknown
    g = req.message.get(ids=q.ids)
    req.core.echo({"after": True})
    sp = Splitter(req, limits())
    env1 = sp.next_envelope()
    assert env1 is not None
    assert [p.call.method for p in env1.pieces] == ["Message/query", "Message/get"]
    many = [f"id{i}" for i in range(700)]

    def reply(name: str, args: dict[str, Any], cid: str) -> Any:
        if name == "Message/query":
            resp = {"accountId": "A", "queryState": "q", "canCalculateChanges": True}
            return [name, {**resp, "position": 0, "ids": many}, cid]
        if name == "Message/get" and "#ids" in args:
            return ["error", {"type": "requestTooLarge"}, cid]
        if name == "Message/get":
            return [
                name,
                {"accountId": "A", "state": "s", "list": [{"id": i} for i in args["ids"]]},
                cid,
            ]
        return None

    sp.absorb(env1, answer(env1, reply))
    env2 = sp.next_envelope()
    assert env2 is not None
    assert [(p.call.method, p.objects) for p in env2.pieces] == [
        ("Message/get", 500),
        ("Message/get", 200),
        ("Core/echo", None),
    ]
    sp.absorb(env2, answer(env2, reply))
    assert len(g.result.list) == 700


def test_creation_ids_are_threaded_across_envelopes() -> None:
    req = jmapchat.Request(account_id="A")
    s = req.message.set(create={"m1": MessageCreate(chat_id="C", body="x")})
    for _ in range(3):
        req.core.echo({})
    req.message.set(update={s.created_id("m1"): {"body": "edited"}})
    sp = Splitter(req, limits())
    env1 = sp.next_envelope()
    assert env1 is not None
    assert "createdIds" not in body(env1)

    def created(name: str, args: dict[str, Any], cid: str) -> Any:
        if name == "Message/set":
            return [name, {"accountId": "A", "newState": "2", "created": {"m1": {"id": "M1"}}}, cid]
        return None

    sp.absorb(env1, answer(env1, created))
    env2 = sp.next_envelope()
    assert env2 is not None
    assert body(env2)["createdIds"] == {"m1": "M1"}
    assert body(env2)["methodCalls"][0][1]["update"] == {"#m1": {"body": "edited"}}


def test_failed_chunk_stops_the_call_and_keeps_partial_result() -> None:
    req = jmapchat.Request(account_id="A")
    s = req.message.set(
        create={f"m{i}": MessageCreate(chat_id="C", body=str(i)) for i in range(1500)}
    )
    after = req.message.changes(since_state=s.new_state)
    sp = Splitter(req, limits(max_calls_in_request=2))
    env1 = sp.next_envelope()
    assert env1 is not None

    def reply(name: str, args: dict[str, Any], cid: str) -> Any:
        if cid == "c0.2":
            return ["error", {"type": "overQuota", "description": "full"}, cid]
        ids = {k: {"id": k} for k in args["create"]}
        return [name, {"accountId": "A", "newState": "n", "created": ids}, cid]

    sp.absorb(env1, answer(env1, reply))
    env2 = sp.next_envelope()
    assert env2 is None  # the dependent call fails client-side, nothing more to send
    with pytest.raises(jmapchat.MethodError, match="chunk 2 of 3"):
        s.result  # noqa: B018
    partial = s.extra_responses[0][1]
    assert len(partial["created"]) == 500
    assert isinstance(after.error, jmapchat.InvalidResultReference)


def test_max_size_request_halves_chunks_and_rejects_huge_single_calls() -> None:
    req = jmapchat.Request(account_id="A")
    req.message.set(create={f"m{i}": MessageCreate(chat_id="C", body="x" * 100) for i in range(40)})
    envs = plan(req, limits(max_size_request=2500))
    assert len(envs) > 1
    assert all(len(e.body) <= 2500 for e in envs)
    assert sum(p.objects or 0 for e in envs for p in e.pieces) == 40

    big = jmapchat.Request(account_id="A")
    big.core.echo({"blob": "x" * 5000})
    with pytest.raises(jmapchat.LocalProtocolError, match="maxSizeRequest"):
        plan(big, limits(max_size_request=2500))


def test_replay_safety() -> None:
    req = jmapchat.Request(account_id="A")
    req.message.get(ids=["a"])
    req.core.echo({})
    assert plan(req, limits())[0].replay_safe
    req.message.set(create={"m": MessageCreate(chat_id="C", body="x")})
    assert not plan(req, limits())[0].replay_safe
    guarded = jmapchat.Request(account_id="A")
    guarded.message.set(create={"m": MessageCreate(chat_id="C", body="x")}, if_in_state="s")
    assert plan(guarded, limits())[0].replay_safe


def test_explain_shows_the_split_plan() -> None:
    req = jmapchat.Request(account_id="A")
    req.message.set(create={f"m{i}": MessageCreate(chat_id="C", body="x") for i in range(2100)})
    text = req.explain(limits=limits())
    assert "split plan: 2 HTTP request(s)" in text
    assert "c0 Message/set chunk 1-4/5 (2000 objects)" in text
    assert "split plan" not in req.explain()


def test_set_error_server_retry_after_becomes_rate_limited() -> None:
    from jmapchat._core import SetResponse
    from jmapchat.models import Message

    res = SetResponse[Message].model_validate(
        {
            "accountId": "A",
            "newState": "2",
            "notCreated": {
                "a": {"type": "rateLimited", "serverRetryAfter": 3},
                "b": {"type": "rateLimit", "serverRetryAfter": 5.5},
                "c": {"type": "forbidden"},
            },
        }
    )
    limited = res.rate_limited
    assert isinstance(limited, jmapchat.RateLimited)
    assert limited.retry_after == 5.5
    ok = SetResponse[Message].model_validate({"accountId": "A", "newState": "2"})
    assert ok.rate_limited is None


def test_explain_reports_a_refused_plan_instead_of_raising() -> None:
    req = jmapchat.Request(account_id="A")
    req.message.set(
        create={f"m{i}": MessageCreate(chat_id="C", body="x") for i in range(600)},
        if_in_state="s0",
    )
    assert "split plan: refused before sending" in req.explain(limits=limits())
