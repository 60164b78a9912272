"""RFC 6901 pointers with RFC 8620's '*' rule, checked against a reference implementation."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jmapchat._core._pointer import PointerError, escape_token, evaluate, parse
from jmapchat._core._resolve import ReferenceResolutionError, resolve_result_references

DOC = {
    "ids": ["a", "b"],
    "list": [
        {"id": "1", "memberIds": ["x", "y"], "n": {"k": 1}},
        {"id": "2", "memberIds": ["z"], "n": {"k": 2}},
    ],
    "a/b": 1,
    "m~n": 2,
    "": 3,
    "created": {"k1": {"id": "M1"}},
}


@pytest.mark.parametrize(
    ("pointer", "expected"),
    [
        ("", DOC),
        ("/ids", ["a", "b"]),
        ("/ids/1", "b"),
        ("/list/*/id", ["1", "2"]),
        ("/list/*/memberIds", ["x", "y", "z"]),  # flattened
        ("/list/*/n/k", [1, 2]),
        ("/list/0/memberIds/1", "y"),
        ("/a~1b", 1),
        ("/m~0n", 2),
        ("/", 3),
        ("/created/k1/id", "M1"),
    ],
)
def test_evaluate(pointer: str, expected: Any) -> None:
    assert evaluate(DOC, pointer) == expected


@pytest.mark.parametrize(
    "pointer",
    ["ids", "/nope", "/ids/2", "/ids/01", "/ids/-", "/ids/x", "/list/*/nope", "/a~2b", "/ids/0/x"],
)
def test_evaluate_errors(pointer: str) -> None:
    with pytest.raises(PointerError):
        evaluate(DOC, pointer)


def reference_evaluate(doc: Any, pointer: str) -> Any:
    """A deliberately naive reimplementation, straight from the RFC text."""
    if pointer == "":
        return doc
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]

    def go(value: Any, rest: list[str]) -> Any:
        if not rest:
            return value
        head, tail = rest[0], rest[1:]
        if isinstance(value, list) and head == "*":
            out: list[Any] = []
            for item in value:
                r = go(item, tail)
                out.extend(r) if isinstance(r, list) else out.append(r)
            return out
        if isinstance(value, list):
            return go(value[int(head)], tail)
        return go(value[head], tail)

    return go(doc, tokens)


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))
json_doc = st.recursive(
    json_leaf,
    lambda kids: st.one_of(
        st.lists(kids, max_size=4), st.dictionaries(st.sampled_from("ab/~*c"), kids, max_size=4)
    ),
    max_leaves=20,
)


def pointers_into(doc: Any) -> st.SearchStrategy[str]:
    """Pointers that resolve (mostly) — built by walking the document."""

    @st.composite
    def build(draw: st.DrawFn) -> str:
        value, parts = doc, []
        while draw(st.booleans()):
            if isinstance(value, dict) and value:
                key = draw(st.sampled_from(sorted(value)))
                parts.append(escape_token(key))
                value = value[key]
            elif isinstance(value, list) and value:
                if draw(st.booleans()) and all(isinstance(v, dict | list) for v in value):
                    parts.append("*")
                    return "/" + "/".join(parts) if parts else ""
                i = draw(st.integers(0, len(value) - 1))
                parts.append(str(i))
                value = value[i]
            else:
                break
        return "".join("/" + p for p in parts)

    return build()


@settings(max_examples=300, deadline=None)
@given(st.data(), json_doc)
def test_matches_reference_implementation(data: st.DataObject, doc: Any) -> None:
    pointer = data.draw(pointers_into(doc))
    try:
        expected: Any = reference_evaluate(doc, pointer)
    except (KeyError, IndexError, ValueError, TypeError):
        with pytest.raises(PointerError):
            evaluate(doc, pointer)
        return
    assert evaluate(doc, pointer) == expected


@settings(max_examples=300, deadline=None)
@given(json_doc, st.text(max_size=12))
def test_arbitrary_pointers_only_raise_pointer_error(doc: Any, pointer: str) -> None:
    with contextlib.suppress(PointerError):
        evaluate(doc, pointer)


def test_parse_unescapes_in_order() -> None:
    assert parse("/~01") == ["~1"]  # ~0 first would give "/"; RFC order gives "~1"


def test_resolve_result_references() -> None:
    responses = [("Message/query", {"ids": ["a", "b"]}, "c0")]
    args = {"accountId": "A", "#ids": {"resultOf": "c0", "name": "Message/query", "path": "/ids"}}
    assert resolve_result_references(args, responses) == {"accountId": "A", "ids": ["a", "b"]}
    with pytest.raises(ReferenceResolutionError, match="not 'Message/get'"):
        resolve_result_references(
            {"#ids": {"resultOf": "c0", "name": "Message/get", "path": "/ids"}}, responses
        )
    with pytest.raises(ReferenceResolutionError) as info:
        resolve_result_references({"ids": [], "#ids": {}}, responses)
    assert info.value.invalid_arguments
    with pytest.raises(ReferenceResolutionError, match="no earlier response"):
        resolve_result_references(
            {"#ids": {"resultOf": "c9", "name": "Message/query", "path": "/ids"}}, responses
        )
