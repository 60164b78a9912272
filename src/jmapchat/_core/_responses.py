"""Generic response and argument models of the RFC 8620 standard methods.

Per-type models (Message, Chat, …) plug into these as type parameters, so
``GetResponse[Message].list`` is typed ``list[Message]``.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import Field, GetCoreSchemaHandler, field_validator
from pydantic_core import core_schema

from ._error_mapping import RATE_LIMIT_TYPES, describe_set_failures, set_errors
from ._errors import RateLimited
from ._model import JMAPInput, JMAPModel
from ._types import NOT_GIVEN, NotGiven, UTCDate, parse_utc_date

__all__ = [
    "AddedItem",
    "ChangesResponse",
    "Comparator",
    "EchoResponse",
    "FilterOperator",
    "GetList",
    "GetResponse",
    "InvokeResponse",
    "ListOrNull",
    "MapOrNull",
    "QueryChangesResponse",
    "QueryResponse",
    "SetError",
    "SetOutcome",
    "SetResponse",
]

T = TypeVar("T", bound=JMAPModel)
V = TypeVar("V")


class _NullIsEmpty:
    """``null`` validates as an empty ``factory()``; anything else as the annotated type.

    An after-validator over a nullable schema, not a before-validator: the JSON is still
    validated straight into typed objects in pydantic-core (a before-validator would make
    it build plain dicts first, several times slower on a 1,000-object /get).
    """

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        factory = self.factory
        return core_schema.no_info_after_validator_function(
            lambda value: factory() if value is None else value,
            core_schema.nullable_schema(handler(source)),
        )


# RFC 8620 types these as lists / maps; other JMAP Chat servers send ``null`` for "none",
# so ``null`` is read as empty wherever the RFC says list or map (never as a parse error).
ListOrNull = Annotated[builtins.list[V], _NullIsEmpty(builtins.list)]
MapOrNull = Annotated[dict[str, V], _NullIsEmpty(dict)]


class SetError(JMAPModel):
    """A per-object failure of a /set (RFC 8620 §5.3), kept as data.

    Chat servers add fields (``existingId`` for ``alreadyExists``, ``serverRetryAfter``
    for rate limits); unknown fields are kept.
    """

    type: str
    description: str | None = None
    properties: builtins.list[str] | None = None
    existing_id: str | None = None
    server_retry_after: float | UTCDate | None = Field(
        None, description="When the object may be retried: a UTCDate, or seconds (older servers)."
    )

    def retry_after_seconds(self, now: datetime | None = None) -> float | None:
        """``server_retry_after`` as seconds from ``now`` (default: the current time);
        None when absent or unreadable."""
        value = self.server_retry_after
        if value is None or isinstance(value, bool):
            return None
        if isinstance(value, float | int):
            return max(0.0, float(value))
        when = parse_utc_date(value)
        if when is None:
            return None
        return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class GetList(JMAPModel, Generic[T]):
    """The ``list``/``notFound`` part of a /get response (all a PushSubscription/get has)."""

    list: ListOrNull[T]
    not_found: ListOrNull[str] = Field(default_factory=builtins.list)


class GetResponse(GetList[T], Generic[T]):
    """``Foo/get`` response: ``list`` holds (possibly partial) objects."""

    account_id: str
    state: str


class ChangesResponse(JMAPModel):
    """``Foo/changes`` response."""

    account_id: str
    old_state: str
    new_state: str
    has_more_changes: bool
    created: ListOrNull[str]
    updated: ListOrNull[str]
    destroyed: ListOrNull[str]
    updated_properties: builtins.list[str] | None = None


class SetOutcome(JMAPModel, Generic[T]):
    """What a /set did per object (all a PushSubscription/set has). Failures are data.

    RFC 8620 sends ``null`` for "nothing"; these fields read it as empty, so
    ``result.created["m1"]`` needs no None check.
    """

    created: MapOrNull[T] = Field(default_factory=dict)
    updated: MapOrNull[T | None] = Field(default_factory=dict)
    destroyed: ListOrNull[str] = Field(default_factory=builtins.list)
    not_created: MapOrNull[SetError] = Field(default_factory=dict)
    not_updated: MapOrNull[SetError] = Field(default_factory=dict)
    not_destroyed: MapOrNull[SetError] = Field(default_factory=dict)

    @field_validator("updated", mode="before")
    @classmethod
    def _updated_objects_get_their_id(cls, value: Any) -> Any:
        # RFC 8620 §5.3: an ``updated`` value is null or only the server-changed
        # properties, without ``id``; the key is the id, so the typed object gets it.
        # (Only this field pays for a before-validator; ``created`` keeps the fast path.)
        if isinstance(value, dict):
            return {
                k: {"id": k, **v} if isinstance(v, dict) and "id" not in v else v
                for k, v in value.items()
            }
        return value

    @property
    def errors(self) -> dict[str, SetError]:
        """Every failure, keyed by creation id / object id."""
        out: dict[str, SetError] = {}
        for part in (self.not_created, self.not_updated, self.not_destroyed):
            if part:
                out.update(part)
        return out

    def raise_for_errors(self) -> None:
        """Raise `SetErrors` if any create, update or destroy failed."""
        errors = self.errors
        if errors:
            ops = dict.fromkeys(self.not_created or (), "create")
            ops.update(dict.fromkeys(self.not_updated or (), "update"))
            ops.update(dict.fromkeys(self.not_destroyed or (), "destroy"))
            message = describe_set_failures(errors, operations=ops)
            raise set_errors(message, errors=errors, response=self)

    @property
    def rate_limited(self) -> RateLimited | None:
        """A `RateLimited` if any object failed with ``rateLimit`` / ``rateLimited``.

        ``retry_after`` is the longest wait (seconds from now) among their
        ``serverRetryAfter`` values (seconds or a UTCDate), or None if the server gave
        none. ``raise`` it, or wait and resend the failed objects.
        """
        limited = {key: err for key, err in self.errors.items() if err.type in RATE_LIMIT_TYPES}
        if not limited:
            return None
        waits = [w for e in limited.values() if (w := e.retry_after_seconds()) is not None]
        retry_after = max(waits) if waits else None
        keys = ", ".join(builtins.list(limited)[:5])
        return RateLimited(
            f"{len(limited)} object(s) rate limited ({keys})"
            + (f"; retry after {retry_after:g}s" if retry_after is not None else ""),
            retry_after=retry_after,
        )


class SetResponse(SetOutcome[T], Generic[T]):
    """``Foo/set`` response. Per-object failures are data; see `raise_for_errors`."""

    account_id: str
    old_state: str | None = None
    new_state: str


class QueryResponse(JMAPModel):
    """``Foo/query`` response."""

    account_id: str
    query_state: str
    can_calculate_changes: bool
    position: int
    ids: ListOrNull[str]
    total: int | None = None
    limit: int | None = None


class AddedItem(JMAPModel):
    """One ``/queryChanges`` ``added`` entry: an id and its index in the new results."""

    id: str
    index: int


class QueryChangesResponse(JMAPModel):
    """``Foo/queryChanges`` response."""

    account_id: str
    old_query_state: str
    new_query_state: str
    total: int | None = None
    removed: ListOrNull[str]
    added: ListOrNull[AddedItem]


class EchoResponse(JMAPModel):
    """``Core/echo`` returns its arguments; they are kept as extra fields."""


class InvokeResponse(JMAPModel):
    """The default result of ``req.invoke(...)``: every field the server sent is kept
    (``result.model_extra``; ``result.to_wire()`` gives it back as sent)."""


class Comparator(JMAPInput):
    """One sort criterion of a /query."""

    property: str
    is_ascending: bool | NotGiven = NOT_GIVEN
    collation: str | NotGiven = NOT_GIVEN


class FilterOperator(JMAPInput):
    """``{"operator": "AND"|"OR"|"NOT", "conditions": [...]}`` over filter conditions."""

    operator: Literal["AND", "OR", "NOT"]
    conditions: list[Any]
