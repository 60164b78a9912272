"""`AsyncBlobsMixin`: `AsyncClient.upload`, `download_stream` and `download`. The blocking
`BlobsMixin` (`_blobs_sync.py`) is generated from this file by ``scripts/unasync.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from jmapchat._core import (
    DownloadVerifier,
    Flow,
    StreamDigest,
    check_download_response,
    download_request_flow,
    upload_flow,
)
from jmapchat.models import UploadResponse

from ._base import ClientBase, UploadSource
from ._http import (
    check_deadline,
    deadline_until,
    map_transport_errors,
    to_response,
)
from ._primitives import async_upload_chunks, async_upload_source

__all__ = ["AsyncBlobsMixin", "stream_upload"]

T = TypeVar("T")

_CHUNK = 64 * 1024


class AsyncBlobsMixin(ClientBase):
    """Blob upload and download for `AsyncClient` (the driver's methods it uses are
    `AsyncClient`'s)."""

    if TYPE_CHECKING:

        def _client(self) -> httpx.AsyncClient: ...

        def _auth_kw(self, until: float | None = None) -> dict[str, Any]: ...

        async def _run(
            self, flow: Flow[T], until: float | None = None, sent: list[str] | None = None
        ) -> T: ...

    # --- blobs ------------------------------------------------------------------------

    async def upload(
        self,
        data: Any,
        *,
        type: str = "application/octet-stream",
        account_id: str | None = None,
        deadline: float | None = None,
    ) -> UploadResponse:
        """Upload bytes, a file path, a binary file object or an iterator of bytes.

        The async client also takes async iterators. Streams; checks ``maxSizeUpload``
        first; verifies the server's size and sha256. ``deadline`` (seconds) bounds the
        whole upload — the body stream (checked per chunk), retries and waits: past it
        `jmapchat.Timeout` is raised.
        """
        until = deadline_until(deadline)
        src = dataclasses.replace(async_upload_source(data), until=until)
        body: Any = src.value if src.kind == "bytes" else src
        doc = await self._run(
            upload_flow(
                body,
                content_type=type,
                account_id=account_id or self.account_id,
                size=src.size,
                replayable=src.replayable,
                policy=self._policy,
            ),
            until,
        )
        return UploadResponse.model_validate(doc)

    @asynccontextmanager
    async def download_stream(
        self,
        blob_id: str,
        *,
        type: str = "application/octet-stream",
        name: str = "blob",
        max_size: int | None = None,
        sha256: str | None = None,
        account_id: str | None = None,
        chunk_size: int = _CHUNK,
        deadline: float | None = None,
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        """``async with client.download_stream(blob_id) as chunks: async for c in chunks``.

        Raises `LocalProtocolError` past ``max_size`` bytes and `RemoteProtocolError`
        at the end if ``sha256`` (lower-case hex) does not match. ``deadline`` (seconds
        from this call) bounds the whole download, the caller's time between chunks
        included: past it `jmapchat.Timeout` is raised.
        """
        until = deadline_until(deadline)
        req = await self._run(
            download_request_flow(
                blob_id, account_id=account_id or self.account_id, type=type, name=name
            ),
            until,
        )
        verifier = DownloadVerifier(blob_id, max_size=max_size, sha256=sha256)
        http = self._client()
        what = f"download {blob_id}"
        with map_transport_errors(what):
            stream = http.stream("GET", req.url, headers=dict(req.headers), **self._auth_kw(until))
            async with stream as r:
                if not 200 <= r.status_code < 300:
                    await r.aread()
                    check_download_response(to_response(r, r.content), blob_id, max_size)
                check_download_response(to_response(r, b""), blob_id, max_size)
                yield _Chunks(r.aiter_bytes(chunk_size), verifier, what, until)

    async def download(
        self,
        blob_id: str,
        *,
        type: str = "application/octet-stream",
        name: str = "blob",
        max_size: int | None = None,
        sha256: str | None = None,
        account_id: str | None = None,
        deadline: float | None = None,
    ) -> bytes:
        """Download a blob as bytes (same checks and ``deadline`` as `download_stream`)."""
        async with self.download_stream(
            blob_id,
            type=type,
            name=name,
            max_size=max_size,
            sha256=sha256,
            account_id=account_id,
            deadline=deadline,
        ) as chunks:
            parts: list[bytes] = []
            async for chunk in chunks:
                parts.append(chunk)
            return b"".join(parts)


class _Chunks:
    """The chunk iterator handed out by `AsyncClient.download_stream`."""

    def __init__(
        self,
        source: AsyncIterator[bytes],
        verifier: DownloadVerifier,
        what: str,
        until: float | None = None,
    ) -> None:
        self._source = source
        self._verifier = verifier
        self._what = what
        self._until = until
        self._finished = False

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> bytes:
        with map_transport_errors(self._what):
            try:
                chunk = await self._source.__anext__()
            except StopAsyncIteration:
                if not self._finished:
                    self._finished = True
                    self._verifier.finish()
                raise
        check_deadline(self._until, f"{self._what}: reading the blob", sent=True)
        self._verifier.update(chunk)
        return chunk


async def stream_upload(src: UploadSource, digest: StreamDigest | None) -> AsyncIterator[bytes]:
    if digest is not None:
        digest.reset()
    async with aclosing(async_upload_chunks(src, _CHUNK)) as chunks:
        async for chunk in chunks:
            check_deadline(src.until, "upload: sending the body", sent=True)
            if digest is not None:
                digest.update(chunk)
            yield chunk
