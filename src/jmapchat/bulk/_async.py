"""`AsyncImporter` and `async_export_jsonl`: exactly-once bulk import, and export.

The source of truth for both twins: ``scripts/unasync.py`` generates the blocking
`Importer` / `export_jsonl` (`_sync.py`) from this file. What differs lives in
`_primitives`.
"""

from __future__ import annotations

import time
from pathlib import Path

from jmapchat import AsyncClient
from jmapchat._core import (
    AuthenticationError,
    Comparator,
    HTTPStatusError,
    MethodError,
    RateLimited,
    RemoteProtocolError,
    RequestRejected,
    ServerUnavailable,
    SetError,
    Timeout,
    TransportError,
)
from jmapchat.models import MessageFilter

from ._chats_async import AsyncChatsMixin
from ._journal import Journal, SendingRow
from ._plan import (
    AsyncRecordSource,
    ImportAborted,
    Packer,
    Pending,
    Progress,
    ProgressCallback,
    Report,
    creation_key,
    envelope_request,
    epoch,
    fingerprint,
)
from ._primitives import (
    AsyncEvent,
    AsyncWorkers,
    async_batches,
    async_sleep,
    async_state_lock,
)

__all__ = ["AsyncImporter"]

_RECONCILE_PAGE = 200
_LOOKUP_BATCH = 256
_MAX_UNKNOWN = 8


class AsyncImporter(AsyncChatsMixin):
    """Imports `Record` s exactly once into the client's account::

        async with jmapchat.AsyncClient.connect(url, token=token) as client:
            report = await AsyncImporter(client, "import.sqlite").run(records)

    Run it again with the same journal after any crash: done records are skipped,
    records whose envelope's outcome is unknown are found on the server (by chat,
    ``sentAt`` and body hash) before anything is resent.

    ``concurrency``: envelopes in flight (default: ``maxConcurrentRequests``, at most 4);
    ``envelope_size``: records per envelope at most; ``max_outage``: how long to wait for
    an unreachable server; ``reconcile_window``: how far before an envelope's send time
    to look for its messages (clock skew); ``timeout_grace``: how long to let a server
    finish a timed-out request before looking; ``backoff``: the first retry delay.
    """

    def __init__(
        self,
        client: AsyncClient,
        journal: str | Path = "import.sqlite",
        *,
        concurrency: int | None = None,
        envelope_size: int = 500,
        progress: ProgressCallback | None = None,
        max_outage: float = 300.0,
        reconcile_window: float = 600.0,
        backoff: float = 0.5,
        timeout_grace: float = 30.0,
    ) -> None:
        self._client = client
        self._journal = Journal(journal)
        self._concurrency = concurrency
        self._envelope_size = envelope_size
        self._progress = progress
        self._max_outage = max_outage
        self._window = reconcile_window
        self._backoff = backoff
        self._timeout_grace = timeout_grace
        self._lock = async_state_lock()
        self._chats: dict[str, str] = {}
        self._contacts: dict[str, str] | None = None
        self._looked_up = False
        self._inflight: dict[str, AsyncEvent] = {}
        self._report = Report()
        self._total: int | None = None
        self._started = 0.0
        self._waiting = 0.0

    @property
    def journal(self) -> Journal:
        """The import's journal: states, failures and the chat and contact mappings."""
        return self._journal

    def close(self) -> None:
        """Close the journal (``async with AsyncImporter(...) as importer`` does it)."""
        self._journal.close()

    async def __aenter__(self) -> AsyncImporter:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    # --- the run --------------------------------------------------------------------------

    async def run(self, records: AsyncRecordSource, *, total: int | None = None) -> Report:
        """Import ``records`` (an iterable or async iterable); returns the `Report`.

        ``total`` (when known) gives the progress callback an ETA.
        """
        self._report = report = Report()
        self._total = total
        self._started = time.monotonic()
        core = self._client.session.core
        self._journal.bind_account(self._client.account_id)
        self._packer = packer = Packer(
            core.max_objects_in_set,
            core.max_calls_in_request,
            core.max_size_request,
            self._envelope_size,
        )
        n = self._concurrency or max(1, min(4, core.max_concurrent_requests))
        await self._recover()
        queued: set[str] = set()
        async with AsyncWorkers(n) as workers:
            async for batch in async_batches(records, _LOOKUP_BATCH):
                # one journal query per batch, not per record
                states = self._journal.states([r.source_id for r in batch])
                for record in batch:
                    state = states.get(record.source_id)
                    if (state is not None and state[0] == "done") or (
                        record.source_id in queued or record.source_id in self._inflight
                    ):
                        with self._lock:
                            report.skipped += 1
                        self._tick()
                        continue
                    chat_id = None if record.chat is None else await self._chat_id(record.chat)
                    item = Pending.of(record.source_id, record.create, record.reactions, chat_id)
                    if record.reply_to is not None and record.reply_to in queued:
                        # the parent is in this envelope: refer to it by its creation id
                        item = item.replying_to(f"#{creation_key(record.reply_to)}")
                        if not packer.fits(item):
                            await self._launch(workers, packer.take(), queued)
                            item = item.replying_to(await self._parent(record.reply_to))
                    elif record.reply_to is not None:
                        item = item.replying_to(await self._parent(record.reply_to))
                    if item.size > packer.budget:
                        self._refuse(item, "tooLarge", "over the server's maxSizeRequest")
                        continue
                    if not packer.fits(item):
                        await self._launch(workers, packer.take(), queued)
                    packer.add(item)
                    queued.add(item.source_id)
                    if len(packer.items) >= packer.capacity:
                        await self._launch(workers, packer.take(), queued)
            await self._launch(workers, packer.take(), queued)
        report.seconds = time.monotonic() - self._started
        self._tick()
        return report

    def _refuse(self, item: Pending, kind: str, why: str) -> None:
        """Fail one record without sending it (kept in the journal and the report)."""
        error = SetError(type=kind, description=f"{why} ({item.size} bytes)")
        self._journal.mark_sending([(item.source_id, *item.fingerprint)])
        self._journal.record_outcomes((), [(item.source_id, error)])
        with self._lock:
            self._report.failed[item.source_id] = error
        self._tick()

    async def _launch(self, workers: AsyncWorkers, items: list[Pending], queued: set[str]) -> None:
        if not items:
            return
        done = AsyncEvent()
        for item in items:
            self._inflight[item.source_id] = done
            queued.discard(item.source_id)
        await workers.start(self._deliver, items, done)

    async def _deliver(self, items: list[Pending], done: AsyncEvent) -> None:
        try:
            await self._settle(items)
        finally:
            done.set()
            for item in items:
                self._inflight.pop(item.source_id, None)

    async def _parent(self, source_id: str) -> str | None:
        """The new id of a reply's parent (waits if its envelope is in flight)."""
        event = self._inflight.get(source_id)
        if event is not None:
            await event.wait()
        state = self._journal.state(source_id)
        return state[1] if state is not None and state[0] == "done" else None

    # --- one envelope until every record in it is settled -----------------------------------

    async def _settle(self, items: list[Pending]) -> None:
        report = self._report
        todo = items
        attempt = 0
        known: dict[str, str] = {}  # creation id -> message id, for replies resent later
        unknown = 0  # attempts in a row whose outcome was unknown
        while todo:
            self._journal.mark_sending((it.source_id, *it.fingerprint) for it in todo)
            try:
                created, failed, limited = await self._post(todo, known)
            except RateLimited as exc:
                # HTTP 429 (after the client's own retries): the server processed nothing.
                attempt += 1
                await self._wait_rate_limit(exc.retry_after or self._backoff * 2**attempt)
                continue
            except (AuthenticationError, RequestRejected) as exc:
                # Refused as a whole before anything ran: nothing to reconcile.
                self._journal.record_outcomes((), forget=[it.source_id for it in todo])
                raise ImportAborted(f"the server refused the import: {exc}") from exc
            except (TransportError, HTTPStatusError, RemoteProtocolError) as exc:
                unknown += 1
                if unknown > _MAX_UNKNOWN:
                    raise ImportAborted(
                        f"{_MAX_UNKNOWN} attempts in a row ended without an answer: {exc}; "
                        "run the import again later (nothing will be sent twice)"
                    ) from exc
                if isinstance(exc, Timeout):
                    # The server may still be working on it: give it time to finish before
                    # looking, or the look could miss what it is about to store.
                    await async_sleep(self._timeout_grace)
                matched = await self._reconcile(
                    [SendingRow(it.source_id, *it.fingerprint, time.time()) for it in todo],
                    cause=exc,
                )
                self._journal.record_outcomes(matched.items())
                known.update(
                    {it.key: matched[it.source_id] for it in todo if it.source_id in matched}
                )
                with self._lock:
                    report.reconciled += len(matched)
                todo = [it for it in todo if it.source_id not in matched]
                self._tick()
                if todo:
                    await async_sleep(min(5.0, self._backoff * 2**unknown))
                continue
            self._journal.record_outcomes(
                created.items(), failed.items(), forget=[it.source_id for it, _ in limited]
            )
            known.update({it.key: created[it.source_id] for it in todo if it.source_id in created})
            with self._lock:
                report.written += len(created)
                report.failed.update(failed)
                report.rate_limited += len(limited)
            self._tick()
            todo = [it for it, _ in limited]
            if limited:
                waits = [w for _, w in limited if w is not None]
                attempt += 1
                await self._wait_rate_limit(max(waits) if waits else self._backoff * 2**attempt)

    async def _post(
        self, items: list[Pending], known: dict[str, str]
    ) -> tuple[dict[str, str], dict[str, SetError], list[tuple[Pending, float | None]]]:
        """Send one envelope; (created source id -> message id, failed, rate limited).

        ``known`` (creation id -> id) goes out as ``createdIds``, so that a reply resent
        without its parent still finds it.
        """
        req, calls = envelope_request(items, known, self._client.account_id, self._packer)
        with self._lock:
            self._report.requests += 1
            self._report.envelopes += 1
        await self._client.send(req)
        created: dict[str, str] = {}
        failed: dict[str, SetError] = {}
        limited: list[tuple[Pending, float | None]] = []
        for call, keys in calls:
            try:
                result = call.result
            except ServerUnavailable:
                # The method did not run (RFC 8620 §3.6.2): resend its records later.
                limited.extend((item, self._backoff) for item in keys.values())
                continue
            except MethodError as exc:
                error = SetError(type=exc.type, description=str(exc))
                failed.update({item.source_id: error for item in keys.values()})
                continue
            for key, item in keys.items():
                if key in result.created:
                    created[item.source_id] = result.created[key].id
                else:
                    err = result.not_created.get(key) or SetError(
                        type="serverFail", description="neither created nor refused"
                    )
                    if err.type in ("rateLimit", "rateLimited"):
                        limited.append((item, err.retry_after_seconds()))
                    else:
                        failed[item.source_id] = err
            with self._lock:
                self._report.reaction_failures += len(result.not_updated or {})
        # A reply refused only because its parent (same envelope) was rate limited goes
        # back with it, instead of failing for good.
        waiting = {"#" + it.key for it, _ in limited}
        for item in items:
            if item.source_id in failed and item.wire.get("replyTo") in waiting:
                del failed[item.source_id]
                limited.append((item, None))
        return created, failed, limited

    async def _wait_rate_limit(self, seconds: float) -> None:
        with self._lock:
            self._report.waits.append(seconds)
        self._waiting = seconds
        self._tick()
        await async_sleep(seconds)
        self._waiting = 0.0

    # --- exactly once: reconciliation -------------------------------------------------------

    async def _recover(self) -> None:
        """Settle the records a previous run left in flight, before sending anything."""
        rows = self._journal.sending()
        if not rows:
            return
        matched = await self._reconcile(rows, cause=None)
        self._journal.record_outcomes(
            matched.items(), forget=[r.source_id for r in rows if r.source_id not in matched]
        )
        self._report.recovered = len(matched)

    async def _reconcile(
        self, rows: list[SendingRow], *, cause: BaseException | None
    ) -> dict[str, str]:
        """Which of ``rows`` exist on the server: source id -> message id.

        Waits (with backoff, up to ``max_outage`` seconds) for the server to come back.
        """
        deadline = time.monotonic() + self._max_outage
        attempt = 0
        while True:
            try:
                return await self._match(rows)
            except (TransportError, HTTPStatusError, ServerUnavailable) as exc:
                if isinstance(exc, AuthenticationError) or time.monotonic() > deadline:
                    raise ImportAborted(
                        f"the server stayed unreachable for {self._max_outage:g}s: {exc}"
                        + (f" (first failure: {cause})" if cause is not None else "")
                    ) from exc
                attempt += 1
                await async_sleep(min(5.0, self._backoff * 2**attempt))

    async def _match(self, rows: list[SendingRow]) -> dict[str, str]:
        by_chat: dict[str, list[SendingRow]] = {}
        for row in rows:
            by_chat.setdefault(row.chat_id, []).append(row)
        matched: dict[str, str] = {}
        for chat_id, group in by_chat.items():
            wanted: dict[tuple[str, str, str], list[str]] = {}
            for row in group:
                key = (row.chat_id, row.sent_at, row.body_hash)
                wanted.setdefault(key, []).append(row.source_id)
            since = min(r.batch_at for r in group) - self._window
            found: list[tuple[str, tuple[str, str, str]]] = []  # not owned by done records
            page: list[tuple[str, tuple[str, str, str]]] = []
            need = {fp: len(ids) for fp, ids in wanted.items()}
            pages = 1
            async for msg in self._client.query_iter(
                "Message",
                filter=MessageFilter(chat_id=chat_id),
                sort=[Comparator(property="receivedAt", is_ascending=False)],
                page_size=_RECONCILE_PAGE,
                properties=["id", "chatId", "sentAt", "body", "receivedAt"],
            ):
                if msg.received_at and epoch(msg.received_at) < since:
                    break
                page.append((msg.id, fingerprint(chat_id, msg.sent_at or "", msg.body or "")))
                if len(page) == _RECONCILE_PAGE:
                    pages += 1
                    self._unowned(page, found, need)
                    page = []
                    if not any(need.values()):
                        break  # newest first: every record has its match, stop reading
            self._unowned(page, found, need)
            with self._lock:
                self._report.requests += pages
            for mid, fp in reversed(found):  # oldest first: duplicates match in order
                ids = wanted.get(fp)
                if ids:
                    matched[ids.pop(0)] = mid
        return matched

    def _unowned(
        self,
        page: list[tuple[str, tuple[str, str, str]]],
        found: list[tuple[str, tuple[str, str, str]]],
        need: dict[tuple[str, str, str], int],
    ) -> None:
        """Add ``page``'s messages no done record owns to ``found``; count down ``need``."""
        known = self._journal.known_message_ids([mid for mid, _ in page])
        for mid, fp in page:
            if mid not in known:
                found.append((mid, fp))
                if need.get(fp):
                    need[fp] -= 1

    # --- progress ----------------------------------------------------------------------------

    def _tick(self) -> None:
        if self._progress is None:
            return
        r = self._report
        elapsed = max(1e-6, time.monotonic() - self._started)
        handled = r.written + r.reconciled + len(r.failed)
        rate = handled / elapsed
        done = r.done + len(r.failed)
        eta = None
        if self._total is not None and rate > 0:
            eta = max(0.0, (self._total - done) / max(rate, 1e-9))
        self._progress(
            Progress(
                done=done,
                written=r.written,
                skipped=r.skipped,
                failed=len(r.failed),
                total=self._total,
                rate=rate,
                eta=eta,
                waiting=self._waiting,
            )
        )
