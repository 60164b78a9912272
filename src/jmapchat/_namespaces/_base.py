"""Shared pieces of the per-type namespaces: the guarded base, typed sort, helpers.

Every namespace derives from `ChatNamespace` (guards that apply to every type) and
mixes in the core's generic standard methods. Types with ``/query`` use
`SortedQueryMethods` / `SortedQueryChangesMethods`, which widen ``sort`` to accept the
type's sort-property names (``sort=["name"]``) besides full `Comparator` objects, and
offer ``ns.comparator("name", ascending=False)`` typed by those names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from jmapchat._core._call import QueryCall, QueryChangesCall, SetCall
from jmapchat._core._errors import LocalProtocolError
from jmapchat._core._model import JMAPModel
from jmapchat._core._refs import Ref
from jmapchat._core._responses import Comparator, FilterOperator
from jmapchat._core._standard import (
    IdsArg,
    Namespace,
    QueryChangesMethods,
    QueryMethods,
)
from jmapchat._core._types import NOT_GIVEN, Id, NotGiven

__all__ = [
    "ChatNamespace",
    "SortArg",
    "SortedQueryChangesMethods",
    "SortedQueryMethods",
    "check_ids",
    "require_text",
]

FilterT = TypeVar("FilterT", bound=JMAPModel)
SortT = TypeVar("SortT", bound=str)

SortArg = Sequence[Comparator | SortT] | NotGiven
"""``sort``: comparators, or bare sort-property names (ascending)."""


class ChatNamespace(Namespace):
    """Base of every namespace here: guards shared by all ``/set`` calls."""

    def _set(
        self,
        *,
        create: Mapping[str, Any] | NotGiven = NOT_GIVEN,
        update: Mapping[str, Any] | NotGiven = NOT_GIVEN,
        destroy: IdsArg | NotGiven = NOT_GIVEN,
        if_in_state: str | NotGiven = NOT_GIVEN,
        account_id: str | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> SetCall[Any]:
        method = f"{self.type_name}/set"
        if not isinstance(destroy, NotGiven | Ref):
            check_ids(destroy, method, "destroy")
        if not isinstance(update, NotGiven):
            for key in update:
                if not isinstance(key, str) or not key:
                    raise LocalProtocolError(
                        f"{method}: update keys must be non-empty ids, not {key!r}"
                    )
        return super()._set(
            create=create,
            update=update,
            destroy=destroy,
            if_in_state=if_in_state,
            account_id=account_id,
            call_id=call_id,
            extra=extra,
        )


def check_ids(ids: Any, method: str, argument: str) -> list[Any]:
    """Guard an explicit id list: a sequence (not a string) of non-empty strings, not empty."""
    if isinstance(ids, str) or not isinstance(ids, Sequence):
        raise LocalProtocolError(
            f"{method}: {argument} must be a list of ids, not {type(ids).__name__}"
        )
    out = list(ids)
    if not out:
        raise LocalProtocolError(
            f"{method}: {argument}=[] names no objects; leave the argument out instead"
        )
    for item in out:
        if not isinstance(item, str) or not item:
            raise LocalProtocolError(f"{method}: {argument} holds an invalid id {item!r}")
    return out


def require_text(value: Any, method: str, argument: str) -> str:
    """Guard a required string argument against ``""`` / whitespace."""
    if not isinstance(value, str) or not value.strip():
        raise LocalProtocolError(f"{method}: {argument} must be a non-empty string")
    return value


def _comparators(sort: Any) -> Any:
    if isinstance(sort, NotGiven):
        return sort
    if isinstance(sort, str | Comparator):
        raise LocalProtocolError(
            "sort must be a list of comparators or property names, not a single one"
        )
    return [Comparator(property=s) if isinstance(s, str) else s for s in sort]


class SortedQueryMethods(QueryMethods[FilterT], Generic[FilterT, SortT]):
    """``/query`` whose ``sort`` also takes the type's sort-property names."""

    def comparator(
        self,
        property: SortT,
        *,
        ascending: bool | NotGiven = NOT_GIVEN,
        collation: str | NotGiven = NOT_GIVEN,
    ) -> Comparator:
        """A typed `Comparator` for this type's ``/query`` ``sort``."""
        return Comparator(property=property, is_ascending=ascending, collation=collation)

    def query(
        self,
        *,
        filter: FilterT | FilterOperator | NotGiven = NOT_GIVEN,
        sort: SortArg[SortT] = NOT_GIVEN,
        position: int | NotGiven = NOT_GIVEN,
        anchor: Id | NotGiven = NOT_GIVEN,
        anchor_offset: int | NotGiven = NOT_GIVEN,
        limit: int | NotGiven = NOT_GIVEN,
        calculate_total: bool | NotGiven = NOT_GIVEN,
        account_id: str | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
    ) -> QueryCall:
        """``/query``: ids matching ``filter`` in ``sort`` order, one window of them."""
        return super().query(
            filter=filter,
            sort=_comparators(sort),
            position=position,
            anchor=anchor,
            anchor_offset=anchor_offset,
            limit=limit,
            calculate_total=calculate_total,
            account_id=account_id,
            call_id=call_id,
        )


class SortedQueryChangesMethods(QueryChangesMethods[FilterT], Generic[FilterT, SortT]):
    """``/queryChanges`` whose ``sort`` also takes the type's sort-property names."""

    def query_changes(
        self,
        since_query_state: str | Ref[str],
        *,
        filter: FilterT | FilterOperator | NotGiven = NOT_GIVEN,
        sort: SortArg[SortT] = NOT_GIVEN,
        max_changes: int | NotGiven = NOT_GIVEN,
        up_to_id: Id | NotGiven = NOT_GIVEN,
        calculate_total: bool | NotGiven = NOT_GIVEN,
        account_id: str | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
    ) -> QueryChangesCall:
        """``/queryChanges``: how a query's results changed since ``since_query_state``.

        Pass the same ``filter`` and ``sort`` as the original ``/query``.
        """
        return super().query_changes(
            since_query_state,
            filter=filter,
            sort=_comparators(sort),
            max_changes=max_changes,
            up_to_id=up_to_id,
            calculate_total=calculate_total,
            account_id=account_id,
            call_id=call_id,
        )
