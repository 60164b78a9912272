"""Turning Python argument values into JSON-ready values, and walking them for references.

Top-level `Ref` values become ``"#name"`` arguments in `_request`; everywhere else values
are plain JSON, models (serialized with ``to_wire()``) or `CreationRef` strings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from itertools import chain
from operator import attrgetter
from typing import Any, Final, final

from pydantic import BaseModel, TypeAdapter

from ._errors import LocalProtocolError
from ._model import JMAPInput, JMAPModel
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
        if len(value) >= _BATCH_MIN:
            batched = _encode_model_map(value)
            if batched is None:
                batched = _copy_flat_dict_map(value)
            if batched is not None:
                return batched
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


# A map of this many models or more (a bulk /set's ``create``) may be serialized in one
# pydantic-core call instead of one ``model_dump`` per model.
_BATCH_MIN = 32
_WIRE_METHODS: frozenset[Any] = frozenset({JMAPModel.to_wire, JMAPInput.to_wire})
_MAP_ADAPTERS: dict[type, TypeAdapter[Any]] = {}


def _encode_model_map(value: Mapping[Any, Any]) -> dict[str, Any] | None:
    """``value`` (plain ``str`` keys → models of one exact class) as wire dicts, or None.

    The same as ``{k: v.to_wire() ...}``: a ``dict[str, Model]`` adapter dumps each value
    with the model's own serializer and the same options (json mode, aliases,
    ``exclude_unset``). Only for classes whose ``to_wire`` is the base one (not, e.g.,
    `MessageUpdate`, which adds keys) and exactly one class (no subclass instances, which
    the adapter would serialize as the declared class).
    """
    if type(value) is not dict:
        return None
    first = next(iter(value.values()))
    tp = type(first)
    if getattr(tp, "to_wire", None) not in _WIRE_METHODS:
        return None
    if not _STR_ONLY.issuperset(map(type, value)) or not {tp}.issuperset(map(type, value.values())):
        return None
    try:
        adapter = _MAP_ADAPTERS.get(tp)
        if adapter is None:
            adapter = TypeAdapter(dict[str, tp])  # type: ignore[valid-type]
            if len(_MAP_ADAPTERS) < 256:
                _MAP_ADAPTERS[tp] = adapter
        out: dict[str, Any] = adapter.dump_python(
            value, mode="json", by_alias=True, exclude_unset=True
        )
    except Exception:  # the per-model path below raises its own, usual error
        return None
    return out


_STR_ONLY: frozenset[type] = frozenset({str})
_DICT_ONLY: frozenset[type] = frozenset({dict})
_SCALARS: frozenset[type] = frozenset({str, int, float, bool, type(None)})


def _copy_flat_dict_map(value: Mapping[Any, Any]) -> dict[str, Any] | None:
    """``value`` (plain ``str`` keys → plain dicts of ``str`` → JSON scalars) copied, or None.

    The same as the general path, which copies each inner dict key by key: a bulk /set
    of raw wire dicts (what `jmapchat.bulk` sends) is copied without a Python loop.
    """
    if type(value) is not dict or not _flat_dicts(value, _SCALARS):
        return None
    return dict(zip(value, map(dict, value.values()), strict=True))


def _flat_dicts(value: dict[Any, Any], leaves: frozenset[type]) -> bool:
    """True if ``value`` maps exact ``str`` keys to exact dicts whose keys are exact ``str``
    and whose values' types are all in ``leaves`` (checked in C, no Python loop)."""
    inner = value.values()
    return (
        _DICT_ONLY.issuperset(map(type, inner))
        and _STR_ONLY.issuperset(map(type, value))
        and _STR_ONLY.issuperset(map(type, chain.from_iterable(inner)))
        and leaves.issuperset(map(type, chain.from_iterable(map(dict.values, inner))))
    )


# What iter_nested does with a value, decided once per type (dispatch is then a dict
# lookup instead of a chain of isinstance checks, ABCs included).
_LEAF, _REF, _MAPPING, _SEQUENCE, _MODEL = range(5)
_KINDS: dict[type, int] = dict.fromkeys(_SCALARS, _LEAF)
_KINDS[NotGiven] = _LEAF
_KINDS[AccountIdPlaceholder] = _LEAF
_LEAF_TYPES: frozenset[type] = frozenset(_KINDS)  # the only types cached as _LEAF


def _flat_model(model: Any) -> bool:
    """True if ``model`` has no extras and every field value is a leaf (nothing to walk).

    The check runs in C (``issuperset`` over ``map(type, ...)``): a bulk /set's create
    objects are skipped without a generator each.
    """
    return not model.__pydantic_extra__ and _LEAF_TYPES.issuperset(
        map(type, model.__dict__.values())
    )


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


_get_dict = attrgetter("__dict__")
_get_extra = attrgetter("__pydantic_extra__")


def _flat_model_map(value: Mapping[Any, Any]) -> bool:
    """True if ``value`` maps non-`CreationRef` keys to flat models only (see `_flat_model`).

    The same answer as checking every entry, computed with C-level iteration: a bulk
    /set's ``create`` map of 10,000 objects costs no Python loop when nothing is in it.
    """
    values = value.values()
    if not all(_KINDS.get(tp) == _MODEL for tp in set(map(type, values))):
        return False
    if CreationRef in set(map(type, value)) or any(map(_get_extra, values)):
        return False
    fields = chain.from_iterable(map(dict.values, map(_get_dict, values)))
    return _LEAF_TYPES.issuperset(map(type, fields))


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
        if len(value) >= _BATCH_MIN and (
            _flat_model_map(value) or (type(value) is dict and _flat_dicts(value, _LEAF_TYPES))
        ):
            return
        for k, v in value.items():
            if type(k) is CreationRef:
                yield f"{path}[key {k!s}]", k
            sub = kinds.get(type(v))
            if sub != _LEAF and (sub != _MODEL or not _flat_model(v)):
                yield from iter_nested(v, f"{path}[{k!r}]")
        return
    if kind == _SEQUENCE:
        for i, v in enumerate(value):
            sub = kinds.get(type(v))
            if sub != _LEAF and (sub != _MODEL or not _flat_model(v)):
                yield from iter_nested(v, f"{path}[{i}]")
        return
    for k, v in value.__dict__.items():
        sub = kinds.get(type(v))
        if sub != _LEAF and (sub != _MODEL or not _flat_model(v)):
            yield from iter_nested(v, f"{path}.{k}")
    if value.__pydantic_extra__:
        for k, v in value.__pydantic_extra__.items():
            yield from iter_nested(v, f"{path}.{k}")
