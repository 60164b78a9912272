"""Shared helpers for the chat models: dates, guards, enum aliases, the ``self`` sender.

String enums on the wire are typed ``str`` (servers drift and add values); the
``Literal`` aliases here exist for IDE help and documentation only.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal, TypeAlias

from pydantic import BeforeValidator

from jmapchat._core import parse_utc_date

__all__ = [
    "EMOJI_NAME_MAX",
    "EMOJI_NAME_PATTERN",
    "SELF",
    "BroadcastScope",
    "ChatKind",
    "ChatMemberRole",
    "DeliveryState",
    "EndpointType",
    "InvalidInputError",
    "Presence",
    "ReadDisposition",
    "SpacePermission",
    "UTCDateInput",
    "format_utc_date",
    "utc_date_problem",
    "utc_now",
]

SELF: Final = "self"
"""``Message.senderId`` / ``Reaction.senderId`` value for things the account owner sent."""

ChatKind: TypeAlias = Literal["direct", "group", "channel"]
ChatMemberRole: TypeAlias = Literal["admin", "member"]
Presence: TypeAlias = Literal["online", "away", "busy", "invisible", "offline"]
DeliveryState: TypeAlias = Literal["pending", "delivered", "failed", "received"]
ReadDisposition: TypeAlias = Literal["displayed", "deleted", "processed"]
"""Unknown values must be kept and treated as ``displayed`` (draft §ReadDisposition)."""
BroadcastScope: TypeAlias = Literal["everyone", "here", "admins"]
SpacePermission: TypeAlias = Literal[
    "view",
    "send",
    "pin",
    "manage_channels",
    "manage_members",
    "manage_roles",
    "manage_space",
    "ban",
    "mention_broadcast",
]
"""Older texts call ``mention_broadcast`` ``mention_all``; unknown names are ignored by servers."""
EndpointType: TypeAlias = Literal[
    "urn:jmap:chat:cap:vtc",
    "urn:jmap:chat:cap:payment",
    "urn:jmap:chat:cap:blob",
    "urn:jmap:chat:cap:calendar-event",
    "urn:jmap:chat:cap:availability",
    "urn:jmap:chat:cap:task",
    "urn:jmap:chat:cap:filenode",
]


class InvalidInputError(ValueError):
    """An input model was built with values the server would certainly reject.

    Raised (usually wrapped in a pydantic ``ValidationError``, itself a ``ValueError``)
    at construction time, i.e. before any I/O.
    """


def format_utc_date(value: datetime) -> str:
    """Format a datetime as an RFC 8620 ``UTCDate``: ``Z`` zone, fraction only if non-zero.

    Naive datetimes are taken to be UTC.
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


_last_now: tuple[datetime, str] | None = None


def utc_now() -> str:
    """The current time as a ``UTCDate`` string, to whole seconds (``2026-04-26T14:32:00Z``)."""
    global _last_now
    now = datetime.now(UTC).replace(microsecond=0)
    last = _last_now  # one atomic read: (second, its text), shared by all threads
    if last is not None and last[0] == now:
        return last[1]
    text = format_utc_date(now)
    _last_now = (now, text)
    return text


def _coerce_utc_date(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_utc_date(value)
    if isinstance(value, str) and parse_utc_date(value) is None:
        raise InvalidInputError(utc_date_problem(value))
    return value


def utc_date_problem(value: str) -> str:
    """Why ``value`` is refused where a UTCDate is expected."""
    return (
        f"{value!r} is not a UTCDate (RFC 3339 in UTC with 'T' and 'Z', e.g. "
        "'2026-11-25T17:45:00Z'); pass a datetime to have it formatted"
    )


UTCDateInput: TypeAlias = Annotated[str, BeforeValidator(_coerce_utc_date)]
"""A ``UTCDate`` string in inputs, checked before any I/O; a ``datetime`` is also
accepted and formatted."""


def require_non_empty(value: str | Any, what: str) -> None:
    """Guard: a name-like string must contain something other than whitespace."""
    if isinstance(value, str) and not value.strip():
        raise InvalidInputError(f"{what} must not be empty")


EMOJI_NAME_MAX: Final = 64
"""The longest CustomEmoji ``name`` (the draft sets no limit; the reference server's)."""
EMOJI_NAME_PATTERN: Final = rf"^[a-z0-9_-]{{1,{EMOJI_NAME_MAX}}}$"
"""A CustomEmoji ``name``: lowercase letters, digits, ``-``, ``_``; no colons (the draft)."""
_EMOJI_NAME = re.compile(EMOJI_NAME_PATTERN)


def check_emoji_name(value: str | Any) -> None:
    if isinstance(value, str) and not _EMOJI_NAME.match(value):
        raise InvalidInputError(
            f"custom emoji name {value!r} must be 1 to {EMOJI_NAME_MAX} lowercase letters, "
            "digits, '-' or '_' (no colons)"
        )
