"""What the async and blocking importers do differently, side by side.

`_async.py` uses the ``Async…`` / ``async_…`` names; ``scripts/unasync.py`` maps each to
its blocking twin here when it generates `_sync.py`. The blocking importer keeps several
envelopes in flight with threads; the async one with an anyio task group.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from types import TracebackType
from typing import Any, TypeVar

import anyio
import anyio.abc

__all__ = [
    "AsyncEvent",
    "AsyncWorkers",
    "Event",
    "Workers",
    "async_batches",
    "async_sleep",
    "async_state_lock",
    "batches",
    "sleep",
    "state_lock",
]

T = TypeVar("T")

# --- async ------------------------------------------------------------------------------

AsyncEvent = anyio.Event
async_sleep = anyio.sleep


def async_state_lock() -> AbstractContextManager[Any]:
    """Tasks switch only at ``await``: counters need no lock."""
    return nullcontext()


async def async_batches(source: Iterable[T] | AsyncIterable[T], n: int) -> AsyncIterator[list[T]]:
    """Lists of up to ``n`` items of a plain or an async iterable."""
    if not isinstance(source, AsyncIterable):
        for plain in batches(source, n):
            yield plain
        return
    batch: list[T] = []
    async for item in source:
        batch.append(item)
        if len(batch) >= n:
            yield batch
            batch = []
    if batch:
        yield batch


class AsyncWorkers:
    """At most ``n`` coroutines at once; ``start`` waits for a free slot.

    The first failure of a coroutine cancels the others and is raised on exit (unwrapped
    from its group); an error in the ``async with`` body waits for them instead.
    """

    def __init__(self, n: int) -> None:
        self._n = n

    async def __aenter__(self) -> AsyncWorkers:
        self._slots = anyio.Semaphore(self._n)
        self._group: anyio.abc.TaskGroup = anyio.create_task_group()
        await self._group.__aenter__()
        return self

    async def start(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        await self._slots.acquire()

        async def run() -> None:
            try:
                await fn(*args)
            finally:
                self._slots.release()

        self._group.start_soon(run)

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(e, Exception):
            # An error in the caller (a bad source line): let the envelopes in flight
            # finish, so that their outcome is recorded, then raise it.
            et, e, tb = None, None, None
        try:
            await self._group.__aexit__(et, e, tb)
        except BaseExceptionGroup as group:
            raise _first(group) from None


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    exc: BaseException
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return _first(exc)
        if not isinstance(exc, anyio.get_cancelled_exc_class()):
            return exc
    return group.exceptions[0]


# --- blocking ---------------------------------------------------------------------------

Event = threading.Event
sleep = time.sleep


def state_lock() -> AbstractContextManager[Any]:
    """Worker threads update the report and the in-flight map: a real lock."""
    return threading.Lock()


def batches(source: Iterable[T], n: int) -> Iterator[list[T]]:
    """Lists of up to ``n`` items of ``source``."""
    batch: list[T] = []
    for item in source:
        batch.append(item)
        if len(batch) >= n:
            yield batch
            batch = []
    if batch:
        yield batch


class Workers:
    """At most ``n`` calls at once on threads; ``start`` waits for a free slot.

    After a failure no new work starts; the first failure is raised on exit.
    """

    def __init__(self, n: int) -> None:
        self._n = n
        self._error: BaseException | None = None

    def __enter__(self) -> Workers:
        self._slots = threading.Semaphore(self._n)
        self._pool = ThreadPoolExecutor(self._n, thread_name_prefix="jmapchat-import")
        return self

    def start(self, fn: Callable[..., Any], *args: Any) -> None:
        self._slots.acquire()
        if self._error is not None:
            self._slots.release()
            raise self._error
        future = self._pool.submit(fn, *args)
        future.add_done_callback(self._finished)

    def _finished(self, future: Future[Any]) -> None:
        exc = future.exception()
        if exc is not None and self._error is None:
            self._error = exc
        self._slots.release()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._pool.shutdown(wait=True)
        if e is None and self._error is not None:
            raise self._error
