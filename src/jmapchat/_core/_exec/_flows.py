"""Multi-round-trip protocol logic, written once as sans-IO generator flows.

A *flow* is a generator that yields instructions (`_instructions`) and receives their
outcome (the pattern of httpx's ``Auth.auth_flow``). Two thin drivers in
``jmapchat._client`` run them: one with ``await`` (anyio: trio or asyncio), one
blocking. The flows never touch a socket, a clock or a lock.

The executor flow reads: next envelope (`Splitter`) → exchange (`_policy.exchange`, with
its safe retries) → absorb (`Splitter.absorb`, the one reply entry point). Flows
compose with ``yield from``: paging is a loop around the executor flow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

from .._call import ChangesCall, GetCall, QueryCall
from .._errors import (
    AuthenticationError,
    HTTPStatusError,
    JMAPError,
    RateLimited,
    RemoteProtocolError,
    RequestRejected,
    TransportError,
)
from .._request import BaseRequest
from .._response import Response
from .._session import Session, redact_url
from ._envelope import Envelope
from ._instructions import (
    Emit,
    Flow,
    FreshSession,
    HTTPRequest,
    ObservedSessionState,
    Sleep,
)
from ._plan import Splitter
from ._policy import RetryPolicy, exchange, raise_for_status

__all__ = [
    "changes_pages_flow",
    "execute_flow",
    "query_iter_flow",
    "session_flow",
    "session_url_for",
]


# --- session -------------------------------------------------------------------------------


API_HEADERS: Final[Mapping[str, str]] = MappingProxyType(
    {"Content-Type": "application/json", "Accept": "application/json"}
)
"""The headers of every API request: one object, so a driver can cache what it derives."""


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
    resp = yield from exchange(req, policy, "session")
    raise_for_status(resp, f"GET {redact_url(url)}")
    return Session.parse(resp.body, base_url=resp.url)


# --- the executor ------------------------------------------------------------------------


def execute_flow(
    request: BaseRequest, *, account_id: str | None, policy: RetryPolicy
) -> Flow[Response]:
    """Send ``request`` however many envelopes it takes; bind every call's result.

    See `_plan` for the splitting rules. A request-level error (problem details, HTTP
    status, transport) raises; calls already answered stay bound, the others get that
    error as their outcome (so a task awaiting one wakes up), and the exception carries
    notes saying how far the request got. Nothing confirmed is lost: a chunked call
    keeps the merged result of its answered chunks in ``call.partial`` and its counts
    (confirmed, unknown outcome, not applied) in ``call.progress``.
    """
    run = _Run()
    try:
        return (yield from _execute(request, run, account_id=account_id, policy=policy))
    except BaseException as exc:
        fail_request(request, exc, run.splitter, [run.in_flight] if run.in_flight else [])
        raise


def fail_request(
    request: BaseRequest,
    exc: BaseException,
    splitter: Splitter | None,
    in_flight: Sequence[Envelope],
) -> None:
    """The send of ``request`` ended with ``exc``: every call not yet answered gets the
    error; chunked calls keep what was confirmed (``in_flight``: the envelopes out)."""
    error = (
        exc
        if isinstance(exc, JMAPError)
        else TransportError(f"the send carrying this call was interrupted: {exc!r}")
    )
    if splitter is not None:
        where = splitter.progress()
        lines = splitter.fail(error, in_flight, maybe_applied=_maybe_applied(exc))
        if len(splitter.envelopes) > 1 or lines:
            error.add_note(f"split request: {where}")
        for line in lines[:5]:
            error.add_note(line)
        if len(lines) > 5:
            error.add_note(f"… and {len(lines) - 5} more call(s) got part way")
    for call in request.calls:
        if not call.done:
            call._fail(error)


class _Run:
    """Where an execution is, for the failure path: its planner and the envelope out."""

    splitter: Splitter | None = None
    in_flight: Envelope | None = None


def _maybe_applied(exc: BaseException) -> bool:
    """Could the envelope being exchanged when ``exc`` happened have been applied?"""
    if isinstance(exc, TransportError):
        return exc.sent
    if isinstance(exc, RequestRejected | RateLimited | AuthenticationError):
        return False  # the server refused the request as a whole
    if isinstance(exc, HTTPStatusError):
        return exc.status_code >= 500
    return True  # a malformed reply, a cancelled task …: the request may have run


def _execute(
    request: BaseRequest, run: _Run, *, account_id: str | None, policy: RetryPolicy
) -> Flow[Response]:
    session: Session = yield FreshSession()
    if request.account_id is None:
        request.account_id = account_id
    api_url = session.api_url
    splitter = run.splitter = Splitter(request, session.core, supported=session.capabilities)
    while (env := splitter.next_envelope()) is not None:
        req = HTTPRequest("POST", api_url, API_HEADERS, env.body, replay_safe=env.replay_safe)
        run.in_flight = env
        attempt = 0
        while True:
            resp = yield from exchange(req, policy, "API request")
            raise_for_status(resp, f"POST {redact_url(api_url)}")
            if splitter.absorb(env, resp.body, resend_ok=attempt < policy.retries):
                break
            attempt += 1  # serverUnavailable, and nothing in the envelope changed
            yield Sleep(policy.backoff(attempt))
        run.in_flight = None
        if splitter.session_state not in (None, session.state):  # the same: nothing to do
            yield ObservedSessionState(splitter.session_state)
    return splitter.response()


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
