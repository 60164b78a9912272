"""What every per-type namespace module imports: the core's generic pieces, plus guards.

The generic standard methods, ``/set`` guards and typed sort live in the core
(`jmapchat._core._standard`); they are re-exported here so each namespace module has one
import site.
"""

from __future__ import annotations

from typing import Any

from jmapchat._core import (
    LocalProtocolError,
    Namespace,
    QueryChangesMethods,
    QueryMethods,
    SortArg,
    check_ids,
    expect_success,
)

__all__ = [
    "Namespace",
    "QueryChangesMethods",
    "QueryMethods",
    "SortArg",
    "check_ids",
    "expect_success",
    "require_text",
]


def require_text(value: Any, method: str, argument: str) -> str:
    """Guard a required string argument against ``""`` / whitespace."""
    if not isinstance(value, str) or not value.strip():
        raise LocalProtocolError(f"{method}: {argument} must be a non-empty string")
    return value
