"""Small helpers shared by the reference server: errors, ids, dates, argument checks."""

from __future__ import annotations

import functools
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "MethodErr",
    "SetErr",
    "check_args",
    "epoch_of",
    "format_utc",
    "is_uint",
    "new_id",
    "now_utc",
    "parse_utc",
]


class MethodErr(Exception):
    """A method-level error: becomes ``["error", {"type": ...}, callId]``."""

    def __init__(self, type: str, description: str | None = None, **extra: Any) -> None:
        super().__init__(f"{type}: {description}" if description else type)
        self.type = type
        self.description = description
        self.extra = extra

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.description:
            out["description"] = self.description
        out.update(self.extra)
        return out


class SetErr(Exception):
    """A per-object /set failure: goes into notCreated / notUpdated / notDestroyed."""

    def __init__(
        self,
        type: str,
        description: str | None = None,
        *,
        properties: list[str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(f"{type}: {description}" if description else type)
        self.type = type
        self.description = description
        self.properties = properties
        self.extra = extra

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.description:
            out["description"] = self.description
        if self.properties is not None:
            out["properties"] = self.properties
        out.update(self.extra)
        return out


def invalid_props(description: str, *props: str) -> SetErr:
    return SetErr("invalidProperties", description, properties=list(props))


# --- ids --------------------------------------------------------------------------------

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ulid_lock = threading.Lock()
_ulid_last = 0


_PAIRS = tuple(a + b for a in _CROCKFORD for b in _CROCKFORD)  # 10 bits -> 2 digits
_SHIFTS = tuple(range(120, -1, -10))


def _encode(value: int) -> str:
    """26 Crockford base-32 digits of a 128-bit value (most significant first)."""
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])


def new_id() -> str:
    """A monotonic ULID (26 chars): later calls always sort after earlier ones."""
    global _ulid_last
    with _ulid_lock:
        ms = int(time.time() * 1000)
        value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
        if value <= _ulid_last:
            value = _ulid_last + 1
        _ulid_last = value
    return _encode(value)


_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


def is_jmap_id(value: object) -> bool:
    return isinstance(value, str) and bool(_ID_RE.match(value))


# --- dates ------------------------------------------------------------------------------

_UTC_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


def format_utc(dt: datetime) -> str:
    dt = dt.astimezone(UTC)
    if dt.microsecond:
        ms = dt.microsecond // 1000
        if ms:
            return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms:03d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def now_utc() -> str:
    return format_utc(datetime.now(UTC))


def parse_utc(value: object, *, strict_utc: bool = True) -> datetime | None:
    """Parse an RFC 3339 date-time; None when malformed (UTCDate needs the ``Z`` zone)."""
    if not isinstance(value, str):
        return None
    return _parse_utc(value, strict_utc)


@functools.lru_cache(maxsize=4096)
def _parse_utc(value: str, strict_utc: bool) -> datetime | None:
    # memoized: a batch often repeats a date (a datetime is immutable, so sharing is safe)
    if not (_UTC_RE.match(value) if strict_utc else _DATE_RE.match(value)):
        return None
    text = value.upper()
    frac = re.search(r"\.(\d+)", text)
    if frac and len(frac.group(1)) > 6:
        text = text.replace(frac.group(0), "." + frac.group(1)[:6])
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def epoch_of(value: str | None) -> float | None:
    if value is None:
        return None
    dt = parse_utc(value, strict_utc=False)
    return dt.timestamp() if dt else None


# --- argument checking ------------------------------------------------------------------

MAX_INT = 2**53 - 1


def is_uint(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_INT


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -MAX_INT <= value <= MAX_INT


def is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


Checker = Callable[[Any], bool]

CHECKS: dict[str, Checker] = {
    "str": lambda v: isinstance(v, str),
    "str?": lambda v: v is None or isinstance(v, str),
    "strs": is_str_list,
    "strs?": lambda v: v is None or is_str_list(v),
    "uint": is_uint,
    "uint?": lambda v: v is None or is_uint(v),
    "int": is_int,
    "bool": lambda v: isinstance(v, bool),
    "bool?": lambda v: v is None or isinstance(v, bool),
    "obj": lambda v: isinstance(v, dict),
    "obj?": lambda v: v is None or isinstance(v, dict),
    "list?": lambda v: v is None or isinstance(v, list),
    "any": lambda v: True,
}


def check_args(
    args: Mapping[str, Any], spec: Mapping[str, str], required: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Validate method arguments: unknown names, wrong types, missing ones → invalidArguments."""
    for name in required:
        if name not in args:
            raise MethodErr("invalidArguments", f"missing argument {name!r}")
    out: dict[str, Any] = {}
    for name, value in args.items():
        kind = spec.get(name)
        if kind is None:
            raise MethodErr("invalidArguments", f"unknown argument {name!r}")
        if not CHECKS[kind](value):
            raise MethodErr("invalidArguments", f"argument {name!r} has the wrong type")
        out[name] = value
    return out
