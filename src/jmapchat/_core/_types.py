"""Small shared types: the NOT_GIVEN sentinel, ids, creation-id references.

JMAP distinguishes an absent property from ``null``: ``NOT_GIVEN`` means "leave it
out", ``None`` means "send null".
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, TypeAlias, final

from pydantic import GetCoreSchemaHandler, WrapValidator
from pydantic_core import core_schema

if TYPE_CHECKING:
    from ._call import Call

__all__ = [
    "NOT_GIVEN",
    "CreationRef",
    "Id",
    "NotGiven",
    "UTCDate",
    "is_given",
    "parse_utc_date",
]


@final
class NotGiven:
    """Sentinel type for "argument not given" (distinct from ``None`` = JSON null)."""

    _instance: NotGiven | None = None

    def __new__(cls) -> NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __reduce__(self) -> str:
        return "NOT_GIVEN"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.is_instance_schema(cls)


NOT_GIVEN: Final = NotGiven()


def is_given(value: object) -> bool:
    return value is not NOT_GIVEN


class CreationRef(str):
    """A reference to the id a ``/set`` create in the same request will get.

    It *is* the string ``"#<creation id>"`` (so it serializes as RFC 8620 expects), and it
    remembers which call creates it, so the request builder can reject unknown or forward
    creation ids before anything is sent. Get one from ``set_call.created_id("key")``.
    """

    __slots__ = ("key", "source")
    key: str
    source: Call[Any] | None

    def __new__(cls, key: str, source: Call[Any] | None = None) -> CreationRef:
        self = super().__new__(cls, "#" + key)
        self.key = key
        self.source = source
        return self

    def __repr__(self) -> str:
        return f"CreationRef({self.key!r})"

    def __reduce__(self) -> Any:
        return (CreationRef, (self.key,))


def _keep_creation_ref(value: Any, handler: Any) -> Any:
    if isinstance(value, CreationRef):
        return value
    return handler(value)


Id: TypeAlias = Annotated[str, WrapValidator(_keep_creation_ref)]
"""A JMAP Id. In inputs it may also be a `CreationRef` (kept as that object)."""

UTCDate: TypeAlias = str
"""An RFC 3339 UTC date-time string as it travels (``2026-11-25T17:45:00Z``)."""

_UTC_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z")


def parse_utc_date(value: str) -> datetime | None:
    """The instant an RFC 8620 ``UTCDate`` names, or None if ``value`` is not one.

    A UTCDate is RFC 3339 ``date-time`` with upper-case ``T`` and ``Z``, in UTC
    (``2026-11-25T17:45:00Z``, optionally with a fraction of a second).
    """
    if not isinstance(value, str) or not _UTC_DATE.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value)  # C-fast; rejects month 13, February 30 …
    except ValueError:
        return None
