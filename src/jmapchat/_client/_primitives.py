"""What the two drivers do differently, side by side: locks, limiters, sleeping, reading
upload bodies and making call handles awaitable.

`_async.py` uses the ``Async…`` / ``async_…`` names below; ``scripts/unasync.py`` maps
each to its blocking twin when it generates `_sync.py` (as httpcore's
``_synchronization.py`` does). Everything that is genuinely different lives here, written
by hand, so the generated file never diverges from its source.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    closing,
    contextmanager,
)
from types import TracebackType
from typing import Any

import anyio
import anyio.abc
import wsproto.events
from httpx_ws import WebSocketDisconnect, WebSocketNetworkError

from jmapchat._core import EventSourceState
from jmapchat._namespaces import Request

from ._base import UploadSource

__all__ = [
    "AsyncCapacityLimiter",
    "AsyncLock",
    "AsyncSocketRunner",
    "AsyncWakeup",
    "CapacityLimiter",
    "Lock",
    "SocketRunner",
    "Wakeup",
    "async_bind_handles",
    "async_event_pump",
    "async_sleep",
    "async_upload_chunks",
    "async_upload_source",
    "async_wait_for",
    "bind_handles",
    "event_pump",
    "sleep",
    "upload_chunks",
    "upload_source",
    "wait_for",
]

# --- async (anyio: trio or asyncio) -----------------------------------------------------

# Both bind to a backend on first use, so they can be made outside an event loop.
AsyncLock = anyio.Lock
AsyncCapacityLimiter = anyio.CapacityLimiter

async_sleep = anyio.sleep
AsyncWakeup = anyio.Event

log = logging.getLogger("jmapchat")

# What a socket runner hands each frame to (returns a close code to end the socket), and
# what it calls once the socket is gone (with the close code, if the server sent one).
OnFrame = Callable[[Any, "str | bytes"], "int | None"]
OnClosed = Callable[[Any, "int | None"], None]


async def async_wait_for(event: anyio.Event, timeout: float | None) -> bool:
    """Wait for ``event`` at most ``timeout`` seconds (None: for ever); True if it is set."""
    with anyio.move_on_after(timeout):
        await event.wait()
    return event.is_set()


class AsyncSocketRunner:
    """Runs each WebSocket connection in a task of its own (in a task group this object
    owns): the task enters the connection, reads every frame for ``on_frame`` and calls
    ``on_closed`` at the end. httpx-ws's session holds a task group, so it must be entered
    and left by one task; with a task per connection, any task can (re)connect."""

    def __init__(self) -> None:
        self._tg: anyio.abc.TaskGroup | None = None

    async def __aenter__(self) -> AsyncSocketRunner:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        tg, self._tg = self._tg, None
        if tg is not None:
            tg.cancel_scope.cancel()
            await tg.__aexit__(exc_type, exc, tb)

    async def start(
        self,
        connect: Callable[[], AbstractAsyncContextManager[Any]],
        on_frame: OnFrame,
        on_closed: OnClosed,
    ) -> Any:
        """Connect; return the open session (connection errors raise here)."""
        if self._tg is None:
            raise RuntimeError("the socket runner is not running")
        return await self._tg.start(self._run, connect, on_frame, on_closed)

    @staticmethod
    async def _run(
        connect: Callable[[], AbstractAsyncContextManager[Any]],
        on_frame: OnFrame,
        on_closed: OnClosed,
        *,
        task_status: anyio.abc.TaskStatus[Any] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        ws: Any = None
        code: int | None = None
        try:
            async with connect() as ws:
                task_status.started(ws)
                while True:
                    try:
                        event = await ws.receive()
                    except WebSocketDisconnect as exc:
                        code = exc.code
                        break
                    except WebSocketNetworkError:
                        break
                    if isinstance(event, wsproto.events.Message):
                        close = on_frame(ws, event.data)
                        if close is not None:
                            await ws.close(close)
                            break
        except Exception as exc:
            if ws is None:
                raise  # the connection failed: tg.start() re-raises it to the caller
            log.debug("WebSocket reader ended: %s", type(exc).__name__)
        finally:
            if ws is not None:
                on_closed(ws, code)


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


class _Failure:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc


@asynccontextmanager
async def async_event_pump(
    source: AsyncGenerator[Any, None], state: EventSourceState
) -> AsyncIterator[AsyncIterator[Any]]:
    """Run the event ``source`` (which yields None once connected, then events) in a task,
    and hand out its events; entering waits for the first connection.

    Why a task: the source iterates httpx / httpx-sse async generators, which must only
    ever stop by an exception raised where they await the network (trio reports any left
    suspended). The task never waits between items (the buffer is unbounded), so closing
    the context cancels it exactly there. Its errors reach the reader, not a task group.
    """
    send, receive = anyio.create_memory_object_stream[Any](math.inf)

    async def run() -> None:
        try:
            async for item in source:
                send.send_nowait(item)
        except Exception as exc:
            send.send_nowait(_Failure(exc))
        finally:
            send.close()

    failed: BaseException | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        events = _AsyncEvents(receive, state)
        try:
            await events.connected()
            yield events
        except (Exception, GeneratorExit) as exc:
            # Re-raised as itself below, not wrapped in an ExceptionGroup. GeneratorExit:
            # the ``with`` sat in an async generator (``Mirror.watch()``) that was closed.
            failed = exc
        finally:
            tg.cancel_scope.cancel()
            receive.close()
    if failed is not None:
        raise failed


class _AsyncEvents:
    """The iterator `AsyncClient.events` yields."""

    def __init__(self, receive: Any, state: EventSourceState) -> None:
        self._receive = receive
        self._state = state

    async def connected(self) -> None:
        await self._next_item()

    async def _next_item(self) -> Any:
        try:
            item = await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None
        if isinstance(item, _Failure):
            raise item.exc
        return item

    def __aiter__(self) -> _AsyncEvents:
        return self

    async def __anext__(self) -> Any:
        if self._state.finished:  # closeafter=state: that StateChange was the last one
            raise StopAsyncIteration
        return await self._next_item()


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
Wakeup = threading.Event


def wait_for(event: threading.Event, timeout: float | None) -> bool:
    """Wait for ``event`` at most ``timeout`` seconds (None: for ever); True if it is set."""
    return event.wait(timeout)


class SocketRunner:
    """`AsyncSocketRunner`'s blocking twin: a reader thread per connection."""

    _POLL = 0.25  # how often an idle reader looks whether its socket was closed

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    def __enter__(self) -> SocketRunner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join()

    def start(
        self,
        connect: Callable[[], AbstractContextManager[Any]],
        on_frame: OnFrame,
        on_closed: OnClosed,
    ) -> Any:
        """Connect; return the open session (connection errors raise here)."""
        started = threading.Event()
        box: dict[str, Any] = {}
        thread = threading.Thread(
            target=self._run,
            args=(connect, on_frame, on_closed, started, box),
            name="jmapchat-websocket",
            daemon=True,
        )
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()
        started.wait()
        if "error" in box:
            raise box["error"]
        return box["ws"]

    def _run(
        self,
        connect: Callable[[], AbstractContextManager[Any]],
        on_frame: OnFrame,
        on_closed: OnClosed,
        started: threading.Event,
        box: dict[str, Any],
    ) -> None:
        ws: Any = None
        code: int | None = None
        try:
            with connect() as ws:
                box["ws"] = ws
                started.set()
                while not self._stopping.is_set():
                    try:
                        event = ws.receive(timeout=self._POLL)
                    except queue.Empty:
                        continue
                    except WebSocketDisconnect as exc:
                        code = exc.code
                        break
                    except WebSocketNetworkError:
                        break
                    if isinstance(event, wsproto.events.Message):
                        close = on_frame(ws, event.data)
                        if close is not None:
                            ws.close(close)
                            break
        except Exception as exc:
            if ws is None:
                box["error"] = exc
            else:
                log.debug("WebSocket reader ended: %s", type(exc).__name__)
        finally:
            started.set()
            if ws is not None:
                on_closed(ws, code)


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


@contextmanager
def event_pump(
    source: Generator[Any, None, None], state: EventSourceState
) -> Iterator[Iterator[Any]]:
    """`async_event_pump`'s blocking twin: the generator is read lazily, in the caller's
    thread (closing a plain generator early is harmless)."""
    with closing(source):
        events = _SyncEvents(source, state)
        events.connected()
        yield events


class _SyncEvents:
    """The iterator `Client.events` yields."""

    def __init__(self, source: Generator[Any, None, None], state: EventSourceState) -> None:
        self._source = source
        self._state = state

    def connected(self) -> None:
        next(self._source)

    def __iter__(self) -> _SyncEvents:
        return self

    def __next__(self) -> Any:
        if self._state.finished:
            raise StopIteration
        return next(self._source)
