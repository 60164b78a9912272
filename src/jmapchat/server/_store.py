"""SQLite storage: one connection guarded by a lock, WAL, schema created on start.

Every JMAP object is a JSON document in ``objects`` keyed by (scope, type, id); scope is
an account id for per-account data (Chat, Message, …) or ``""`` for shared data (Space,
SpaceInvite, SpaceBan, CustomEmoji). ``k1``/``k2`` are indexed lookup keys chosen by each
type (e.g. a Message's chatId and senderMsgId), ``k3``/``k4`` indexed numeric sort keys
under ``k1`` (a Message's receivedAt and sentAt epochs: `_query.SqlPlan` orders by them)
and ``k5`` a filter key under ``k1`` (a Message's senderId, indexed with ``k3``);
``expires`` is an epoch deadline swept on each request. ``changes`` is the
per-(account, type) change log behind state strings, /changes and /queryChanges: every
change gets its own modseq.
"""

from __future__ import annotations

from typing import Any

from ._database import Database, ReadOnlyStore
from ._schema import (
    _CHANGE,
    _COUNT,
    _PUT,
    _REF_FIELDS,
    _UNREF,
    COUNT,
    REF,
    UNREF,
    SchemaMismatch,
    _blob_refs,
    _dumps,
    _loads,
    _write_refs,
    token_digest,
)

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


class Store(Database):
    """The data API over `Database`: meta and users, objects (by id and by the indexed
    keys), the change log behind states, blobs and who may read them."""

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
        k4: float | None = None,
        k5: str | None = None,
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
                segment.puts.append((scope, type, oid, k1, k2, expires, data, k3, k4, k5))
                if refs:
                    segment.refs += refs
                self._objects[(scope, type, oid)] = data
                self._pending = True
            else:
                self._conn.execute(_PUT, (scope, type, oid, k1, k2, expires, data, k3, k4, k5))
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
