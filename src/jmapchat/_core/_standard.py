"""The RFC 8620 standard methods (§5.1–5.6) written once, generic over the data type.

A data type's namespace (``req.message``, ``req.chat`` …) is a small subclass that names
the type, its capability and its models, and mixes in exactly the methods the spec
allows for it — an operation the spec forbids is simply not there::

    class MessageMethods(
        GetMethods[Message, MessageProperty],
        ChangesMethods,
        SetMethods[Message, MessageCreate, MessageUpdate],
        QueryMethods[MessageFilter],
        QueryChangesMethods[MessageFilter],
    ):
        type_name = "Message"
        capability = CHAT
        model = Message
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from ._call import Call, ChangesCall, GetCall, QueryCall, QueryChangesCall, SetCall
from ._capabilities import CORE
from ._errors import LocalProtocolError
from ._model import JMAPModel
from ._refs import Ref
from ._request import BaseRequest
from ._responses import (
    ChangesResponse,
    Comparator,
    FilterOperator,
    GetResponse,
    QueryChangesResponse,
    QueryResponse,
    SetResponse,
)
from ._types import NOT_GIVEN, Id, NotGiven
from ._wire import ACCOUNT_ID

__all__ = [
    "ChangesMethods",
    "CreateDestroySetMethods",
    "GetMethods",
    "Namespace",
    "QueryChangesMethods",
    "QueryMethods",
    "SetMethods",
    "SortableMethods",
    "UpdateOnlySetMethods",
    "check_ids",
    "expect_success",
]

T = TypeVar("T", bound=JMAPModel)
P = TypeVar("P", bound=str)
CreateT = TypeVar("CreateT", bound=JMAPModel)
UpdateT = TypeVar("UpdateT", bound=JMAPModel)
FilterT = TypeVar("FilterT", bound=JMAPModel)
C = TypeVar("C")
CallT = TypeVar("CallT", bound=Call[Any])

SortT = TypeVar("SortT", bound=str)
IdsArg = Sequence[Id] | Ref[list[str]]
SortArg = Sequence[Comparator | SortT] | NotGiven
"""``sort``: comparators, or bare sort-property names (ascending)."""


class Namespace:
    """Base of every per-type namespace: knows the type name, capability and model."""

    type_name: ClassVar[str]
    capability: ClassVar[str] = CORE
    model: ClassVar[type[JMAPModel]]
    uses_account_id: ClassVar[bool] = True
    """False for types such as PushSubscription whose methods take no accountId."""

    def __init__(self, request: BaseRequest) -> None:
        self._request = request

    def __repr__(self) -> str:
        return f"<{self.type_name} methods>"

    def _check_filter(self, method: str, filter: Any) -> None:
        """Hook: refuse a ``/query`` or ``/queryChanges`` filter before any I/O."""

    def _args(self, account_id: str | NotGiven, **args: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.uses_account_id:
            out["accountId"] = ACCOUNT_ID if account_id is NOT_GIVEN else account_id
        for key, value in args.items():
            if value is not NOT_GIVEN:
                out[_camel(key)] = value
        return out

    def _add(
        self,
        call_class: type[C],
        method: str,
        args: dict[str, Any],
        response: type[Any],
        call_id: str | None,
    ) -> C:
        return self._request.add_call(  # type: ignore[type-var]
            call_class,
            method=f"{self.type_name}/{method}",
            args=args,
            response=response,
            using=(self.capability,),
            call_id=call_id,
        )

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
        args = self._args(
            account_id,
            if_in_state=if_in_state,
            create=create if isinstance(create, NotGiven) else dict(create),
            update=update if isinstance(update, NotGiven) else dict(update),
            destroy=destroy,
        )
        if extra:
            args.update(extra)
        return self._add(SetCall, "set", args, SetResponse[self.model], call_id)  # type: ignore[name-defined]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


class GetMethods(Namespace, Generic[T, P]):
    def get(
        self,
        ids: IdsArg | None = None,
        *,
        properties: Sequence[P] | None | NotGiven = NOT_GIVEN,
        account_id: str | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
    ) -> GetCall[T]:
        """``/get``: the objects with ``ids`` (``None`` = all), optionally only ``properties``."""
        props = (
            properties
            if properties is None or isinstance(properties, NotGiven)
            else list(properties)
        )
        args = self._args(account_id, ids=_ids(ids), properties=props)
        return self._add(GetCall, "get", args, GetResponse[self.model], call_id)  # type: ignore[name-defined]


class ChangesMethods(Namespace):
    def changes(
        self,
        since_state: str | Ref[str],
        *,
        max_changes: int | NotGiven = NOT_GIVEN,
        account_id: str | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
    ) -> ChangesCall:
        """``/changes``: ids created, updated and destroyed since ``since_state``."""
        args = self._args(account_id, since_state=since_state, max_changes=max_changes)
        return self._add(ChangesCall, "changes", args, ChangesResponse, call_id)


class SetMethods(Namespace, Generic[T, CreateT, UpdateT]):
    def set(
        self,
        *,
        create: Mapping[str, CreateT] | NotGiven = NOT_GIVEN,
        update: Mapping[Id, UpdateT | Mapping[str, Any]] | NotGiven = NOT_GIVEN,
        destroy: IdsArg | NotGiven = NOT_GIVEN,
        if_in_state: str | NotGiven = NOT_GIVEN,
        account_id: str | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
    ) -> SetCall[T]:
        """``/set``: create (keys are creation ids), update (patches) and destroy."""
        return self._set(
            create=create,
            update=update,
            destroy=_ids(destroy),
            if_in_state=if_in_state,
            account_id=account_id,
            call_id=call_id,
        )


class UpdateOnlySetMethods(Namespace, Generic[T, UpdateT]):
    def set(
        self,
        *,
        update: Mapping[Id, UpdateT | Mapping[str, Any]],
        if_in_state: str | NotGiven = NOT_GIVEN,
        account_id: str | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
    ) -> SetCall[T]:
        """``/set`` with updates only (the spec forbids create and destroy for this type)."""
        return self._set(
            update=update, if_in_state=if_in_state, account_id=account_id, call_id=call_id
        )


class CreateDestroySetMethods(Namespace, Generic[T, CreateT]):
    def set(
        self,
        *,
        create: Mapping[str, CreateT] | NotGiven = NOT_GIVEN,
        destroy: IdsArg | NotGiven = NOT_GIVEN,
        if_in_state: str | NotGiven = NOT_GIVEN,
        account_id: str | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
    ) -> SetCall[T]:
        """``/set`` with creates and destroys only (the spec forbids update for this type)."""
        return self._set(
            create=create,
            destroy=_ids(destroy),
            if_in_state=if_in_state,
            account_id=account_id,
            call_id=call_id,
        )


class SortableMethods(Namespace, Generic[SortT]):
    """Typed comparators for a type whose ``/query`` sorts by ``SortT`` property names."""

    def comparator(
        self,
        property: SortT,
        *,
        ascending: bool | NotGiven = NOT_GIVEN,
        collation: str | NotGiven = NOT_GIVEN,
    ) -> Comparator:
        """A `Comparator` whose property name the type checker knows."""
        return Comparator(property=property, is_ascending=ascending, collation=collation)


class QueryMethods(SortableMethods[SortT], Generic[FilterT, SortT]):
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
        self._check_filter(f"{self.type_name}/query", filter)
        args = self._args(
            account_id,
            filter=filter,
            sort=_comparators(sort),
            position=position,
            anchor=anchor,
            anchor_offset=anchor_offset,
            limit=limit,
            calculate_total=calculate_total,
        )
        return self._add(QueryCall, "query", args, QueryResponse, call_id)


class QueryChangesMethods(SortableMethods[SortT], Generic[FilterT, SortT]):
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
        """``/queryChanges``: how a query's results changed since ``since_query_state``."""
        self._check_filter(f"{self.type_name}/queryChanges", filter)
        args = self._args(
            account_id,
            since_query_state=since_query_state,
            filter=filter,
            sort=_comparators(sort),
            max_changes=max_changes,
            up_to_id=up_to_id,
            calculate_total=calculate_total,
        )
        return self._add(QueryChangesCall, "queryChanges", args, QueryChangesResponse, call_id)


def _ids(ids: Any) -> Any:
    if ids is None or ids is NOT_GIVEN or isinstance(ids, Ref):
        return ids
    if isinstance(ids, str):
        raise LocalProtocolError(f"ids must be a sequence of ids, not the single string {ids!r}")
    return list(ids)


def _comparators(sort: Any) -> Any:
    if isinstance(sort, NotGiven):
        return sort
    if isinstance(sort, str | Comparator):
        raise LocalProtocolError(
            "sort must be a list of comparators or property names, not a single one"
        )
    return [Comparator(property=s) if isinstance(s, str) else s for s in sort]


def expect_success(call: CallT) -> CallT:
    """Mark a helper's call: every object it names must succeed, or ``.result`` raises
    `SetErrors` (a one-call helper is then a one-call batch that raises)."""
    call.expects_success = True
    return call


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
