"""The SQLite schema of the server's store and the SQL and helpers its layers share:
table definitions, the schema check, the statements buffered writes replay, the blob
references an object holds, token digests."""

from __future__ import annotations

import hashlib
import sqlite3
from typing import Any

import orjson

__all__ = ["COUNT", "REF", "UNREF", "SchemaMismatch", "token_digest"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users(
  username TEXT PRIMARY KEY, account_id TEXT NOT NULL UNIQUE, token TEXT NOT NULL,
  created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects(
  scope TEXT NOT NULL, type TEXT NOT NULL, id TEXT NOT NULL,
  k1 TEXT, k2 TEXT, expires REAL, data BLOB NOT NULL, k3 REAL, k4 REAL, k5 TEXT,
  PRIMARY KEY(scope, type, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS objects_k1 ON objects(scope, type, k1, id);
CREATE INDEX IF NOT EXISTS objects_k2 ON objects(type, k2) WHERE k2 IS NOT NULL;
CREATE INDEX IF NOT EXISTS objects_exp ON objects(expires) WHERE expires IS NOT NULL;
CREATE INDEX IF NOT EXISTS objects_k3 ON objects(scope, type, k1, k3, id) WHERE k3 IS NOT NULL;
CREATE INDEX IF NOT EXISTS objects_k4 ON objects(scope, type, k1, k4, id) WHERE k4 IS NOT NULL;
CREATE INDEX IF NOT EXISTS objects_k5 ON objects(scope, type, k1, k5, k3, id) WHERE k5 IS NOT NULL;
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
    "INSERT OR REPLACE INTO objects(scope, type, id, k1, k2, expires, data, k3, k4, k5) "
    "VALUES(?,?,?,?,?,?,?,?,?,?)"
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
    """Apply side-table changes in order, consecutive ones of a kind in one executemany;
    the counter deltas (which commute with the rest) summed into one row per counter."""
    counts: dict[tuple[Any, ...], int] = {}
    i = 0
    while i < len(ops):
        kind = ops[i][0]
        j = i
        while j < len(ops) and ops[j][0] == kind:
            j += 1
        if kind == COUNT:
            for _, (scope, type, k1, n) in ops[i:j]:
                key = (scope, type, k1)
                counts[key] = counts.get(key, 0) + n
        else:
            conn.executemany(_OPS[kind], [row for _, row in ops[i:j]])
        i = j
    if counts:
        conn.executemany(_COUNT, [(*key, n) for key, n in counts.items()])
