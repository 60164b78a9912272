"""The one JSON codec of the core: `dumps` for requests, `loads` for replies.

Both directions live here so that every module below the executor (session, request,
response) shares them without importing each other.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from typing import Any

from pydantic_core import from_json

from ._errors import RemoteProtocolError
from ._gc import gc_paused

__all__ = ["GC_PAUSE_MIN_BYTES", "dumps", "gc_paused_for", "loads"]

GC_PAUSE_MIN_BYTES = 64 * 1024
"""Reply size from which decoding / validating it runs with the cyclic GC held off."""


def dumps(obj: Any) -> bytes:
    """Compact, deterministic JSON (insertion order kept, UTF-8, no ASCII escaping)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def loads(body: bytes | str) -> Any:
    """Parse JSON; malformed input raises `RemoteProtocolError`."""
    try:
        with gc_paused_for(len(body)):  # the decoded dicts all stay alive: nothing to collect
            return from_json(body)
    except ValueError as exc:
        raise RemoteProtocolError(f"server sent invalid JSON: {exc}") from None


def gc_paused_for(size: int) -> AbstractContextManager[None]:
    """Hold the cyclic GC off while one reply of ``size`` bytes is turned into objects.

    Validating a big reply allocates thousands of container objects (models, their
    ``__dict__`` and field sets, lists) that stay alive until it returns and can form no
    garbage cycle, so collections triggered by those allocations find nothing and only
    add cost (about 8% of the parse on a 1,000-message reply). The window is the one
    pydantic-core call, which holds the GIL throughout. Small replies, and a GC the
    application has disabled, are left alone; the previous state is always restored.
    """
    return gc_paused(size >= GC_PAUSE_MIN_BYTES)
