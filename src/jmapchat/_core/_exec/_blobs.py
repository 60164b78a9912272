"""Blob flows: upload (size and digest checked) and download (verified as it streams)."""

from __future__ import annotations

import hashlib
from typing import Any

from .._errors import LocalProtocolError, RemoteProtocolError
from .._json import loads
from .._session import Session
from ._instructions import Flow, FreshSession, HTTPRequest, HTTPResponse
from ._policy import RetryPolicy, exchange, raise_for_status

__all__ = [
    "DownloadVerifier",
    "StreamDigest",
    "check_download_response",
    "download_request_flow",
    "upload_flow",
]


class StreamDigest:
    """Counts and hashes bytes as they stream; refuses more than ``max_size``."""

    def __init__(self, max_size: int | None = None, *, what: str = "blob") -> None:
        self.max_size = max_size
        self.size = 0
        self.what = what
        self._sha = hashlib.sha256()

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.max_size is not None and self.size > self.max_size:
            raise LocalProtocolError(
                f"{self.what} is larger than the limit of {self.max_size} bytes"
            )
        self._sha.update(chunk)

    def reset(self) -> None:
        """Start over (a streamed body is being sent again)."""
        self.size = 0
        self._sha = hashlib.sha256()

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def upload_flow(
    body: Any,
    *,
    content_type: str,
    account_id: str,
    size: int | None,
    replayable: bool,
    policy: RetryPolicy,
) -> Flow[dict[str, Any]]:
    """Upload ``body`` (bytes, or an opaque stream the driver reads) to ``uploadUrl``.

    Checks ``maxSizeUpload`` first (when the size is known; streams are counted as they
    go and stopped at the limit), then verifies the server's ``size`` and ``sha256``
    against what was sent. Returns the server's JSON reply.
    """
    session: Session = yield FreshSession()
    limit = session.core.max_size_upload
    if size is not None and size > limit:
        raise LocalProtocolError(
            f"upload of {size} bytes exceeds the server's maxSizeUpload ({limit})"
        )
    if not session.upload_url:
        raise RemoteProtocolError("the session has no uploadUrl")
    digest = StreamDigest(limit, what="upload")
    streamed = not isinstance(body, bytes)
    if not streamed:
        digest.update(body)
    req = HTTPRequest(
        "POST",
        session.upload_url_for(account_id),
        {"Content-Type": content_type, "Accept": "application/json"},
        body,
        kind="upload",
        replay_safe=replayable,
        digest=digest if streamed else None,
    )
    resp = yield from exchange(req, policy, "upload")
    raise_for_status(resp, "upload")
    doc = loads(resp.body)
    if not isinstance(doc, dict) or not isinstance(doc.get("blobId"), str):
        raise RemoteProtocolError("upload reply is not an object with a blobId")
    got_size, got_sha = doc.get("size"), doc.get("sha256")
    if got_size != digest.size:
        raise RemoteProtocolError(
            f"upload corrupted: sent {digest.size} bytes, server stored {got_size!r}"
        )
    if got_sha is not None and str(got_sha).lower() != digest.hexdigest():
        raise RemoteProtocolError(
            f"upload corrupted: sha256 sent {digest.hexdigest()}, server reports {got_sha}"
        )
    return doc


def download_request_flow(
    blob_id: str, *, account_id: str, type: str, name: str
) -> Flow[HTTPRequest]:
    """The GET for a blob (from the session's ``downloadUrl``); the driver streams it."""
    session: Session = yield FreshSession()
    if not session.download_url:
        raise RemoteProtocolError("the session has no downloadUrl")
    url = session.download_url_for(account_id, blob_id, type=type, name=name)
    return HTTPRequest("GET", url, {}, kind="download", replay_safe=True)


def check_download_response(resp: HTTPResponse, blob_id: str, max_size: int | None) -> None:
    """Typed errors for a failed download; refuse early if Content-Length is over the cap."""
    raise_for_status(resp, f"download of blob {blob_id}")
    length = resp.header("content-length")
    if max_size is not None and length and length.isdigit() and int(length) > max_size:
        raise LocalProtocolError(
            f"blob {blob_id} is {length} bytes, over the download cap of {max_size}"
        )


class DownloadVerifier(StreamDigest):
    """Feed downloaded chunks; `finish` checks the expected sha256 (lower-case hex)."""

    def __init__(self, blob_id: str, *, max_size: int | None, sha256: str | None) -> None:
        super().__init__(max_size, what=f"blob {blob_id}")
        self.blob_id = blob_id
        self.expected = sha256.lower() if sha256 else None

    def finish(self) -> None:
        if self.expected is not None and self.hexdigest() != self.expected:
            raise RemoteProtocolError(
                f"blob {self.blob_id}: sha256 {self.hexdigest()} does not match the "
                f"expected {self.expected}"
            )
