"""Requests built wrong are rejected before any I/O, naming the call and argument."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jmapchat._core import CreationRef, EchoResponse, LocalProtocolError
from jmapchat._core._call import Call

from ._ns import MsgCreate, MsgFilter, MsgUpdate, Req


def ref_to_other_request() -> None:
    other = Req(account_id="A1")
    q = other.msg.query()
    Req(account_id="A1").msg.get(ids=q.ids)


def ref_to_later_call() -> None:
    req = Req(account_id="A1")
    q = req.msg.query()
    req.msg.get(ids=q.ids)
    req.calls.reverse()  # the /get now comes first
    req.build()


def path_not_in_model() -> None:
    req = Req(account_id="A1")
    q = req.msg.query()
    q.ref("/idz")


def attribute_not_in_model() -> None:
    req = Req(account_id="A1")
    g = req.msg.get(ids=["a"])
    g.list.each.colour  # noqa: B018


def property_not_requested() -> None:
    req = Req(account_id="A1")
    g = req.msg.get(ids=["a"], properties=["id", "body"])
    req.msg.get(ids=g.list.each.chat_id)


def unknown_creation_id() -> None:
    req = Req(account_id="A1")
    req.msg.set(create={"m1": MsgCreate(chat_id="C", body="b")})
    req.msg.set(update={CreationRef("nope"): MsgUpdate(body="x")})


def duplicate_creation_id() -> None:
    req = Req(account_id="A1")
    req.msg.set(create={"m1": MsgCreate(chat_id="C", body="b")})
    req.msg.set(create={"m1": MsgCreate(chat_id="C", body="c")})


def forward_creation_id() -> None:
    req = Req(account_id="A1")
    req.msg.query(filter=MsgFilter(chat_id=CreationRef("c1")))
    req.msg.set(create={"c1": MsgCreate(chat_id="C", body="b")})


def forward_creation_id_after_reorder() -> None:
    req = Req(account_id="A1")
    s = req.msg.set(create={"m1": MsgCreate(chat_id="C", body="b")})
    req.msg.query(filter=MsgFilter(chat_id=s.created_id("m1")))
    req.calls.reverse()
    req.build()


def created_id_not_created_by_call() -> None:
    req = Req(account_id="A1")
    s = req.msg.set(create={"m1": MsgCreate(chat_id="C", body="b")})
    s.created_id("m2")


def creation_ref_of_other_request() -> None:
    other = Req(account_id="A1")
    s = other.msg.set(create={"m1": MsgCreate(chat_id="C", body="b")})
    req = Req(account_id="A1")
    req.msg.set(create={"m1": MsgCreate(chat_id="C", body="b")})
    req.msg.query(filter=MsgFilter(chat_id=s.created_id("m1")))


def both_plain_and_reference_argument() -> None:
    req = Req(account_id="A1")
    req.invoke(
        "Message/get",
        {"ids": ["a"], "#ids": {"resultOf": "c9", "name": "Message/query", "path": "/ids"}},
        response=EchoResponse,
    )


def duplicate_call_id() -> None:
    req = Req(account_id="A1")
    req.msg.query(call_id="q")
    req.msg.query(call_id="q")


def nested_reference() -> None:
    req = Req(account_id="A1")
    q = req.msg.query()
    req.invoke("Message/query", {"filter": {"inIds": q.ids}}, response=EchoResponse)


def malformed_pointer() -> None:
    req = Req(account_id="A1")
    req.msg.query().ref("ids")


def bad_escape_in_pointer() -> None:
    req = Req(account_id="A1")
    req.msg.query().ref("/ids~2")


def no_account_id() -> None:
    req = Req()
    req.msg.query()
    req.build()


def empty_request() -> None:
    Req(account_id="A1").build()


def bad_method_name() -> None:
    Req().invoke("echo", {}, response=EchoResponse)


def unsent_result() -> None:
    req = Req(account_id="A1")
    req.msg.query().result  # noqa: B018


def ref_into_scalar() -> None:
    req = Req(account_id="A1")
    req.msg.query().ref("/total/x")


def list_needs_star() -> None:
    req = Req(account_id="A1")
    req.msg.query().ref("/ids/foo")


def foreign_call_object() -> None:
    req = Req(account_id="A1")
    stray: Call[EchoResponse] = Call(
        req,
        method="Core/echo",
        args={},
        call_id="zz",
        index=0,
        response_type=EchoResponse,
        using=frozenset(),
    )
    req.msg.get(ids=stray.ref(""))


CASES: list[tuple[Callable[[], None], str]] = [
    (ref_to_other_request, r"call c0 \(Message/get\).*'ids'.*not in this request"),
    (ref_to_later_call, r"references a later call c0"),
    (path_not_in_model, r"QueryResponse has no property 'idz'"),
    (attribute_not_in_model, r"Msg has no property 'colour'"),
    (property_not_requested, r"'/list/\*/chatId' but call c0 .* only requests properties"),
    (unknown_creation_id, r"call c1 \(Message/set\).*unknown creation id 'nope'"),
    (duplicate_creation_id, r"duplicate creation id 'm1' \(already created by call c0"),
    (forward_creation_id, r"call c0 \(Message/query\).*unknown creation id 'c1'"),
    (forward_creation_id_after_reorder, r"uses creation id 'm1' before call c0 creates it"),
    (created_id_not_created_by_call, r"creates no 'm2'"),
    (creation_ref_of_other_request, r"creation id 'm1' of call c0, which is not in this request"),
    (both_plain_and_reference_argument, r"both 'ids' and '#ids' given"),
    (duplicate_call_id, r"duplicate call id 'q'"),
    (nested_reference, r"filter\['inIds'\]. holds a result reference nested"),
    (malformed_pointer, r"bad reference path 'ids'"),
    (bad_escape_in_pointer, r"invalid escape"),
    (no_account_id, r"needs an accountId"),
    (empty_request, r"no method calls"),
    (bad_method_name, r"'Type/method'"),
    (unsent_result, r"has not been sent yet"),
    (ref_into_scalar, r"cannot descend into int"),
    (list_needs_star, r"'foo' cannot index a list"),
    (foreign_call_object, r"references call zz .* not in this request"),
]


@pytest.mark.parametrize(("build", "message"), CASES, ids=[c[0].__name__ for c in CASES])
def test_misbuilt_request_is_rejected_before_io(build: Callable[[], None], message: str) -> None:
    with pytest.raises(LocalProtocolError, match=message):
        build()


def test_rejected_call_leaves_request_unchanged() -> None:
    req = Req(account_id="A1")
    req.msg.set(create={"m1": MsgCreate(chat_id="C", body="b")})
    with pytest.raises(LocalProtocolError):
        req.msg.set(
            create={"m2": MsgCreate(chat_id="C", body="b")},
            update={CreationRef("nope"): MsgUpdate(body="x")},
        )
    assert len(req) == 1
    # m2 was not left registered by the rejected call
    req.msg.set(create={"m2": MsgCreate(chat_id="C", body="b")})
    assert len(req) == 2
