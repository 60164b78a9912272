"""Checked by mypy --strict (see test_typing.py), never executed: the types users see."""

from __future__ import annotations

from typing import Any, assert_type

from jmapchat._core import (
    ChangesCall,
    ChangesResponse,
    EchoResponse,
    GetCall,
    GetResponse,
    QueryCall,
    QueryResponse,
    Ref,
    Response,
    SetCall,
    SetResponse,
)
from jmapchat._core._call import Call
from tests.core._ns import Msg, MsgCreate, Req


def check(req: Req, resp: Response) -> None:
    q = req.msg.query()
    assert_type(q, QueryCall)
    assert_type(q.result, QueryResponse)
    assert_type(q.ids, Ref[list[str]])

    g = req.msg.get(ids=q.ids, properties=["id", "body"])
    assert_type(g, GetCall[Msg])
    assert_type(g.result, GetResponse[Msg])
    assert_type(g.result.list, list[Msg])
    assert_type(g.result.list[0].body, str | None)
    assert_type(resp[g], GetResponse[Msg])
    assert_type(g.list.each.id, Ref[Any])

    s = req.msg.set(create={"m1": MsgCreate(chat_id="C", body="b")})
    assert_type(s, SetCall[Msg])
    assert_type(s.result, SetResponse[Msg])

    c = req.msg.changes(since_state="s")
    assert_type(c, ChangesCall)
    assert_type(c.result, ChangesResponse)

    e = req.core.echo({"a": 1})
    assert_type(e, Call[EchoResponse])

    req.msg.get(ids=c.new_state)  # type: ignore[arg-type]  # a state is not a list of ids
    req.msg.get(ids=["a"], properties=["colour"])  # type: ignore[list-item]  # not a property
