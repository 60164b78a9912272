"""RFC 6901 JSON Pointer evaluation with RFC 8620 §3.7's ``*`` rule.

One implementation, shared by the client (client-side reference resolution when a
request is split) and the reference server (result references).

The ``*`` token maps the rest of the pointer over every item of an array; when the
rest of the pointer itself yields arrays, the results are flattened one level
(``/list/*/memberIds`` on two items with lists → one concatenated list).
"""

from __future__ import annotations

from typing import Any

__all__ = ["PointerError", "escape_token", "evaluate", "parse", "unescape_token"]


class PointerError(ValueError):
    """The pointer is malformed or does not resolve against the document."""


def escape_token(token: str) -> str:
    """Escape one reference token (``~`` → ``~0``, ``/`` → ``~1``)."""
    return token.replace("~", "~0").replace("/", "~1")


def unescape_token(token: str) -> str:
    if "~" in token:
        i = 0
        while True:
            i = token.find("~", i)
            if i < 0:
                break
            if i + 1 >= len(token) or token[i + 1] not in "01":
                raise PointerError(f"invalid escape in pointer token {token!r}")
            i += 2
        return token.replace("~1", "/").replace("~0", "~")
    return token


def parse(pointer: str) -> list[str]:
    """Split a pointer into unescaped tokens. ``""`` is the whole document."""
    if not isinstance(pointer, str):
        raise PointerError(f"pointer must be a string, not {type(pointer).__name__}")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PointerError(f"pointer {pointer!r} must be empty or start with '/'")
    return [unescape_token(t) for t in pointer[1:].split("/")]


def _array_index(token: str, length: int, pointer: str) -> int:
    if token == "-":
        raise PointerError(f"'-' does not address an existing element in {pointer!r}")
    if not token.isdigit() or (len(token) > 1 and token[0] == "0") or not token.isascii():
        raise PointerError(f"{token!r} is not an array index in {pointer!r}")
    index = int(token)
    if index >= length:
        raise PointerError(f"index {index} out of range (length {length}) in {pointer!r}")
    return index


def _walk(value: Any, tokens: list[str], pos: int, pointer: str) -> Any:
    while pos < len(tokens):
        token = tokens[pos]
        if isinstance(value, dict):
            if token not in value:
                raise PointerError(f"no member {token!r} at {_prefix(tokens, pos)!r}")
            value = value[token]
        elif isinstance(value, list):
            if token == "*":
                out: list[Any] = []
                for item in value:
                    sub = _walk(item, tokens, pos + 1, pointer)
                    if isinstance(sub, list):
                        out.extend(sub)
                    else:
                        out.append(sub)
                return out
            value = value[_array_index(token, len(value), pointer)]
        else:
            raise PointerError(
                f"cannot descend into {type(value).__name__} at {_prefix(tokens, pos)!r}"
            )
        pos += 1
    return value


def _prefix(tokens: list[str], pos: int) -> str:
    return "".join("/" + escape_token(t) for t in tokens[:pos]) or "/"


def evaluate(document: Any, pointer: str) -> Any:
    """Evaluate ``pointer`` against a JSON document (dicts, lists, scalars).

    Raises `PointerError` when the pointer is malformed or does not resolve.
    """
    tokens = parse(pointer)
    return _walk(document, tokens, 0, pointer)
