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
from ._types import NOT_GIVEN, CreationRef

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


_SCALARS = frozenset({str, int, float, bool, type(None)})


def iter_nested(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(where, obj)`` for every `Ref` and `CreationRef` inside ``value``.

    Walks dict keys and values, lists and model fields (including extra fields). Hot on
    every call added, so plain types are dispatched on ``type()`` before any isinstance.
    """
    tp = type(value)
    if tp in _SCALARS:
        return
    if tp is CreationRef or tp is Ref or isinstance(value, CreationRef | Ref):
        yield path, value
        return
    if tp is dict or (tp is not list and tp is not tuple and isinstance(value, Mapping)):
        for k, v in value.items():
            if type(k) is CreationRef:
                yield f"{path}[key {k!s}]", k
            if type(v) not in _SCALARS:
                yield from iter_nested(v, f"{path}[{k!r}]")
        return
    if tp is list or tp is tuple:
        for i, v in enumerate(value):
            if type(v) not in _SCALARS:
                yield from iter_nested(v, f"{path}[{i}]")
        return
    if isinstance(value, BaseModel):
        for k, v in value.__dict__.items():
            if type(v) not in _SCALARS:
                yield from iter_nested(v, f"{path}.{k}")
        if value.__pydantic_extra__:
            for k, v in value.__pydantic_extra__.items():
                yield from iter_nested(v, f"{path}.{k}")
