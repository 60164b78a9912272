"""What the split planner hands the flow: `Envelope`s made of `Piece`s (and their state).

An `Envelope` is one HTTP request's worth of invocations with its exact body; a `Piece`
is one invocation on the wire (a whole call, or one chunk of a chunked call);
`CallState` is the planner's bookkeeping for one call across envelopes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .._call import Call
from ._policy import replay_safe

__all__ = ["CallState", "Envelope", "Piece"]


@dataclass(eq=False)
class CallState:
    call: Call[Any]
    creation_keys: frozenset[str]
    pending: deque[Piece] | None = None
    chunks_total: int = 1
    sent: int = 0
    results: list[tuple[int, list[tuple[str, dict[str, Any]]]]] = field(default_factory=list)
    retried_too_large: bool = False
    done: bool = False
    resolved: list[str] = field(default_factory=list)
    big: bool = False  # many objects: encode it with the cyclic GC held off
    objects: int | None = None  # objects in the call (/get ids, /set entries), if known
    answered: int = 0  # objects in chunks answered with a result
    unclear: int = 0  # objects in chunks answered with neither a result nor an error


@dataclass(eq=False)
class Piece:
    """One invocation on the wire: a whole call, or one chunk of a chunked call."""

    state: CallState
    wire_id: str
    args: dict[str, Any]
    chunk: int
    chunks: int
    objects: int | None
    encoded: bytes
    cut_after: bool = False

    @property
    def call(self) -> Call[Any]:
        return self.state.call

    @property
    def method(self) -> str:
        return self.state.call.method


@dataclass(eq=False)
class Envelope:
    """One HTTP request's worth of invocations, with its exact body."""

    index: int
    pieces: list[Piece]
    using: list[str]
    created_ids: dict[str, str] | None
    body: bytes

    @property
    def replay_safe(self) -> bool:
        """True when sending this envelope twice cannot apply a change twice (`_policy`)."""
        return replay_safe(self.pieces)

    def describe(self) -> str:
        parts: list[str] = []
        i = 0
        while i < len(self.pieces):
            p = self.pieces[i]
            j = i
            while j + 1 < len(self.pieces) and self.pieces[j + 1].state is p.state:
                j += 1
            if p.chunks == 1:
                parts.append(f"{p.call.id} {p.call.method}")
            else:
                objs = sum(q.objects or 0 for q in self.pieces[i : j + 1])
                span = f"{p.chunk + 1}" if i == j else f"{p.chunk + 1}-{self.pieces[j].chunk + 1}"
                parts.append(
                    f"{p.call.id} {p.call.method} chunk {span}/{p.chunks} ({objs} objects)"
                )
            i = j + 1
        return ", ".join(parts)
