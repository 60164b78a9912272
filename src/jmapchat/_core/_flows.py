"""Multi-round-trip protocol logic, written once as sans-IO generator flows.

A *flow* is a generator that yields instructions and receives their outcome (the
pattern of httpx's ``Auth.auth_flow``). Two thin drivers in ``jmapchat._client`` run
them: one with ``await`` (anyio: trio or asyncio), one blocking. The flows never touch
a socket, a clock or a lock; instructions are plain values:

=====================  =================================  ==========================
instruction            driver does                        sent back into the flow
=====================  =================================  ==========================
`HTTPRequest`          the HTTP exchange                  `HTTPResponse`; or a
                                                          `TransportError` is thrown in
`Sleep`                waits ``seconds``                  None
`FreshSession`         refetches the session if stale     the current `Session`
                       (single-flight), else returns it
`ObservedSessionState` marks the session stale if the     None
                       state differs
`Emit`                 hands ``value`` to the caller      None
                       (iterator flows only)
=====================  =================================  ==========================

Flows compose with ``yield from``: paging is a loop around the executor flow.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, TypeAlias, TypeVar

from ._call import Call, ChangesCall, GetCall, QueryCall
from ._errors import (
    AuthenticationError,
    HTTPStatusError,
    JMAPError,
    LimitExceeded,
    LocalProtocolError,
    RateLimited,
    RemoteProtocolError,
    ServerUnavailable,
    TransportError,
)
from ._request import BaseRequest
from ._response import Response, loads, parse_problem
from ._session import Session
from ._split import Envelope, Splitter, _set_created

__all__ = [
    "DownloadVerifier",
    "Emit",
    "Flow",
    "FreshSession",
    "HTTPRequest",
    "HTTPResponse",
    "Instruction",
    "ObservedSessionState",
    "RetryPolicy",
    "Sleep",
    "StreamDigest",
    "changes_pages_flow",
    "check_download_response",
    "download_request_flow",
    "execute_flow",
    "parse_retry_after",
    "query_iter_flow",
    "session_flow",
    "session_url_for",
    "upload_flow",
]

T = TypeVar("T")


# --- instructions ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HTTPRequest:
    """An HTTP request for the driver to perform. No httpx types, no credentials.

    ``body`` is bytes, or (uploads) an opaque iterable / async iterable of bytes that the
    driver streams, feeding every chunk to ``digest``. ``replay_safe`` tells the flow's
    retry logic (not the driver) whether a resend after a partial exchange is harmless.
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    kind: str = "api"
    follow_redirects: bool = False
    replay_safe: bool = False
    digest: StreamDigest | None = None


@dataclass(frozen=True, slots=True)
class HTTPResponse:
    """What the driver got back. ``headers`` keys are lower-case; ``url`` is the final URL."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class FreshSession:
    """Ask the driver for the current session (refetched first if it went stale)."""


@dataclass(frozen=True, slots=True)
class ObservedSessionState:
    """A response carried ``sessionState``; the driver marks the session stale if new."""

    state: str


@dataclass(frozen=True, slots=True)
class Emit:
    """Hand ``value`` to the consumer of an iterator flow."""

    value: Any


Instruction: TypeAlias = HTTPRequest | Sleep | FreshSession | ObservedSessionState | Emit
Flow: TypeAlias = Generator[Instruction, Any, T]


# --- retry policy ------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before resending. ``retries=0`` disables retrying.

    Only provably safe resends happen: the request was never sent (connect errors); HTTP
    503 or a ``serverUnavailable`` reply where nothing changed; HTTP 429 with a
    ``Retry-After`` of at most ``max_retry_after`` seconds; a ``maxConcurrentRequests``
    limit problem; or any failure for an envelope whose every call is read-only or
    guarded by ``ifInState``. Waits grow as ``backoff_base * 2**n`` capped at
    ``backoff_max`` (with jitter unless ``jitter=False``).
    """

    retries: int = 3
    backoff_base: float = 0.25
    backoff_max: float = 8.0
    max_retry_after: float = 60.0
    jitter: bool = True

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based): exponential from
        ``backoff_base``, capped at ``backoff_max``, jittered unless ``jitter=False``.
        """
        delay = min(self.backoff_max, self.backoff_base * 2.0 ** max(0, attempt - 1))
        if self.jitter:
            delay *= random.uniform(0.5, 1.0)
        return delay


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    from datetime import UTC, datetime

    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


# --- shared response checks --------------------------------------------------------------


def _raise_for_status(resp: HTTPResponse, what: str) -> None:
    """Typed errors for a non-2xx reply: problem details, 401/403, 429, other."""
    status = resp.status
    if 200 <= status < 300:
        return
    if status in (401, 403):
        raise AuthenticationError(
            f"{what}: HTTP {status} (check the token or credentials)",
            status_code=status,
            body=resp.body[:2000],
        )
    if status == 429:
        retry_after = parse_retry_after(resp.header("retry-after"))
        raise RateLimited(
            f"{what}: HTTP 429 Too Many Requests"
            + (f" (retry after {retry_after:g}s)" if retry_after is not None else ""),
            retry_after=retry_after,
        )
    problem = parse_problem(resp.body, status=status)
    # "about:blank" problem details (RFC 7807 §4.2) add nothing beyond the status code.
    if problem is not None and problem.type != "about:blank":
        raise problem
    detail = f": {problem.detail}" if problem is not None and problem.detail else ""
    raise HTTPStatusError(
        f"{what}: HTTP {status}{detail}", status_code=status, body=resp.body[:2000]
    )


def _exchange(
    req: HTTPRequest, policy: RetryPolicy, what: str
) -> Generator[Instruction, Any, HTTPResponse]:
    """Send ``req`` with the safe retries of ``policy``; return a 2xx (or final) reply.

    Returns non-2xx replies that are not retried so that the caller can type them.
    """
    attempt = 0
    while True:
        try:
            resp: HTTPResponse = yield req
        except TransportError as exc:
            if attempt < policy.retries and (not exc.sent or req.replay_safe):
                attempt += 1
                yield Sleep(policy.backoff(attempt))
                continue
            if exc.sent and not req.replay_safe:
                exc.add_note(
                    f"{what}: not retried: the request may have reached the server and it "
                    "is not safe to send twice"
                )
            raise
        if attempt < policy.retries:
            delay = _retry_delay(resp, policy, attempt + 1)
            if delay is not None:
                attempt += 1
                yield Sleep(delay)
                continue
        return resp


def _retry_delay(resp: HTTPResponse, policy: RetryPolicy, attempt: int) -> float | None:
    """How long to wait before resending after ``resp``, or None to not resend."""
    retry_after = parse_retry_after(resp.header("retry-after"))
    if resp.status == 429:
        if retry_after is not None and retry_after <= policy.max_retry_after:
            return retry_after
        return None
    if resp.status == 503:
        if retry_after is not None and retry_after <= policy.max_retry_after:
            return retry_after
        return policy.backoff(attempt)
    if resp.status >= 400:
        problem = parse_problem(resp.body, status=resp.status)
        if isinstance(problem, LimitExceeded) and problem.limit == "maxConcurrentRequests":
            return retry_after if retry_after is not None else policy.backoff(attempt)
    return None


# --- session -------------------------------------------------------------------------------


def session_url_for(url: str) -> str:
    """``{url}/.well-known/jmap`` (or ``url`` itself if it already is that)."""
    if url.rstrip("/").endswith("/.well-known/jmap"):
        return url
    return url.rstrip("/") + "/.well-known/jmap"


def session_flow(url: str, policy: RetryPolicy) -> Flow[Session]:
    """Fetch and parse the Session resource at ``url``, following redirects.

    Relative URLs inside it are resolved against the final (post-redirect) URL.
    """
    req = HTTPRequest(
        "GET",
        url,
        {"Accept": "application/json"},
        kind="session",
        follow_redirects=True,
        replay_safe=True,
    )
    resp = yield from _exchange(req, policy, "session")
    _raise_for_status(resp, f"GET {url}")
    return Session.parse(resp.body, base_url=resp.url)


# --- the executor ------------------------------------------------------------------------


def execute_flow(
    request: BaseRequest, *, account_id: str | None, policy: RetryPolicy
) -> Flow[Response]:
    """Send ``request`` however many envelopes it takes; bind every call's result.

    See `_split` for the splitting rules. A request-level error (problem details, HTTP
    status, transport) raises; calls already answered stay bound, the others get that
    error as their outcome (so a task awaiting one wakes up), and the exception carries
    a note saying how far the request got.
    """
    try:
        return (yield from _execute(request, account_id=account_id, policy=policy))
    except BaseException as exc:
        error = (
            exc
            if isinstance(exc, JMAPError)
            else TransportError(f"the send carrying this call was interrupted: {exc!r}")
        )
        for call in request.calls:
            if not call.done:
                call._fail(error)
        raise


def _execute(
    request: BaseRequest, *, account_id: str | None, policy: RetryPolicy
) -> Flow[Response]:
    session: Session = yield FreshSession()
    if request.account_id is None:
        request.account_id = account_id
    splitter = Splitter(request, session.core, supported=session.capabilities)
    while (env := splitter.next_envelope()) is not None:
        try:
            doc = yield from _send_envelope(
                env, session.api_url, policy, _whole_request_calls(request, splitter, env)
            )
        except JMAPError as exc:
            if env.index > 0 or len(splitter.envelopes) > 1:
                exc.add_note(f"split request: {splitter.progress()}")
            raise
        if isinstance(doc, Response):  # the typed one-pass parse took the whole reply
            if doc.session_state is not None:
                yield ObservedSessionState(doc.session_state)
            return _whole_request_response(request, doc)
        splitter.absorb(env, doc)
        if splitter.session_state is not None:
            yield ObservedSessionState(splitter.session_state)
    return splitter.response()


def _whole_request_calls(
    request: BaseRequest, splitter: Splitter, env: Envelope
) -> list[Call[Any]] | None:
    """The calls of ``request`` if ``env`` carries all of them, whole and in order, else None.

    Then the reply can be validated in one typed pass straight from bytes (see
    `Response.parse`); any other envelope goes through the splitter's general path.
    """
    if env.index != 0 or not splitter.finished or len(env.pieces) != len(request.calls):
        return None
    calls = request.calls
    for piece, call in zip(env.pieces, calls, strict=True):
        if piece.state.call is not call or piece.chunks != 1 or piece.wire_id != call.id:
            return None
    return calls


def _whole_request_response(request: BaseRequest, parsed: Response) -> Response:
    """The `Response` the splitter would have built for a one-envelope reply."""
    created = dict(request.created_ids or {})
    for call in request.calls:
        if call.method.endswith(("/set", "/copy")):
            for name, args in call.responses:
                _set_created(name, args, created)
    created.update(parsed.created_ids)
    return Response(request.calls, None, session_state=parsed.session_state, created_ids=created)


def _send_envelope(
    env: Envelope, api_url: str, policy: RetryPolicy, whole: list[Call[Any]] | None = None
) -> Generator[Instruction, Any, dict[str, Any] | Response]:
    req = HTTPRequest(
        "POST",
        api_url,
        {"Content-Type": "application/json", "Accept": "application/json"},
        env.body,
        kind="api",
        replay_safe=env.replay_safe,
    )
    attempt = 0
    while True:
        resp = yield from _exchange(req, policy, "API request")
        _raise_for_status(resp, f"POST {api_url}")
        if whole is not None:
            # Every call answered as expected: typed results in one pass from the bytes.
            # Anything else (an error, a malformed reply) falls through unchanged.
            fast = Response._parse_expected(whole, resp.body)
            if fast is not None:
                return fast
        doc = loads(resp.body)
        if not isinstance(doc, dict):
            raise RemoteProtocolError(f"response is a JSON {type(doc).__name__}, not an object")
        Response.from_document([], doc)  # shape check: RemoteProtocolError if malformed
        if attempt < policy.retries and _server_unavailable(doc) and env.replay_safe_after(doc):
            attempt += 1
            yield Sleep(policy.backoff(attempt))
            continue
        return doc


def _server_unavailable(doc: Mapping[str, Any]) -> bool:
    raw = doc.get("methodResponses")
    return isinstance(raw, list) and any(
        isinstance(inv, list)
        and len(inv) == 3
        and inv[0] == "error"
        and isinstance(inv[1], dict)
        and inv[1].get("type") == ServerUnavailable.error_type
        for inv in raw
    )


# --- paging ------------------------------------------------------------------------------


def changes_pages_flow(
    new_request: Callable[[], BaseRequest],
    add_changes: Callable[[BaseRequest, str], ChangesCall],
    since_state: str,
    *,
    account_id: str | None,
    policy: RetryPolicy,
) -> Flow[None]:
    """Emit every ``/changes`` page from ``since_state`` until ``hasMoreChanges`` is false.

    Guards against a stuck cursor: a page that claims more changes but does not move
    ``newState`` forward (or returns to a state already seen) raises
    `RemoteProtocolError` instead of looping forever.
    """
    state = since_state
    seen = {state}
    while True:
        req = new_request()
        call = add_changes(req, state)
        yield from execute_flow(req, account_id=account_id, policy=policy)
        page = call.result
        yield Emit(page)
        if not page.has_more_changes:
            return
        if page.new_state in seen:
            raise RemoteProtocolError(
                f"{call.method}: hasMoreChanges is true but newState {page.new_state!r} does "
                "not move forward (stuck cursor)"
            )
        seen.add(page.new_state)
        state = page.new_state


def query_iter_flow(
    new_request: Callable[[], BaseRequest],
    add_page: Callable[[BaseRequest, int], tuple[QueryCall, GetCall[Any] | None]],
    *,
    account_id: str | None,
    policy: RetryPolicy,
) -> Flow[None]:
    """Walk a ``/query`` by ``position``, one envelope (query [+ get]) per page.

    Emits each object from the page's ``/get`` (or each id when there is no get). Stops
    at an empty or short page (fewer ids than the limit), or at ``total``. Ids already
    emitted are skipped, so results that shift under concurrent changes are not repeated.
    """
    position = 0
    emitted: set[str] = set()
    while True:
        req = new_request()
        query, get = add_page(req, position)
        yield from execute_flow(req, account_id=account_id, policy=policy)
        page = query.result
        if get is None:
            for id_ in page.ids:
                if id_ not in emitted:
                    emitted.add(id_)
                    yield Emit(id_)
        else:
            by_id = {getattr(obj, "id", None): obj for obj in get.result.list}
            for id_ in page.ids:
                if id_ not in emitted and id_ in by_id:
                    emitted.add(id_)
                    yield Emit(by_id[id_])
        position = page.position + len(page.ids)
        asked = query.args.get("limit")
        window = page.limit if page.limit is not None else asked
        if (
            not page.ids
            or (page.total is not None and position >= page.total)
            or (isinstance(window, int) and len(page.ids) < window)
        ):
            return


# --- blobs -------------------------------------------------------------------------------


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
    resp = yield from _exchange(req, policy, "upload")
    _raise_for_status(resp, "upload")
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
    _raise_for_status(resp, f"download of blob {blob_id}")
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
