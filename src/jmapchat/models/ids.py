"""ULID generation for client-chosen ids: creation ids and reaction ids.

The draft asks clients to key their reactions by a ULID (``senderReactionId``), and
ULIDs make good ``/set`` creation ids too. `IdGenerator` produces monotonic ULIDs;
with a ``seed`` it is fully deterministic (fixed start time, +1 ms per id, seeded
randomness), so snapshots of built requests are stable::

    gen = IdGenerator(seed=42)
    gen.reaction_id()   # the same value on every run

The module-level functions use a process-wide default generator, which tests may
swap with `set_default_generator` (or the `seeded_ids` context manager).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ulid import ULID

__all__ = [
    "DEFAULT_SEED_START_MS",
    "IdGenerator",
    "creation_id",
    "default_generator",
    "new_ulid",
    "reaction_id",
    "seeded_ids",
    "set_default_generator",
]

DEFAULT_SEED_START_MS = 1_767_225_600_000
"""2026-01-01T00:00:00Z: the timestamp of the first id of a seeded generator."""

_MAX_RANDOM = (1 << 80) - 1


class IdGenerator:
    """Monotonic ULID factory; deterministic when given a ``seed``.

    - ``seed=None``: wall-clock time and OS randomness. Ids generated in the same
      millisecond increment the random part, so they still sort in creation order.
    - ``seed=<int|str|bytes>``: timestamps start at ``start_ms`` (default 2026-01-01)
      and advance 1 ms per id; the random part comes from ``random.Random(seed)``.
    - ``clock``: optional ``() -> milliseconds`` override (ignored when seeded).
    """

    def __init__(
        self,
        seed: int | str | bytes | None = None,
        *,
        start_ms: int | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._seeded = seed is not None
        self._rng: random.Random | None = random.Random(seed) if seed is not None else None
        self._next_ms = start_ms if start_ms is not None else DEFAULT_SEED_START_MS
        self._clock = clock or (lambda: time.time_ns() // 1_000_000)
        self._last_ms = -1
        self._last_rand = 0

    @property
    def seeded(self) -> bool:
        """Whether the generator was seeded (its ids are deterministic)."""
        return self._seeded

    def ulid(self) -> ULID:
        """The next ULID object."""
        with self._lock:
            if self._rng is not None:
                ms = self._next_ms
                self._next_ms += 1
                rand = self._rng.getrandbits(80)
            else:
                ms = self._clock()
                if ms <= self._last_ms:
                    ms = self._last_ms
                    rand = self._last_rand + 1
                    if rand > _MAX_RANDOM:  # pragma: no cover - 2**80 ids in one ms
                        ms += 1
                        rand = int.from_bytes(os.urandom(10), "big")
                else:
                    rand = int.from_bytes(os.urandom(10), "big")
            self._last_ms, self._last_rand = ms, rand
        return ULID.from_bytes(ms.to_bytes(6, "big") + rand.to_bytes(10, "big"))

    def new_id(self) -> str:
        """The next ULID as its 26-character Crockford base32 string."""
        return str(self.ulid())

    def reaction_id(self) -> str:
        """A ``senderReactionId`` for ``MessageUpdate(add_reactions=...)``."""
        return self.new_id()

    def creation_id(self) -> str:
        """A ``/set`` creation id (valid JMAP Id charset; referenced as ``"#<id>"``)."""
        return self.new_id()


_default = IdGenerator()


def default_generator() -> IdGenerator:
    """The generator used by the module-level functions."""
    return _default


def set_default_generator(generator: IdGenerator) -> IdGenerator:
    """Replace the process-wide default generator; returns the previous one."""
    global _default
    previous, _default = _default, generator
    return previous


@contextmanager
def seeded_ids(
    seed: int | str | bytes = 0, *, start_ms: int | None = None
) -> Iterator[IdGenerator]:
    """Temporarily make the default generator deterministic (for tests and snapshots)."""
    gen = IdGenerator(seed, start_ms=start_ms)
    previous = set_default_generator(gen)
    try:
        yield gen
    finally:
        set_default_generator(previous)


def new_ulid() -> str:
    """A new ULID string from the default generator."""
    return _default.new_id()


def reaction_id() -> str:
    """A new ``senderReactionId`` from the default generator."""
    return _default.reaction_id()


def creation_id() -> str:
    """A new creation id from the default generator."""
    return _default.creation_id()
