"""Turning Python argument values into JSON-ready values, and walking them for references.

Top-level `Ref` values become ``"#name"`` arguments in `_request`; everywhere else values
are plain JSON, models (serialized with ``to_wire()``) or `CreationRef` strings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, final

from pydantic import BaseModel

from ._errors import LocalProtocolError
from ._model import JMAPModel
from ._refs import Ref
from ._types import NOT_GIVEN, CreationRef, NotGiven

__all__ = ["ACCOUNT_ID", "AccountIdPlaceholder", "encode_value", "iter_nested"]


@final
class AccountIdPlaceholder:
    """Stands for "the request's account id", filled in when the request is built."""

    def __repr__(self) -> str:
        return "ACCOUNT_ID"


ACCOUNT_ID: Final = AccountIdPlaceholder()


def encode_value(value: Any, account_id: Callable[[], str]) -> Any:
    """A JSON-ready copy of ``value``: models → wire dicts, NOT_GIVEN entries dropped."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, JMAPModel):
        return value.to_wire()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(value, Mapping):
        return {str(k): encode_value(v, account_id) for k, v in value.items() if v is not NOT_GIVEN}
    if isinstance(value, list | tuple):
        return [encode_value(v, account_id) for v in value]
    if isinstance(value, AccountIdPlaceholder):
        return account_id()
    if isinstance(value, Ref):
        raise LocalProtocolError(
            f"{value!r} is nested inside an argument; RFC 8620 result references can only "
            "replace a whole top-level argument"
        )
    raise LocalProtocolError(f"cannot send a {type(value).__name__} value: {value!r}")


_SCALARS: frozenset[type] = frozenset({str, int, float, bool, type(None)})

# What iter_nested does with a value, decided once per type (dispatch is then a dict
# lookup instead of a chain of isinstance checks, ABCs included).
_LEAF, _REF, _MAPPING, _SEQUENCE, _MODEL = range(5)
_KINDS: dict[type, int] = dict.fromkeys(_SCALARS, _LEAF)
_KINDS[NotGiven] = _LEAF
_KINDS[AccountIdPlaceholder] = _LEAF


def _kind(tp: type) -> int:
    kind = _KINDS.get(tp)
    if kind is None:
        if issubclass(tp, CreationRef | Ref):
            kind = _REF
        elif tp is list or tp is tuple:  # exactly: other sequences are not walked
            kind = _SEQUENCE
        elif issubclass(tp, Mapping):
            kind = _MAPPING
        elif issubclass(tp, BaseModel):
            kind = _MODEL
        else:
            return _LEAF  # not cached: anything else holds no references
        if len(_KINDS) < 4096:
            _KINDS[tp] = kind
    return kind


def iter_nested(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(where, obj)`` for every `Ref` and `CreationRef` inside ``value``.

    Walks dict keys and values, lists and model fields (including extra fields). Hot on
    every call added, so the kind of each type is looked up, and leaves (scalars,
    NOT_GIVEN) are skipped without recursing.
    """
    kind = _kind(type(value))
    if kind == _LEAF:
        return
    if kind == _REF:
        yield path, value
        return
    kinds = _KINDS
    if kind == _MAPPING:
        for k, v in value.items():
            if type(k) is CreationRef:
                yield f"{path}[key {k!s}]", k
            if kinds.get(type(v)) != _LEAF:
                yield from iter_nested(v, f"{path}[{k!r}]")
        return
    if kind == _SEQUENCE:
        for i, v in enumerate(value):
            if kinds.get(type(v)) != _LEAF:
                yield from iter_nested(v, f"{path}[{i}]")
        return
    for k, v in value.__dict__.items():
        if kinds.get(type(v)) != _LEAF:
            yield from iter_nested(v, f"{path}.{k}")
    if value.__pydantic_extra__:
        for k, v in value.__pydantic_extra__.items():
            yield from iter_nested(v, f"{path}.{k}")
