"""What the two drivers do differently, side by side: locks, limiters, sleeping, reading
upload bodies and making call handles awaitable.

`_async.py` uses the ``Async…`` / ``async_…`` names below; ``scripts/unasync.py`` maps
each to its blocking twin when it generates `_sync.py` (as httpcore's
``_synchronization.py`` does). Everything that is genuinely different lives here, written
by hand, so the generated file never diverges from its source.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncGenerator, Generator
from types import TracebackType
from typing import Any

import anyio

from jmapchat._namespaces import Request

from ._base import UploadSource

__all__ = [
    "AsyncCapacityLimiter",
    "AsyncLock",
    "CapacityLimiter",
    "Lock",
    "async_bind_handles",
    "async_sleep",
    "async_upload_chunks",
    "async_upload_source",
    "bind_handles",
    "sleep",
    "upload_chunks",
    "upload_source",
]

# --- async (anyio: trio or asyncio) -----------------------------------------------------

# Both bind to a backend on first use, so they can be made outside an event loop.
AsyncLock = anyio.Lock
AsyncCapacityLimiter = anyio.CapacityLimiter

async_sleep = anyio.sleep


def async_bind_handles(request: Request) -> None:
    """Let other tasks ``await call`` on ``request``'s call handles while it is sent."""
    if request.event_factory is None:
        request.event_factory = anyio.Event


def async_upload_source(data: Any) -> UploadSource:
    """Classify an upload body; the async client takes every kind, async iterators too."""
    return UploadSource.of(data)


async def async_upload_chunks(src: UploadSource, size: int) -> AsyncGenerator[bytes, None]:
    """``src``'s bytes in chunks of at most ``size``, without blocking the event loop."""
    if src.kind == "path":
        async with await anyio.open_file(src.value, "rb") as f:
            while chunk := await f.read(size):
                yield chunk
    elif src.kind == "file":
        while chunk := await anyio.to_thread.run_sync(src.value.read, size):
            yield bytes(chunk)
    elif src.kind == "aiter":
        try:
            async for chunk in src.value:
                yield bytes(chunk)
        finally:
            # Stopped early (size limit, network error): close the caller's generator
            # here rather than leaving it to the garbage collector.
            aclose = getattr(src.value, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()
    elif src.kind == "iter":
        for chunk in src.value:
            yield bytes(chunk)
    else:
        yield src.value


# --- blocking (thread-safe) -------------------------------------------------------------

Lock = threading.Lock


class CapacityLimiter:
    """A thread-safe `anyio.CapacityLimiter`: ``with limiter:`` holds one of
    ``total_tokens`` slots; raising ``total_tokens`` wakes waiting threads."""

    def __init__(self, total_tokens: int) -> None:
        self._cond = threading.Condition()
        self._total = total_tokens
        self._borrowed = 0

    @property
    def total_tokens(self) -> int:
        return self._total

    @total_tokens.setter
    def total_tokens(self, value: int) -> None:
        if value < 1:
            raise ValueError("total_tokens must be at least 1")
        with self._cond:
            self._total = value
            self._cond.notify_all()

    @property
    def borrowed_tokens(self) -> int:
        return self._borrowed

    def __enter__(self) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._borrowed < self._total)
            self._borrowed += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._cond:
            self._borrowed -= 1
            self._cond.notify()


sleep = time.sleep


def bind_handles(request: Request) -> None:
    """Nothing to do: the blocking client's handles are read after ``send()`` returns."""


def upload_source(data: Any) -> UploadSource:
    """Classify an upload body; async iterators need the async client."""
    src = UploadSource.of(data)
    if src.kind == "aiter":
        raise TypeError("the blocking Client cannot upload from an async iterator")
    return src


def upload_chunks(src: UploadSource, size: int) -> Generator[bytes, None, None]:
    """``src``'s bytes in chunks of at most ``size``."""
    if src.kind == "path":
        with open(src.value, "rb") as f:
            while chunk := f.read(size):
                yield chunk
    elif src.kind == "file":
        while chunk := src.value.read(size):
            yield bytes(chunk)
    elif src.kind == "iter":
        try:
            for chunk in src.value:
                yield bytes(chunk)
        finally:
            close = getattr(src.value, "close", None)
            if close is not None:
                close()
    else:
        yield src.value
