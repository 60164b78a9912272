"""Where a mirror keeps its objects and states: in memory, or in SQLite (stdlib sqlite3).

One rule makes a mirror crash-safe: the objects fetched for a type and the state they
bring it to are written in **one transaction** (`MirrorStore.write`). After a crash the
store holds an old state with its old objects, never new objects under an old state or
the reverse; a restart resumes from the stored states, and re-fetching what was being
written is harmless (objects are replaced by id).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jmapchat._core import JMAPModel

from ._types import IncompatibleStore, MirrorError

__all__ = [
    "SCHEMA_VERSION",
    "MemoryStore",
    "MirrorStore",
    "SQLiteStore",
    "TypeWrite",
    "ViewWrite",
]

SCHEMA_VERSION = 1
_SCHEMA_TAG = "jmapchat.sync"


@dataclass
class TypeWrite:
    """What one step does to one type: objects to put, ids to delete, the new state.

    ``replace=True`` (a full reload) drops every object of the type not in ``put``.
    """

    type: str
    state: str
    put: dict[str, JMAPModel] = field(default_factory=dict)
    delete: list[str] = field(default_factory=list)
    replace: bool = False


@dataclass
class ViewWrite:
    """The new content of one ordered view (a chat's message ids) and its query state."""

    chat_id: str
    state: str
    ids: list[str]


class MirrorStore(ABC):
    """The storage interface of a mirror. `write` must be all-or-nothing."""

    @abstractmethod
    def bind(self, account_id: str, models: Mapping[str, type[JMAPModel]]) -> None:
        """Attach to one account's data; raises `IncompatibleStore` for a foreign store."""

    @abstractmethod
    def state(self, type: str) -> str | None:
        """The state the stored objects of ``type`` are at (None: never loaded)."""

    @abstractmethod
    def get(self, type: str, id: str) -> JMAPModel | None:
        """The stored object ``id`` of ``type``, or None."""

    @abstractmethod
    def ids(self, type: str) -> list[str]:
        """Every stored id of ``type``."""

    def get_many(self, type: str, ids: Iterable[str]) -> dict[str, JMAPModel]:
        """The stored objects among ``ids`` (absent ones left out)."""
        found = ((i, self.get(type, i)) for i in ids)
        return {i: o for i, o in found if o is not None}

    @abstractmethod
    def view(self, chat_id: str) -> tuple[str, list[str]] | None:
        """A stored ordered view: (query state, ids), or None."""

    @abstractmethod
    def write(self, writes: Sequence[TypeWrite], views: Sequence[ViewWrite] = ()) -> None:
        """Apply every write, objects, states and views, in one transaction."""

    def close(self) -> None:  # noqa: B027 - optional: only stores holding resources need it
        """Release resources (the data stays, for a store that persists)."""


class MemoryStore(MirrorStore):
    """Keeps everything in dicts; gone when the process ends."""

    def __init__(self) -> None:
        self._account: str | None = None
        self._states: dict[str, str] = {}
        self._objects: dict[str, dict[str, JMAPModel]] = {}
        self._views: dict[str, tuple[str, list[str]]] = {}
        self._lock = threading.Lock()

    def bind(self, account_id: str, models: Mapping[str, type[JMAPModel]]) -> None:
        """Attach to ``account_id``; see `MirrorStore.bind`."""
        if self._account is not None and self._account != account_id:
            raise IncompatibleStore(
                f"this store mirrors account {self._account!r}, not {account_id!r}"
            )
        self._account = account_id

    def state(self, type: str) -> str | None:
        """The stored state of ``type``, or None."""
        return self._states.get(type)

    def get(self, type: str, id: str) -> JMAPModel | None:
        """The stored object, or None."""
        return self._objects.get(type, {}).get(id)

    def ids(self, type: str) -> list[str]:
        """Every stored id of ``type``."""
        return list(self._objects.get(type, {}))

    def view(self, chat_id: str) -> tuple[str, list[str]] | None:
        """A stored view: (query state, ids), or None."""
        found = self._views.get(chat_id)
        return None if found is None else (found[0], list(found[1]))

    def write(self, writes: Sequence[TypeWrite], views: Sequence[ViewWrite] = ()) -> None:
        """All of ``writes`` and ``views`` in one transaction."""
        # Build the new tables aside, then swap them in: all or nothing.
        with self._lock:
            objects = dict(self._objects)
            states = dict(self._states)
            stored_views = dict(self._views)
            for v in views:
                stored_views[v.chat_id] = (v.state, list(v.ids))
            for w in writes:
                table = {} if w.replace else dict(objects.get(w.type, {}))
                for oid in w.delete:
                    table.pop(oid, None)
                table.update(w.put)
                objects[w.type] = table
                states[w.type] = w.state
            self._objects, self._states, self._views = objects, states, stored_views


_DDL = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE states(type TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE objects(type TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY(type, id)) WITHOUT ROWID;
CREATE TABLE views(chat_id TEXT PRIMARY KEY, state TEXT NOT NULL, ids TEXT NOT NULL);
"""


class SQLiteStore(MirrorStore):
    """A mirror in one SQLite file (stdlib ``sqlite3``); survives restarts.

    The file records its schema version and account: opening a file of another schema
    version, another account, or one that is not a mirror raises `IncompatibleStore`
    and leaves the file untouched.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._models: dict[str, type[JMAPModel]] = {}
        self._lock = threading.RLock()  # one connection, shared by reads and writes
        try:
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a transaction is still all-or-nothing after a crash; only the
            # last commits may be lost on power failure (then the mirror re-fetches them).
            self._conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as exc:
            raise IncompatibleStore(f"{self.path}: not a mirror store ({exc})") from None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise MirrorError(f"the store {self.path} is closed")
        return self._conn

    def bind(self, account_id: str, models: Mapping[str, type[JMAPModel]]) -> None:
        """Attach to ``account_id``; see `MirrorStore.bind`."""
        db = self._db()
        self._models.update(models)
        with self._lock:
            try:
                tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
                if not tables:
                    db.execute("BEGIN IMMEDIATE")
                    try:
                        for statement in filter(str.strip, _DDL.split(";")):
                            db.execute(statement)
                        db.executemany(
                            "INSERT INTO meta(key, value) VALUES(?, ?)",
                            [
                                ("schema", _SCHEMA_TAG),
                                ("version", str(SCHEMA_VERSION)),
                                ("account", account_id),
                            ],
                        )
                    except BaseException:
                        db.execute("ROLLBACK")
                        raise
                    db.execute("COMMIT")
                    return
                meta = (
                    dict(db.execute("SELECT key, value FROM meta").fetchall())
                    if "meta" in tables
                    else {}
                )
            except sqlite3.DatabaseError as exc:
                raise IncompatibleStore(f"{self.path}: not a mirror store ({exc})") from None
        if meta.get("schema") != _SCHEMA_TAG:
            raise IncompatibleStore(f"{self.path}: not a jmapchat mirror store")
        if meta.get("version") != str(SCHEMA_VERSION):
            raise IncompatibleStore(
                f"{self.path}: mirror store schema version {meta.get('version')}, this "
                f"jmapchat reads version {SCHEMA_VERSION}; delete the file to start over"
            )
        if meta.get("account") != account_id:
            raise IncompatibleStore(
                f"{self.path}: mirrors account {meta.get('account')!r}, not {account_id!r}"
            )

    def _one(self, sql: str, params: tuple[Any, ...]) -> Any:
        with self._lock:
            return self._db().execute(sql, params).fetchone()

    def state(self, type: str) -> str | None:
        """The stored state of ``type``, or None."""
        row = self._one("SELECT state FROM states WHERE type=?", (type,))
        return None if row is None else str(row[0])

    def get(self, type: str, id: str) -> JMAPModel | None:
        """The stored object, or None."""
        row = self._one("SELECT data FROM objects WHERE type=? AND id=?", (type, id))
        if row is None:
            return None
        return self._models[type].model_validate_json(row[0])

    def get_many(self, type: str, ids: Iterable[str]) -> dict[str, JMAPModel]:
        """The stored objects among ``ids``, read in chunks of 500."""
        wanted = list(ids)
        model = self._models[type]
        out: dict[str, JMAPModel] = {}
        db = self._db()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            with self._lock:
                rows = db.execute(
                    f"SELECT id, data FROM objects WHERE type=? AND id IN ({marks})",
                    (type, *chunk),
                ).fetchall()
            out.update((str(i), model.model_validate_json(d)) for i, d in rows)
        return out

    def ids(self, type: str) -> list[str]:
        """Every stored id of ``type``."""
        with self._lock:
            rows = (
                self._db()
                .execute("SELECT id FROM objects WHERE type=? ORDER BY id", (type,))
                .fetchall()
            )
        return [str(r[0]) for r in rows]

    def view(self, chat_id: str) -> tuple[str, list[str]] | None:
        """A stored view: (query state, ids), or None."""
        row = self._one("SELECT state, ids FROM views WHERE chat_id=?", (chat_id,))
        return None if row is None else (str(row[0]), list(json.loads(row[1])))

    def write(self, writes: Sequence[TypeWrite], views: Sequence[ViewWrite] = ()) -> None:
        """All of ``writes`` and ``views`` in one transaction."""
        db = self._db()
        with self._lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                for w in writes:
                    self._write_objects(db, w)
                    self._write_state(db, w)
                db.executemany(
                    "INSERT OR REPLACE INTO views(chat_id, state, ids) VALUES(?, ?, ?)",
                    [(v.chat_id, v.state, json.dumps(v.ids)) for v in views],
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _write_objects(self, db: sqlite3.Connection, w: TypeWrite) -> None:
        if w.replace:
            db.execute("DELETE FROM objects WHERE type=?", (w.type,))
        elif w.delete:
            db.executemany(
                "DELETE FROM objects WHERE type=? AND id=?", [(w.type, i) for i in w.delete]
            )
        db.executemany(
            "INSERT OR REPLACE INTO objects(type, id, data) VALUES(?, ?, ?)",
            _rows(w.type, w.put.items()),
        )

    def _write_state(self, db: sqlite3.Connection, w: TypeWrite) -> None:
        db.execute("INSERT OR REPLACE INTO states(type, state) VALUES(?, ?)", (w.type, w.state))

    def close(self) -> None:
        """Close the connection (the file stays)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def _rows(type: str, items: Iterable[tuple[str, JMAPModel]]) -> Iterable[tuple[str, str, str]]:
    for oid, obj in items:  # the wire form (as to_wire()), serialised by pydantic-core
        yield type, oid, obj.model_dump_json(by_alias=True, exclude_unset=True)


def open_store(store: Any) -> tuple[MirrorStore, bool]:
    """``store=``: None (memory), a path (SQLite) or a `MirrorStore`; and whether we own it."""
    if store is None:
        return MemoryStore(), True
    if isinstance(store, MirrorStore):
        return store, False
    if isinstance(store, str | os.PathLike):
        return SQLiteStore(store), True
    raise MirrorError(
        f"store must be None, a file path or a MirrorStore, not {type(store).__name__}"
    )
