"""Known ``SetError`` types, tolerant of the draft/compliance-test disagreements.

`SetError` itself lives in core (re-exported from ``jmapchat.models``); it keeps
``existing_id`` (``alreadyExists``) and ``server_retry_after`` plus unknown fields.
"""

from __future__ import annotations

from typing import Final, Literal, TypeAlias

from jmapchat._core import RATE_LIMIT_TYPES, SetError

__all__ = [
    "RATE_LIMIT_ERROR_TYPES",
    "SetErrorType",
    "is_already_exists",
    "is_rate_limited",
]

SetErrorType: TypeAlias = Literal[
    "forbidden",
    "overQuota",
    "tooLarge",
    "rateLimit",
    "rateLimited",
    "notFound",
    "invalidPatch",
    "willDestroy",
    "invalidProperties",
    "invalidArguments",
    "singleton",
    "alreadyExists",
]
"""Known values of ``SetError.type`` (which stays ``str``)."""

RATE_LIMIT_ERROR_TYPES: Final = RATE_LIMIT_TYPES
"""RFC 8620 spells it ``rateLimit``; the chat draft's slow mode says ``rateLimited``."""


def is_rate_limited(error: SetError) -> bool:
    """``rateLimit`` or ``rateLimited``: the server's slow mode refused the object; see
    ``error.server_retry_after``.
    """
    return error.type in RATE_LIMIT_ERROR_TYPES


def is_already_exists(error: SetError) -> bool:
    """``alreadyExists`` (duplicate direct chat or emoji name); see ``error.existing_id``."""
    return error.type == "alreadyExists"
