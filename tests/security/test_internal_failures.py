"""Inputs that used to end in HTTP 500 text/plain or serverFail (issue 9, point 4): each
now gets problem details or a method error that says why."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from jmapchat.server import ChatServer

from .conftest import Api

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("ping", ["²", "①", "٣", "9" * 100])
async def test_eventsource_unicode_digit_ping_is_a_problem(
    client: httpx.AsyncClient, alice: Api, ping: str
) -> None:
    r = await client.get(
        "/jmap/eventsource/",
        params={"types": "*", "closeafter": "state", "ping": ping},
        headers=alice.headers,
    )
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "ping" in r.json()["detail"]


@pytest.mark.parametrize("state", ["²", "①", "١٢"])
async def test_unicode_digit_states_are_method_errors(alice: Api, state: str) -> None:
    name, args = await alice.call("Message/changes", {"sinceState": state})
    assert (name, args["type"]) == ("error", "cannotCalculateChanges")
    name, args = await alice.call("Chat/queryChanges", {"sinceQueryState": state})
    assert (name, args["type"]) == ("error", "cannotCalculateChanges")


async def test_unicode_digit_content_length_is_a_problem(alice: Api) -> None:
    r = await alice.client.post(
        "/jmap/api/",
        content=b"{}",
        headers={
            **alice.headers,
            "Content-Type": "application/json",
            "Content-Length": "²".encode("latin-1"),
        },
    )
    assert r.status_code == 400


async def test_deeply_nested_echo_is_invalid_arguments(alice: Api) -> None:
    value: Any = 1
    for _ in range(300):
        value = [value]
    out = await alice.request([["Core/echo", {"v": value}, "0"], ["Core/echo", {"ok": 1}, "1"]])
    (n0, a0, _), (n1, a1, _) = out["methodResponses"]
    assert (n0, a0["type"]) == ("error", "invalidArguments")
    assert "nest" in a0["description"]
    assert (n1, a1) == ("Core/echo", {"ok": 1})


async def test_request_nested_beyond_the_parser_is_a_problem(alice: Api) -> None:
    body = (
        b'{"using":[],"methodCalls":[["Core/echo",{"v":' + b"[" * 2000 + b"]" * 2000 + b'},"0"]]}'
    )
    r = await alice.client.post(
        "/jmap/api/", content=body, headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")


def test_ascii_numeric_collation_of_huge_numbers() -> None:
    from jmapchat.server._query import _collate

    huge = "9" * 100_000
    keys = [_collate(v, "i;ascii-numeric") for v in ["10", huge, "9", "abc", "0010", "2x"]]
    order = sorted(range(6), key=lambda i: keys[i])
    # RFC 4790: the number is the string's leading ASCII digits; none: +infinity
    assert order == [5, 2, 0, 4, 1, 3]
    assert keys[0] == keys[4]  # "10" == "0010"
    assert _collate("²", "i;ascii-numeric") == _collate("abc", "i;ascii-numeric")


async def test_ascii_numeric_sort_of_long_digit_names(server: ChatServer, alice: Api) -> None:
    for name in ["7" * 200, "12", "3"]:
        await alice.create("Chat", {"kind": "group", "name": name, "memberIds": ["bob"]})
    name, args = await alice.call(
        "Chat/query",
        {"sort": [{"property": "name", "collation": "i;ascii-numeric"}]},
    )
    assert name == "Chat/query", args
