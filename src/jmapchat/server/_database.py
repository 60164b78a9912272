"""The store's connection: one sqlite3 connection guarded by a lock (autocommit plus
explicit BEGIN), transactions and savepoints, and the write buffer that keeps object
writes and change-log rows out of SQLite until something could observe them. `Store`
(`_store`) adds the data API on top."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from ._schema import _CHANGE, _PUT, _SCHEMA, _STATE, _check_schema, _write_refs

__all__ = ["Database", "ReadOnlyStore"]


class ReadOnlyStore(Exception):
    """A write through a reader: the engine reruns that method call on the writer."""


class _Segment:
    """Buffered writes made after savepoint ``sp`` was opened (None: not in a new one)."""

    __slots__ = ("changes", "puts", "refs", "sp", "states")

    def __init__(self, sp: str | None) -> None:
        self.sp = sp
        self.puts: list[tuple[Any, ...]] = []
        # side-table rows, in order: (UNREF, (scope, type, id)), (REF, (blob, scope, type,
        # id)), (COUNT, (scope, type, k1, +1))
        self.refs: list[tuple[int, tuple[Any, ...]]] = []
        self.changes: list[tuple[str, str, int, str, int]] = []
        self.states: dict[tuple[str, str], int] = {}


class _Frame:
    """An open savepoint. ``segment`` is its buffer while no SAVEPOINT was executed yet."""

    __slots__ = ("modseqs", "name", "segment")

    def __init__(self, name: str, segment: _Segment | None, modseqs: dict[tuple[str, str], int]):
        self.name = name
        self.segment = segment
        self.modseqs = modseqs


class _SavepointCtx:
    __slots__ = ("_store",)

    def __init__(self, store: Database) -> None:
        self._store = store

    def __enter__(self) -> None:
        store = self._store
        store.lock.acquire()
        try:
            store._open_savepoint()
        except BaseException:
            store.lock.release()
            raise

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        store = self._store
        try:
            if exc_type is None:
                store._release_savepoint()
            else:
                store._rollback_savepoint()
        finally:
            store.lock.release()


class Database:
    """Thread-safe wrapper around one sqlite3 connection (autocommit + explicit BEGIN).

    Inside a transaction, object writes (`put`) and change-log rows (`log_change`) are
    buffered and written with ``executemany`` just before the next statement that could
    observe them (any read of the database, any other write, a savepoint that must be
    rolled back, COMMIT), so the buffer is invisible to callers. A savepoint executes
    ``SAVEPOINT`` only when something inside it reaches the database; one whose writes
    are all still buffered is released by keeping them and rolled back by dropping them.
    State counters (modseqs) and objects read or written in the transaction are cached
    until it ends.
    """

    def __init__(self, path: str, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        self.lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._depth = 0
        self._sp = 0
        self._closed = False
        self._segments: list[_Segment] = [_Segment(None)]
        self._frames: list[_Frame] = []
        self._pending = False  # buffered rows not yet written
        self._unexecuted = 0  # open savepoints whose SAVEPOINT has not run yet
        self._modseqs: dict[tuple[str, str], int] = {}
        self._objects: dict[tuple[str, str, str], bytes | None] = {}
        # (store, account, scope, type, id) -> may that account read that object? Set by
        # the engine (object visibility is a data-type rule); None: no reference grants.
        self.blob_ref_visible: Callable[[Any, str, str, str, str], bool] | None = None
        if readonly:
            # a reader next to the writer's connection (WAL: readers never block it)
            self._conn.execute("PRAGMA query_only=ON")
            return
        with self.lock:
            try:
                _check_schema(self._conn, path)
                if path != ":memory:":
                    self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
                self._conn.executescript(_SCHEMA)
            except BaseException:
                self._conn.close()
                raise

    def close(self) -> None:
        with self.lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    @property
    def closed(self) -> bool:
        return self._closed

    # --- transactions ---------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Outermost: BEGIN IMMEDIATE … COMMIT (ROLLBACK on error); nested: a savepoint."""
        with self.lock:
            if self._depth == 0:
                self._conn.execute("BEGIN" if self.readonly else "BEGIN IMMEDIATE")
                self._depth = 1
                try:
                    yield
                    self._flush()
                except BaseException:
                    self._depth = 0
                    self._reset()
                    self._conn.execute("ROLLBACK")
                    raise
                self._depth = 0
                self._reset()
                self._conn.execute("COMMIT")
            else:
                with self.savepoint():
                    yield

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested transaction: rolled back alone if its block raises."""
        return _SavepointCtx(self)

    def _reset(self) -> None:
        self._segments = [_Segment(None)]
        self._frames = []
        self._pending = False
        self._unexecuted = 0
        self._modseqs = {}
        self._objects = {}

    def _open_savepoint(self) -> None:
        self._sp += 1
        name = f"sp{self._sp}"
        if self._depth == 0:
            # used as a transaction of its own: run it at once (writes inside are buffered)
            self._conn.execute(f"SAVEPOINT {name}")
            self._reset()
            self._frames.append(_Frame(name, None, {}))
        else:
            segment = _Segment(name)
            self._segments.append(segment)
            self._frames.append(_Frame(name, segment, dict(self._modseqs)))
            self._unexecuted += 1
        self._depth += 1

    def _release_savepoint(self) -> None:
        frame = self._frames.pop()
        self._depth -= 1
        segment = frame.segment
        if segment is not None:
            # never reached the database: its buffered writes join the enclosing block
            self._unexecuted -= 1
            self._segments.pop()
            outer = self._segments[-1]
            if segment.puts:
                outer.puts += segment.puts
            if segment.refs:
                outer.refs += segment.refs
            if segment.changes:
                outer.changes += segment.changes
                outer.states.update(segment.states)
            return
        if self._depth == 0:
            try:
                self._flush()
            finally:
                self._reset()
        self._conn.execute(f"RELEASE {frame.name}")

    def _rollback_savepoint(self) -> None:
        frame = self._frames.pop()
        self._depth -= 1
        segment = frame.segment
        if segment is not None:
            # nothing of it was executed: drop its buffered writes
            self._unexecuted -= 1
            self._segments.pop()
            if segment.puts:
                self._objects.clear()
            self._pending = any(s.puts or s.changes or s.refs for s in self._segments)
        else:
            # every buffered write was made after its SAVEPOINT ran
            self._segments = [_Segment(None)]
            self._pending = False
            self._objects.clear()
            self._conn.execute(f"ROLLBACK TO {frame.name}")
            self._conn.execute(f"RELEASE {frame.name}")
        self._modseqs = frame.modseqs
        if self._depth == 0:
            self._reset()

    def _flush(self) -> None:
        """Write the buffered rows (running pending SAVEPOINTs at their place)."""
        if not self._pending and not self._unexecuted:
            return
        conn = self._conn
        for seg in self._segments:
            if seg.sp is not None:
                conn.execute(f"SAVEPOINT {seg.sp}")
            if seg.puts:
                conn.executemany(_PUT, seg.puts)
            if seg.refs:
                _write_refs(conn, seg.refs)
            if seg.changes:
                conn.executemany(_CHANGE, seg.changes)
                conn.executemany(_STATE, [(a, t, m) for (a, t), m in seg.states.items()])
        for frame in self._frames:
            frame.segment = None
        self._segments = [_Segment(None)]
        self._pending = False
        self._unexecuted = 0

    def _read(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        """A read: buffered writes reach the database first."""
        with self.lock:
            if self._pending:
                self._flush()
            return self._conn.execute(sql, params)

    def _write(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        """A write: buffered writes and pending savepoints reach the database first."""
        if self.readonly:
            raise ReadOnlyStore(sql[:40])
        with self.lock:
            if self._pending or self._unexecuted:
                self._flush()
            return self._conn.execute(sql, params)

    def execute(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        """Run any SQL; buffered writes are applied first (as if written at once)."""
        with self.lock:
            if sql.lstrip()[:6].upper() == "SELECT":
                return self._read(sql, tuple(params))
            self._objects.clear()
            return self._write(sql, tuple(params))
