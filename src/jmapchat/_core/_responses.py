"""Generic response and argument models of the RFC 8620 standard methods.

Per-type models (Message, Chat, …) plug into these as type parameters, so
``GetResponse[Message].list`` is typed ``list[Message]``.
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import Field, field_validator

from ._errors import RateLimited, SetErrors
from ._model import JMAPInput, JMAPModel
from ._types import NOT_GIVEN, NotGiven, UTCDate

__all__ = [
    "AddedItem",
    "ChangesResponse",
    "Comparator",
    "EchoResponse",
    "FilterOperator",
    "GetList",
    "GetResponse",
    "QueryChangesResponse",
    "QueryResponse",
    "SetError",
    "SetOutcome",
    "SetResponse",
]

T = TypeVar("T", bound=JMAPModel)


class SetError(JMAPModel):
    """A per-object failure of a /set (RFC 8620 §5.3), kept as data.

    Chat servers add fields (``existingId`` for ``alreadyExists``, ``serverRetryAfter``
    for rate limits); unknown fields are kept.
    """

    type: str
    description: str | None = None
    properties: list[str] | None = None
    existing_id: str | None = None
    server_retry_after: float | UTCDate | None = Field(
        None, description="When the object may be retried: a UTCDate, or seconds (older servers)."
    )

    def retry_after_seconds(self, now: datetime | None = None) -> float | None:
        """``server_retry_after`` as seconds from ``now`` (default: the current time)."""
        value = self.server_retry_after
        if value is None or isinstance(value, float | int):
            return value
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class GetList(JMAPModel, Generic[T]):
    """The ``list``/``notFound`` part of a /get response (all a PushSubscription/get has)."""

    list: builtins.list[T]
    not_found: builtins.list[str] = Field(default_factory=builtins.list)


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
    created: list[str]
    updated: list[str]
    destroyed: list[str]
    updated_properties: list[str] | None = None


class SetOutcome(JMAPModel, Generic[T]):
    """What a /set did per object (all a PushSubscription/set has). Failures are data.

    RFC 8620 sends ``null`` for "nothing"; these fields read it as empty, so
    ``result.created["m1"]`` needs no None check.
    """

    created: dict[str, T] = Field(default_factory=dict)
    updated: dict[str, T | None] = Field(default_factory=dict)
    destroyed: builtins.list[str] = Field(default_factory=builtins.list)
    not_created: dict[str, SetError] = Field(default_factory=dict)
    not_updated: dict[str, SetError] = Field(default_factory=dict)
    not_destroyed: dict[str, SetError] = Field(default_factory=dict)

    @field_validator(
        "created", "updated", "not_created", "not_updated", "not_destroyed", mode="before"
    )
    @classmethod
    def _null_is_empty_map(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("destroyed", mode="before")
    @classmethod
    def _null_is_empty_list(cls, value: Any) -> Any:
        return [] if value is None else value

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
            summary = ", ".join(f"{k}: {v.type}" for k, v in builtins.list(errors.items())[:5])
            more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
            raise SetErrors(f"{len(errors)} object(s) failed: {summary}{more}", errors=errors)

    @property
    def rate_limited(self) -> RateLimited | None:
        """A `RateLimited` if any object failed with ``rateLimit`` / ``rateLimited``.

        ``retry_after`` is the largest ``serverRetryAfter`` (seconds) among them, or None
        if the server gave none. ``raise`` it, or wait and resend the failed objects.
        """
        limited = {
            key: err for key, err in self.errors.items() if err.type in ("rateLimit", "rateLimited")
        }
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
    ids: list[str]
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
    removed: list[str]
    added: list[AddedItem]


class EchoResponse(JMAPModel):
    """``Core/echo`` returns its arguments; they are kept as extra fields."""


class Comparator(JMAPInput):
    """One sort criterion of a /query."""

    property: str
    is_ascending: bool | NotGiven = NOT_GIVEN
    collation: str | NotGiven = NOT_GIVEN


class FilterOperator(JMAPInput):
    """``{"operator": "AND"|"OR"|"NOT", "conditions": [...]}`` over filter conditions."""

    operator: Literal["AND", "OR", "NOT"]
    conditions: list[Any]
