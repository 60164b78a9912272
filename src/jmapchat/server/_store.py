"""SQLite storage: one connection guarded by a lock, WAL, schema created on start.

Every JMAP object is a JSON document in ``objects`` keyed by (scope, type, id); scope is
an account id for per-account data (Chat, Message, …) or ``""`` for shared data (Space,
SpaceInvite, SpaceBan, CustomEmoji). ``k1``/``k2`` are indexed lookup keys chosen by each
type (e.g. a Message's chatId and senderMsgId); ``expires`` is an epoch deadline swept
on each request. ``changes`` is the per-(account, type) change log behind state strings,
/changes and /queryChanges: every change gets its own modseq.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import orjson

__all__ = [
    "CREATED",
    "DESTROYED",
    "GLOBAL",
    "UPDATED",
    "ReadOnlyStore",
    "SchemaMismatch",
    "Store",
    "token_digest",
]

GLOBAL = ""
CREATED, UPDATED, DESTROYED = 0, 1, 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users(
  username TEXT PRIMARY KEY, account_id TEXT NOT NULL UNIQUE, token TEXT NOT NULL,
  created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects(
  scope TEXT NOT NULL, type TEXT NOT NULL, id TEXT NOT NULL,
  k1 TEXT, k2 TEXT, expires REAL, data BLOB NOT NULL, k3 REAL,
  PRIMARY KEY(scope, type, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS objects_k1 ON objects(scope, type, k1, id);
CREATE INDEX IF NOT EXISTS objects_k2 ON objects(type, k2) WHERE k2 IS NOT NULL;
CREATE INDEX IF NOT EXISTS objects_exp ON objects(expires) WHERE expires IS NOT NULL;
CREATE INDEX IF NOT EXISTS objects_k3 ON objects(scope, type, k1, k3, id) WHERE k3 IS NOT NULL;
CREATE TABLE IF NOT EXISTS states(
  account TEXT NOT NULL, type TEXT NOT NULL, modseq INTEGER NOT NULL,
  PRIMARY KEY(account, type)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changes(
  account TEXT NOT NULL, type TEXT NOT NULL, modseq INTEGER NOT NULL, id TEXT NOT NULL,
  kind INTEGER NOT NULL, PRIMARY KEY(account, type, modseq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blobs(
  blob_id TEXT PRIMARY KEY, type TEXT NOT NULL, size INTEGER NOT NULL,
  sha256 TEXT NOT NULL, data BLOB NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blob_access(
  account TEXT NOT NULL, blob_id TEXT NOT NULL, PRIMARY KEY(account, blob_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blob_refs(
  blob_id TEXT NOT NULL, scope TEXT NOT NULL, type TEXT NOT NULL, id TEXT NOT NULL,
  PRIMARY KEY(blob_id, scope, type, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS blob_refs_obj ON blob_refs(scope, type, id);
CREATE TABLE IF NOT EXISTS sorted_counts(
  scope TEXT NOT NULL, type TEXT NOT NULL, k1 TEXT NOT NULL, n INTEGER NOT NULL,
  PRIMARY KEY(scope, type, k1)) WITHOUT ROWID;
"""

# Which blobs an object references (kept in blob_refs by `Store.put` / `Store.delete`;
# SQLite triggers would cost ~20 us per written row).
_REF_FIELDS = {"Chat": "avatarBlobId", "Space": "iconBlobId", "CustomEmoji": "blobId"}
_UNREF = "DELETE FROM blob_refs WHERE scope=? AND type=? AND id=?"
_REF = "INSERT OR IGNORE INTO blob_refs(blob_id, scope, type, id) VALUES(?,?,?,?)"
# how many objects of (scope, type, k1) have a sort key: an O(1) total for a /query page
_COUNT = (
    "INSERT INTO sorted_counts(scope, type, k1, n) VALUES(?,?,?,?) "
    "ON CONFLICT(scope, type, k1) DO UPDATE SET n=n+excluded.n"
)
_OPS = (_UNREF, _REF, _COUNT)
UNREF, REF, COUNT = 0, 1, 2


def _blob_refs(type: str, obj: dict[str, Any]) -> list[str]:
    if type == "Message":
        atts = obj.get("attachments")
        if not atts:
            return []
        return [
            a["blobId"] for a in atts if isinstance(a, dict) and isinstance(a.get("blobId"), str)
        ]
    value = obj.get(_REF_FIELDS[type])
    return [value] if isinstance(value, str) else []


_PUT = (
    "INSERT OR REPLACE INTO objects(scope, type, id, k1, k2, expires, data, k3) "
    "VALUES(?,?,?,?,?,?,?,?)"
)
_CHANGE = "INSERT INTO changes(account, type, modseq, id, kind) VALUES(?,?,?,?,?)"
_STATE = (
    "INSERT INTO states(account, type, modseq) VALUES(?,?,?) "
    "ON CONFLICT(account, type) DO UPDATE SET modseq=excluded.modseq"
)


def token_digest(token: str) -> str:
    """The SHA-256 hex digest under which a bearer token is stored (never the token)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class SchemaMismatch(RuntimeError):
    """The database file has tables whose columns differ from this server's schema (an
    older or foreign file): refused at start, never patched over or half-used."""


def _columns(conn: sqlite3.Connection) -> dict[str, list[str]]:
    tables = [
        str(r[0])
        for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
    ]
    return {t: [str(c[1]) for c in conn.execute(f'PRAGMA table_info("{t}")')] for t in tables}


def _expected_columns() -> dict[str, list[str]]:
    fresh = sqlite3.connect(":memory:")
    try:
        fresh.executescript(_SCHEMA)
        return _columns(fresh)
    finally:
        fresh.close()


def _check_schema(conn: sqlite3.Connection, path: str) -> None:
    """Compare the tables already in the file with the schema before creating anything."""
    try:
        have = _columns(conn)
    except sqlite3.DatabaseError as exc:  # e.g. "file is not a database"
        raise SchemaMismatch(f"{path}: not a usable SQLite database ({exc})") from exc
    for table, cols in _expected_columns().items():
        if table in have and have[table] != cols:
            raise SchemaMismatch(
                f"{path}: table {table!r} has columns {have[table]}, this server needs {cols};"
                " use a new database file"
            )


def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def _loads(data: bytes | str) -> dict[str, Any]:
    out: dict[str, Any] = orjson.loads(data)
    return out


def _write_refs(conn: sqlite3.Connection, ops: list[tuple[int, tuple[Any, ...]]]) -> None:
    """Apply side-table changes in order, consecutive ones of a kind in one executemany."""
    i = 0
    while i < len(ops):
        kind = ops[i][0]
        j = i
        while j < len(ops) and ops[j][0] == kind:
            j += 1
        conn.executemany(_OPS[kind], [row for _, row in ops[i:j]])
        i = j


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

    def __init__(self, store: Store) -> None:
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


class Store:
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
        self.blob_ref_visible: Callable[[Store, str, str, str, str], bool] | None = None
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

    # --- meta and users -------------------------------------------------------------

    def meta_get(self, key: str) -> str | None:
        row = self.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def meta_set(self, key: str, value: str) -> None:
        self.execute("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", (key, value))

    def users(self) -> list[tuple[str, str, str]]:
        """(username, account id, token digest) of every user."""
        rows = self.execute(
            "SELECT username, account_id, token FROM users ORDER BY created, username"
        )
        return [(str(u), str(a), str(t)) for u, a, t in rows.fetchall()]

    def add_user(self, username: str, account_id: str, token: str, created: str) -> None:
        self.execute(
            "INSERT INTO users(username, account_id, token, created) VALUES(?,?,?,?)",
            (username, account_id, token, created),
        )

    def set_token(self, username: str, token: str) -> None:
        self.execute("UPDATE users SET token=? WHERE username=?", (token, username))

    # --- objects --------------------------------------------------------------------

    def get(self, scope: str, type: str, id: str) -> dict[str, Any] | None:
        with self.lock:
            if self._depth:
                key = (scope, type, id)
                try:
                    data = self._objects[key]
                except KeyError:
                    row = self._read(
                        "SELECT data FROM objects WHERE scope=? AND type=? AND id=?", key
                    ).fetchone()
                    data = self._objects[key] = None if row is None else row[0]
                return None if data is None else _loads(data)
            row = self._conn.execute(
                "SELECT data FROM objects WHERE scope=? AND type=? AND id=?", (scope, type, id)
            ).fetchone()
            return None if row is None else _loads(row[0])

    def get_many(self, scope: str, type: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        uniq = list(dict.fromkeys(ids))
        with self.lock:
            cache = self._objects if self._depth else None
            if cache:
                missing = []
                for oid in uniq:
                    data = cache.get((scope, type, oid), b"")
                    if data == b"":
                        missing.append(oid)
                    elif data is not None:
                        out[oid] = _loads(data)
                uniq = missing
            for start in range(0, len(uniq), 500):
                chunk = uniq[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._read(
                    f"SELECT id, data FROM objects WHERE scope=? AND type=? AND id IN ({marks})",
                    (scope, type, *chunk),
                ).fetchall()
                for oid, data in rows:
                    out[str(oid)] = _loads(data)
                    if cache is not None:
                        cache[(scope, type, str(oid))] = data
                if cache is not None:
                    for oid in chunk:
                        cache.setdefault((scope, type, oid), None)
        return out

    def all(self, scope: str, type: str) -> list[dict[str, Any]]:
        rows = self._read(
            "SELECT data FROM objects WHERE scope=? AND type=? ORDER BY id", (scope, type)
        ).fetchall()
        return [_loads(r[0]) for r in rows]

    def count(self, scope: str, type: str) -> int:
        row = self._read(
            "SELECT COUNT(*) FROM objects WHERE scope=? AND type=?", (scope, type)
        ).fetchone()
        return int(row[0])

    def ids(self, scope: str, type: str) -> list[str]:
        rows = self._read(
            "SELECT id FROM objects WHERE scope=? AND type=? ORDER BY id", (scope, type)
        ).fetchall()
        return [str(r[0]) for r in rows]

    def by_k1(self, scope: str, type: str, k1: str) -> list[dict[str, Any]]:
        rows = self._read(
            "SELECT data FROM objects WHERE scope=? AND type=? AND k1=? ORDER BY id",
            (scope, type, k1),
        ).fetchall()
        return [_loads(r[0]) for r in rows]

    def ids_by_k1(self, scope: str, type: str, k1: str) -> list[str]:
        rows = self._read(
            "SELECT id FROM objects WHERE scope=? AND type=? AND k1=? ORDER BY id",
            (scope, type, k1),
        ).fetchall()
        return [str(r[0]) for r in rows]

    def count_k1_after(self, scope: str, type: str, k1: str, after: str | None) -> int:
        if after is None:
            row = self._read(
                "SELECT COUNT(*) FROM objects WHERE scope=? AND type=? AND k1=?",
                (scope, type, k1),
            ).fetchone()
        else:
            row = self._read(
                "SELECT COUNT(*) FROM objects WHERE scope=? AND type=? AND k1=? AND id>?",
                (scope, type, k1, after),
            ).fetchone()
        return int(row[0])

    def count_sorted(self, scope: str, type: str, k1: str) -> int:
        """How many ``k1`` objects have a sort key (a kept counter: O(1))."""
        row = self._read(
            "SELECT n FROM sorted_counts WHERE scope=? AND type=? AND k1=?", (scope, type, k1)
        ).fetchone()
        return 0 if row is None else int(row[0])

    def page_sorted(
        self, scope: str, type: str, k1: str, ascending: bool, offset: int, limit: int | None
    ) -> list[str]:
        """Ids of ``k1`` objects ordered by (k3, id), a window of them (from the index)."""
        order = "ASC" if ascending else "DESC"
        rows = self._read(
            "SELECT id FROM objects WHERE scope=? AND type=? AND k1=? AND k3 IS NOT NULL "
            f"ORDER BY k3 {order}, id {order} LIMIT ? OFFSET ?",
            (scope, type, k1, -1 if limit is None else limit, offset),
        ).fetchall()
        return [str(r[0]) for r in rows]

    def last_by_k1(self, scope: str, type: str, k1: str) -> dict[str, Any] | None:
        row = self._read(
            "SELECT data FROM objects WHERE scope=? AND type=? AND k1=? ORDER BY id DESC LIMIT 1",
            (scope, type, k1),
        ).fetchone()
        return None if row is None else _loads(row[0])

    def by_k2(self, type: str, k2: str) -> list[tuple[str, dict[str, Any]]]:
        rows = self._read(
            "SELECT scope, data FROM objects WHERE type=? AND k2=?", (type, k2)
        ).fetchall()
        return [(str(s), _loads(d)) for s, d in rows]

    def put(
        self,
        scope: str,
        type: str,
        obj: dict[str, Any],
        *,
        k1: str | None = None,
        k2: str | None = None,
        expires: float | None = None,
        k3: float | None = None,
        fresh: bool = False,
    ) -> None:
        if self.readonly:
            raise ReadOnlyStore(type)
        data = _dumps(obj)
        refs: list[tuple[int, tuple[Any, ...]]] | None = None
        if type == "Message" or type in _REF_FIELDS:
            found = _blob_refs(type, obj)
            # a new message has no old references to drop (its id is fresh)
            refs = [] if fresh and type == "Message" else [(UNREF, (scope, type, obj["id"]))]
            refs += [(REF, (b, scope, type, obj["id"])) for b in found]
        if fresh and k3 is not None and k1 is not None:
            # only a fresh object is counted: a rewrite keeps its place
            refs = refs or []
            refs.append((COUNT, (scope, type, k1, 1)))
        oid = obj["id"]
        with self.lock:
            if self._depth:
                segment = self._segments[-1]
                segment.puts.append((scope, type, oid, k1, k2, expires, data, k3))
                if refs:
                    segment.refs += refs
                self._objects[(scope, type, oid)] = data
                self._pending = True
            else:
                self._conn.execute(_PUT, (scope, type, oid, k1, k2, expires, data, k3))
                if refs:
                    _write_refs(self._conn, refs)

    def delete(self, scope: str, type: str, id: str) -> bool:
        with self.lock:
            cur = self._write(
                "DELETE FROM objects WHERE scope=? AND type=? AND id=? RETURNING k1, k3",
                (scope, type, id),
            )
            gone = cur.fetchall()
            if type == "Message" or type in _REF_FIELDS:
                self._conn.execute(_UNREF, (scope, type, id))
            for k1, k3 in gone:
                if k1 is not None and k3 is not None:
                    self._conn.execute(_COUNT, (scope, type, k1, -1))
            if self._depth:
                self._objects[(scope, type, id)] = None
            return bool(gone)

    def expired(self, now: float) -> list[tuple[str, str, str]]:
        rows = self._read(
            "SELECT scope, type, id FROM objects WHERE expires IS NOT NULL AND expires<=?",
            (now,),
        ).fetchall()
        return [(str(s), str(t), str(i)) for s, t, i in rows]

    # --- change log -----------------------------------------------------------------

    def modseq(self, account: str, type: str) -> int:
        with self.lock:
            key = (account, type)
            if self._depth:
                cached = self._modseqs.get(key)
                if cached is not None:
                    return cached
            # a counter that is not cached has no buffered change either
            row = self._conn.execute(
                "SELECT modseq FROM states WHERE account=? AND type=?", key
            ).fetchone()
            value = 0 if row is None else int(row[0])
            if self._depth:
                self._modseqs[key] = value
            return value

    def modseqs(self, account: str) -> dict[str, int]:
        rows = self._read("SELECT type, modseq FROM states WHERE account=?", (account,)).fetchall()
        return {str(t): int(m) for t, m in rows}

    def log_change(self, account: str, type: str, id: str, kind: int) -> int:
        """Bump the (account, type) state and record that ``id`` changed at the new modseq."""
        if self.readonly:
            raise ReadOnlyStore(type)
        with self.lock:
            if not self._depth:
                row = self._conn.execute(
                    "INSERT INTO states(account, type, modseq) VALUES(?,?,1) "
                    "ON CONFLICT(account, type) DO UPDATE SET modseq=modseq+1 RETURNING modseq",
                    (account, type),
                ).fetchone()
                modseq = int(row[0])
                self._conn.execute(_CHANGE, (account, type, modseq, id, kind))
                return modseq
            key = (account, type)
            cached = self._modseqs.get(key)
            modseq = (self.modseq(account, type) if cached is None else cached) + 1
            self._modseqs[key] = modseq
            segment = self._segments[-1]
            segment.changes.append((account, type, modseq, id, kind))
            segment.states[key] = modseq
            self._pending = True
            return modseq

    def changes_since(
        self, account: str, type: str, since: int, limit: int | None = None
    ) -> list[tuple[int, str, int]]:
        sql = (
            "SELECT modseq, id, kind FROM changes"
            " WHERE account=? AND type=? AND modseq>? ORDER BY modseq"
        )
        params: tuple[Any, ...] = (account, type, since)
        if limit is not None:
            sql += " LIMIT ?"
            params += (limit,)
        return [(int(m), str(i), int(k)) for m, i, k in self._read(sql, params).fetchall()]

    # --- forgetting old states (a test hook; see ChatServer.forget_changes) ------------

    def forget_changes(self, account: str, type: str) -> None:
        """Drop the change log of (account, type) so far; states before now become unknown."""
        with self.transaction():
            floor = self.modseq(account, type)
            self.execute(
                "DELETE FROM changes WHERE account=? AND type=? AND modseq<=?",
                (account, type, floor),
            )
            self.meta_set(f"changes_floor/{account}/{type}", str(floor))

    def changes_floor(self, account: str, type: str) -> int:
        """The oldest state /changes and /queryChanges can still start from (0: all)."""
        value = self.meta_get(f"changes_floor/{account}/{type}")
        return 0 if value is None else int(value)

    # --- blobs ----------------------------------------------------------------------

    def put_blob(self, blob_id: str, type: str, data: bytes, sha256: str, created: str) -> None:
        self.execute(
            "INSERT OR IGNORE INTO blobs(blob_id, type, size, sha256, data, created) "
            "VALUES(?,?,?,?,?,?)",
            (blob_id, type, len(data), sha256, data, created),
        )

    def grant_blob(self, account: str, blob_id: str) -> None:
        self.execute(
            "INSERT OR IGNORE INTO blob_access(account, blob_id) VALUES(?,?)", (account, blob_id)
        )

    def blob_meta(self, account: str | None, blob_id: str) -> tuple[str, int, str] | None:
        """(type, size, sha256) if the blob exists and ``account`` may read it (None = any).

        An account may read a blob it uploaded (or copied in), and a blob that an object
        it can read references (`blob_ref_visible` decides, per object): a Message's
        attachment, a Chat's avatar, a Space's icon, a CustomEmoji's image. The
        references are kept with the objects (`put`, `delete`), so none outlives its object.
        """
        row = self.execute(
            "SELECT type, size, sha256 FROM blobs WHERE blob_id=?", (blob_id,)
        ).fetchone()
        if row is None:
            return None
        meta = (str(row[0]), int(row[1]), str(row[2]))
        if account is None:
            return meta
        if self.execute(
            "SELECT 1 FROM blob_access WHERE account=? AND blob_id=?", (account, blob_id)
        ).fetchone():
            return meta
        refs = self.execute(
            "SELECT scope, type, id FROM blob_refs WHERE blob_id=? AND scope IN (?, '')",
            (blob_id, account),
        ).fetchall()
        check = self.blob_ref_visible
        for scope, type, oid in refs:
            if check is not None and check(self, account, str(scope), str(type), str(oid)):
                return meta
        return None

    def blob_data(self, blob_id: str) -> bytes | None:
        row = self.execute("SELECT data FROM blobs WHERE blob_id=?", (blob_id,)).fetchone()
        return None if row is None else bytes(row[0])

    def blob_usage(self, account: str) -> int:
        row = self.execute(
            "SELECT COALESCE(SUM(b.size),0) FROM blobs b JOIN blob_access a "
            "ON a.blob_id=b.blob_id WHERE a.account=?",
            (account,),
        ).fetchone()
        return int(row[0])
