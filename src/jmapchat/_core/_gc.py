"""Holding the cyclic GC off while one large batch of objects is built in one go.

Turning a large reply into objects (or a large request into wire data) allocates
thousands of container objects that all stay alive until the step returns and can form
no garbage cycle, so collections triggered by those allocations find nothing and only
add cost (each full collection also scans everything else the process holds). Small
batches, and a GC the application has disabled, are left alone; the previous state is
always restored.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Final

__all__ = ["GC_PAUSE_MIN_ITEMS", "gc_paused", "items_hint"]

GC_PAUSE_MIN_ITEMS: Final = 256
"""Objects in one result or one call's arguments from which the GC is paused."""


def gc_paused(big: bool) -> AbstractContextManager[None]:
    """Disable the cyclic GC for the block if ``big`` (and the GC is enabled)."""
    if not big or not gc.isenabled():
        return _UNPAUSED  # every small request passes here: no generator to set up
    return _paused()


_UNPAUSED: Final = nullcontext()


@contextmanager
def _paused() -> Iterator[None]:
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def items_hint(arguments: Mapping[str, Any]) -> int:
    """A cheap size estimate of a result: entries of its top-level dicts and lists."""
    total = 0
    for value in arguments.values():
        if type(value) is dict or type(value) is list:
            total += len(value)
    return total
