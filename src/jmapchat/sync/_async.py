"""`AsyncMirror`: drives the mirror flows (`_plan`) with an `AsyncClient`.

The source of truth for both mirrors: ``scripts/unasync.py`` generates the blocking
`Mirror` (`_sync.py`) from this file.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Generator
from contextlib import aclosing, closing
from types import TracebackType
from typing import Any

from jmapchat import AsyncClient, Request
from jmapchat._client._primitives import AsyncLock, async_sleep
from jmapchat._core import CapabilityNotSupported, Response

from ._base import MirrorBase
from ._plan import OrderedView
from ._types import Diff

__all__ = ["AsyncMirror"]


class AsyncMirror(MirrorBase[AsyncClient]):
    """A local copy of chosen data types of one account, kept current in one round trip
    per step::

        async with AsyncMirror(client, store="bot.sqlite", types=["Chat", "Message"]) as m:
            diff = await m.sync()             # first time: a full load; then /changes
            for msg in diff.created("Message"):
                ...
            m.get("Message", msg_id)          # local, typed reads
            diff = await m.send(req)          # your calls + the catch-up, one envelope

    ``client`` is an open `jmapchat.AsyncClient`. ``store`` is None (in memory), a file
    path (SQLite) or a `MirrorStore`. ``properties`` limits what is kept per type.
    One task at a time runs a step: `sync`, `send` and `messages` queue on a lock.
    """

    _new_lock = AsyncLock

    async def open(self) -> AsyncMirror:
        """Open the store; the first `sync` loads what it does not hold yet."""
        if self._mirror is None:
            self._bind()
        return self

    async def aclose(self) -> None:
        """Close the store if the mirror opened it (the client stays open)."""
        self._unbind()

    async def __aenter__(self) -> AsyncMirror:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def sync(self) -> Diff:
        """Catch up with the server: one request per step, all types in it.

        Types never loaded are loaded in full first. A type whose state the server has
        forgotten (``cannotCalculateChanges``) is reloaded; it is in ``diff.reloaded``.
        """
        async with self._lock:
            diff, _ = await self._drive(self._core().sync_flow())
        return diff

    async def send(self, request: Request) -> Diff:
        """Send ``request`` with the catch-up calls appended: one envelope, in order.

        After one round trip the mirror already reflects your writes. Your call handles
        are answered as with ``client.send``; ``diff.response`` is the `Response`.
        """
        async with self._lock:
            diff, response = await self._drive(self._core().sync_flow(request), request)
        diff.response = response
        return diff

    async def messages(self, chat_id: str) -> OrderedView:
        """The messages of ``chat_id`` in order, kept current by every later step.

        The first call for a chat queries it (in the same request as a catch-up step), or
        resumes the view the store kept from an earlier run; later steps splice
        ``Message/queryChanges`` into it, re-querying on ``tooManyChanges`` or
        ``cannotCalculateChanges``. Views are stored with the objects.
        """
        view, new = self._view(chat_id)
        if new:
            await self.sync()
        return view

    async def watch(
        self, *, interval: float = 30.0, events: AsyncIterator[Any] | None = None
    ) -> AsyncIterator[Diff]:
        """Yield a `Diff` whenever the mirror changes (the first one: the catch-up).

        Driven by ``events`` (any iterator of pushed events; a ``StateChange`` for one
        of the mirrored types triggers a sync), else by ``client.events()`` when the
        client has it and the server pushes, else by polling every ``interval`` seconds.
        """
        opener = getattr(self._client, "events", None)
        if events is None and opener is not None:
            subscribed = False
            try:
                # Subscribe first, then catch up: no change can fall in between.
                async with (
                    opener(types=sorted(self._core().specs)) as pushed,
                    aclosing(self._follow(pushed)) as diffs,
                ):
                    subscribed = True
                    async for diff in diffs:
                        yield diff
                return
            except CapabilityNotSupported:
                if subscribed:
                    raise  # from a step, not from subscribing: never hidden by polling
                # the server does not push: poll
        if events is not None:
            async with aclosing(self._follow(events)) as diffs:
                async for diff in diffs:
                    yield diff
            return
        while True:
            diff = await self.sync()
            if diff:
                yield diff
            await async_sleep(interval)

    async def _follow(self, events: AsyncIterator[Any]) -> AsyncGenerator[Diff, None]:
        """Catch up, then sync after each event announcing a state the mirror is not at."""
        diff = await self.sync()
        if diff:
            yield diff
        async for event in events:
            if self._concerns(event):
                diff = await self.sync()
                if diff:
                    yield diff

    async def _drive(
        self, flow: Generator[Request, None, Diff], request: Request | None = None
    ) -> tuple[Diff, Response | None]:
        """Send each request the flow yields; return its diff (and ``request``'s reply)."""
        response: Response | None = None
        with closing(flow):
            try:
                req = next(flow)
                while True:
                    reply = await self._client.send(req)
                    if req is request:
                        response = reply
                    req = flow.send(None)
            except StopIteration as stop:
                return stop.value, response
