"""Quota (RFC 9425, ``urn:ietf:params:jmap:quota``)."""

from __future__ import annotations

from typing import Literal, TypeAlias

from pydantic import Field

from jmapchat._core import NOT_GIVEN, JMAPInput, JMAPModel, NotGiven

__all__ = [
    "Quota",
    "QuotaFilter",
    "QuotaProperty",
    "QuotaResourceType",
    "QuotaScope",
    "QuotaSortProperty",
]

QuotaResourceType: TypeAlias = Literal["count", "octets"]
QuotaScope: TypeAlias = Literal["account", "domain", "global"]
QuotaProperty: TypeAlias = Literal[
    "id",
    "resourceType",
    "used",
    "hardLimit",
    "scope",
    "name",
    "types",
    "warnLimit",
    "softLimit",
    "description",
]
QuotaSortProperty: TypeAlias = Literal["name", "used"]


class Quota(JMAPModel):
    """A usage limit. ``Quota/changes`` may report ``updatedProperties == ["used"]``.

    Only ``id`` is required (partial objects parse); chat servers list ``Message``,
    ``Chat`` or ``Space`` in ``types``.
    """

    id: str
    resource_type: str | None = Field(None, description="count | octets.")
    used: int | None = None
    hard_limit: int | None = None
    scope: str | None = Field(None, description="account | domain | global.")
    name: str | None = None
    types: list[str] | None = Field(None, description="Data type names this quota covers.")
    warn_limit: int | None = None
    soft_limit: int | None = None
    description: str | None = None


class QuotaFilter(JMAPInput):
    """``Quota/query`` FilterCondition."""

    name: str | NotGiven = NOT_GIVEN
    scope: str | NotGiven = NOT_GIVEN
    resource_type: str | NotGiven = NOT_GIVEN
    type: str | NotGiven = NOT_GIVEN
