"""Retry policy and replay safety, decided here and nowhere else.

A resend happens only when it is provably harmless: the request never left (connect
errors); HTTP 503 / 429 / a ``maxConcurrentRequests`` problem; a ``serverUnavailable``
method error where everything else in the envelope changed nothing; or an envelope whose
every call is read-only or guarded by ``ifInState``. `exchange` applies the HTTP-level
rules; `Splitter.absorb` asks `resend_after` for the reply-level rule.
"""

from __future__ import annotations

import math
import random
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, Protocol

from .._errors import (
    AuthenticationError,
    HTTPStatusError,
    LimitExceeded,
    RateLimited,
    ServerUnavailable,
    TransportError,
)
from .._response import parse_problem
from ._instructions import HTTPRequest, HTTPResponse, Instruction, Sleep

__all__ = [
    "READ_ONLY_SUFFIXES",
    "RetryPolicy",
    "exchange",
    "is_read_only",
    "parse_retry_after",
    "raise_for_status",
    "replay_safe",
    "resend_after",
]

Invocation = tuple[str, dict[str, Any], str]

READ_ONLY_SUFFIXES: Final = ("/get", "/changes", "/query", "/queryChanges", "/lookup")
"""Methods that never change server state (plus ``Core/echo``): safe to send twice."""


class _Sent(Protocol):
    """One invocation as sent: its method, its (wire) arguments and its wire id."""

    @property
    def method(self) -> str: ...
    @property
    def args(self) -> Mapping[str, Any]: ...
    @property
    def wire_id(self) -> str: ...


def is_read_only(method: str) -> bool:
    """True for methods that change nothing on the server (safe to replay)."""
    return method == "Core/echo" or method.endswith(READ_ONLY_SUFFIXES)


def _safe(sent: _Sent) -> bool:
    # A /set guarded by ifInState fails a replay with stateMismatch instead of applying.
    return is_read_only(sent.method) or (sent.method.endswith("/set") and "ifInState" in sent.args)


def replay_safe(pieces: Iterable[_Sent]) -> bool:
    """True when sending these invocations twice cannot apply a change twice."""
    return all(_safe(p) for p in pieces)


def resend_after(pieces: Iterable[_Sent], invocations: Iterable[Invocation]) -> bool:
    """True if ``invocations`` (the reply) says ``serverUnavailable`` and a resend is safe.

    A call answered with a method error changed nothing (RFC 8620 §3.6.2), except
    ``serverPartialFail``; everything else must be replay-safe on its own.
    """
    unavailable = False
    errored: set[str] = set()
    for name, args, wire_id in invocations:
        if name == "error":
            kind = args.get("type")
            unavailable |= kind == ServerUnavailable.error_type
            if kind != "serverPartialFail":
                errored.add(wire_id)
    return unavailable and all(p.wire_id in errored or _safe(p) for p in pieces)


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before resending. ``retries=0`` disables retrying.

    Only provably safe resends happen: the request was never sent (connect errors); HTTP
    503 or a ``serverUnavailable`` reply where nothing changed; HTTP 429 with a
    ``Retry-After`` of at most ``max_retry_after`` seconds; a ``maxConcurrentRequests``
    limit problem; or any failure for an envelope whose every call is read-only or
    guarded by ``ifInState``. Waits grow as ``backoff_base * 2**n`` capped at
    ``backoff_max`` (with jitter unless ``jitter=False``). No wait is ever longer than
    ``max_retry_after``: a server asking for more (429, 503, ``maxConcurrentRequests``)
    gets its error raised (503: the usual backoff) instead of a long sleep.
    """

    retries: int = 3
    backoff_base: float = 0.25
    backoff_max: float = 8.0
    max_retry_after: float = 60.0
    jitter: bool = True

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based): exponential from
        ``backoff_base``, capped at ``backoff_max`` and ``max_retry_after``, jittered unless
        ``jitter=False``.
        """
        cap = min(self.backoff_max, self.max_retry_after)
        delay = min(cap, self.backoff_base * 2.0 ** min(max(0, attempt - 1), 64))
        if self.jitter:
            delay *= random.uniform(0.5, 1.0)
        return delay


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # "1e999" is inf: over any max_retry_after, so never waited; "nan" says nothing
        return None if math.isnan(seconds) else max(0.0, seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def raise_for_status(resp: HTTPResponse, what: str) -> None:
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


def exchange(
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
                yield Sleep(min(delay, policy.max_retry_after))
                continue
        return resp


def _retry_delay(resp: HTTPResponse, policy: RetryPolicy, attempt: int) -> float | None:
    """How long to wait before resending after ``resp``, or None to not resend."""
    if resp.status < 400:
        return None
    retry_after = parse_retry_after(resp.header("retry-after"))
    if resp.status == 429:
        if retry_after is not None and retry_after <= policy.max_retry_after:
            return retry_after
        return None
    if resp.status == 503:
        if retry_after is not None and retry_after <= policy.max_retry_after:
            return retry_after
        return policy.backoff(attempt)
    problem = parse_problem(resp.body, status=resp.status)
    if isinstance(problem, LimitExceeded) and problem.limit == "maxConcurrentRequests":
        if retry_after is None:
            return policy.backoff(attempt)
        # As for 429: a wait over max_retry_after is not waited; the error is raised.
        return retry_after if retry_after <= policy.max_retry_after else None
    return None
