"""Typed result references (RFC 8620 §3.7), derived from the source call's response model.

A `Ref` names a value inside an earlier call's response: ``query.ids`` is ``/ids``,
``get.list.each.id`` is ``/list/*/id``. Every step is checked against the pydantic
response model when the reference is made, so a typo fails at the line that wrote it,
long before anything is sent. Passing a `Ref` as an argument emits ``"#arg": {resultOf,
name, path}``.
"""

from __future__ import annotations

import types
import typing
from typing import TYPE_CHECKING, Any, Generic, TypeVar, Union

from pydantic import BaseModel

from ._errors import BadReference, LocalProtocolError
from ._pointer import PointerError, escape_token, parse

if TYPE_CHECKING:
    from ._call import Call

__all__ = ["Ref", "step_type"]

T_co = TypeVar("T_co", covariant=True)

_ANY = object()  # "anything goes below here" marker type


def _unwrap_optional(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        models = [a for a in args if _is_container(a)]
        if len(args) == 1:
            return _unwrap_optional(args[0])
        if len(models) == 1:
            return _unwrap_optional(models[0])
        return _ANY
    if origin is typing.Annotated:
        return _unwrap_optional(typing.get_args(tp)[0])
    return tp


def _is_container(tp: Any) -> bool:
    origin = typing.get_origin(tp) or tp
    if origin in (list, dict, tuple):
        return True
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _model_field(model: type[BaseModel], token: str) -> tuple[str, Any] | None:
    """Find a field by wire name (alias) or Python name; return (wire name, annotation)."""
    fields = model.model_fields
    for name, info in fields.items():
        alias = info.alias or name
        if token in (alias, name):
            return alias, info.annotation
    return None


def step_type(tp: Any, token: str) -> tuple[str, Any]:
    """One pointer step into a type: return (wire token, type below it).

    Raises `LocalProtocolError` when the model has no such member.
    """
    tp = _unwrap_optional(tp)
    if tp is _ANY or tp is Any or tp is object:
        return token, _ANY
    origin = typing.get_origin(tp) or tp
    if origin in (list, tuple):
        args = typing.get_args(tp)
        item = args[0] if args else _ANY
        if token == "*" or token.isdigit():
            return token, item
        raise LocalProtocolError(f"{token!r} cannot index a list (use '*' or an index)")
    if origin is dict:
        args = typing.get_args(tp)
        return token, (args[1] if len(args) == 2 else _ANY)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if not tp.model_fields:
            return token, _ANY  # open object such as Core/echo's arguments
        found = _model_field(tp, token)
        if found is None:
            known = ", ".join(sorted((i.alias or n) for n, i in tp.model_fields.items()))
            raise LocalProtocolError(f"{tp.__name__} has no property {token!r} (known: {known})")
        return found
    raise LocalProtocolError(f"cannot descend into {getattr(tp, '__name__', tp)!s} with {token!r}")


class Ref(Generic[T_co]):
    """A reference to (part of) the result of an earlier call in the same request.

    Build one from a call handle (``q.ids``, ``g.list.each.id``, ``call.ref("/path")``);
    extend it with attribute access (snake_case names map to wire names), ``.each``
    (``/*``) or ``[key]``.
    """

    __slots__ = ("_target", "path", "source", "tokens")

    source: Call[Any]
    path: str
    tokens: tuple[str, ...]

    def __init__(self, source: Call[Any], tokens: tuple[str, ...], target: Any) -> None:
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "tokens", tokens)
        object.__setattr__(self, "path", "".join("/" + escape_token(t) for t in tokens))
        object.__setattr__(self, "_target", target)

    @classmethod
    def from_path(cls, source: Call[Any], path: str) -> Ref[Any]:
        """Validate ``path`` against the source call's response model."""
        try:
            raw = parse(path)
        except PointerError as exc:
            raise LocalProtocolError(
                f"bad reference path {path!r} into {source.method} (call {source.id}): {exc}"
            ) from None
        ref: Ref[Any] = Ref(source, (), source.response_type)
        for token in raw:
            ref = ref._child(token)
        return ref

    def _child(self, token: str) -> Ref[Any]:
        try:
            wire, below = step_type(self._target, token)
        except LocalProtocolError as exc:
            raise BadReference(
                f"bad reference {self.path + '/' + escape_token(token)!r} into "
                f"{self.source.method} (call {self.source.id}): {exc}"
            ) from None
        return Ref(self.source, (*self.tokens, wire), below)

    def __getattr__(self, name: str) -> Ref[Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._child(name)

    def __getitem__(self, key: str | int) -> Ref[Any]:
        return self._child(str(key))

    @property
    def each(self) -> Ref[Any]:
        """Map over a list: ``/list`` → ``/list/*`` (RFC 8620 flattening applies)."""
        return self._child("*")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Ref is immutable")

    def to_json(self) -> dict[str, str]:
        """The ResultReference object of RFC 8620 §3.7."""
        return {"resultOf": self.source.id, "name": self.source.method, "path": self.path}

    def __repr__(self) -> str:
        return f"Ref({self.source.id}:{self.source.method} {self.path})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ref) and other.source is self.source and other.path == self.path

    def __hash__(self) -> int:
        return hash((id(self.source), self.path))
