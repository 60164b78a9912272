"""The import journal: one SQLite file that makes an import exactly-once across crashes.

A record's row goes ``sending`` (committed *before* its envelope leaves) → ``done`` (with
the server's message id) or ``failed`` (with its SetError). A ``sending`` row found later
means the outcome is unknown: the importer reconciles it against the server before any
resend. WAL mode: a SIGKILLed process loses nothing that was committed.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jmapchat._core import SetError

from ._plan import ImportAborted

__all__ = ["Journal", "SendingRow"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS record (
    source_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,            -- sending | done | failed
    message_id TEXT,
    chat_id TEXT,
    sent_at TEXT,
    body_hash TEXT,
    batch_at REAL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS record_state ON record(state);
CREATE INDEX IF NOT EXISTS record_message ON record(message_id);
CREATE TABLE IF NOT EXISTS chat (key TEXT PRIMARY KEY, chat_id TEXT, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS contact (login TEXT PRIMARY KEY, contact_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class SendingRow:
    """A record whose envelope left without a recorded outcome (its fingerprint)."""

    source_id: str
    chat_id: str
    sent_at: str
    body_hash: str
    batch_at: float


class Journal:
    """The SQLite journal of one import (thread-safe: the blocking importer uses threads)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database (everything was committed as it happened)."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _one(self, sql: str, args: Sequence[Any]) -> Any:
        with self._lock:
            return self._db.execute(sql, args).fetchone()

    # --- meta: which account this journal belongs to -----------------------------------

    def bind_account(self, account_id: str) -> None:
        """Refuse to mix two accounts' imports in one journal (the ids would not match)."""
        row = self._one("SELECT value FROM meta WHERE key='account'", ())
        if row is None:
            with self._tx() as db:
                db.execute("INSERT INTO meta VALUES ('account', ?)", (account_id,))
        elif row[0] != account_id:
            raise ImportAborted(
                f"journal {self.path} belongs to account {row[0]}, not {account_id}: "
                "use a new journal file for another account or server"
            )

    # --- records ------------------------------------------------------------------------

    def state(self, source_id: str) -> tuple[str, str | None] | None:
        """``(state, message_id)`` of a record, or None if it was never sent."""
        row = self._one("SELECT state, message_id FROM record WHERE source_id=?", (source_id,))
        return None if row is None else (row[0], row[1])

    def states(self, source_ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """`state` of many records in one query (the importer asks per batch)."""
        out: dict[str, tuple[str, str | None]] = {}
        with self._lock:
            for start in range(0, len(source_ids), 500):
                part = source_ids[start : start + 500]
                marks = ",".join("?" * len(part))
                for sid, state, mid in self._db.execute(
                    f"SELECT source_id, state, message_id FROM record WHERE source_id IN ({marks})",
                    part,
                ):
                    out[sid] = (state, mid)
        return out

    def mark_sending(self, rows: Iterable[tuple[str, str, str, str]]) -> None:
        """``(source_id, chat_id, sent_at, body_hash)`` rows: committed before sending."""
        now = time.time()
        values = [(*row, now) for row in rows]  # (fingerprints) before the lock is taken
        with self._tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO record"
                " (source_id, state, chat_id, sent_at, body_hash, batch_at)"
                " VALUES (?, 'sending', ?, ?, ?, ?)",
                values,
            )

    def record_outcomes(
        self,
        done: Iterable[tuple[str, str]],
        failed: Iterable[tuple[str, SetError]] = (),
        forget: Iterable[str] = (),
    ) -> None:
        """One transaction: ``done`` (source_id, message_id), ``failed``, ``forget``."""
        done_rows = [(mid, sid) for sid, mid in done]  # built before the lock is taken
        failed_rows = [(json.dumps(err.to_wire()), sid) for sid, err in failed]
        forget_rows = [(sid,) for sid in forget]
        with self._tx() as db:
            db.executemany(
                "UPDATE record SET state='done', message_id=?, error=NULL WHERE source_id=?",
                done_rows,
            )
            db.executemany(
                "UPDATE record SET state='failed', error=? WHERE source_id=?", failed_rows
            )
            db.executemany("DELETE FROM record WHERE source_id=?", forget_rows)

    def sending(self) -> list[SendingRow]:
        """Every record whose outcome is unknown (left by a crash)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT source_id, chat_id, sent_at, body_hash, batch_at FROM record"
                " WHERE state='sending'"
            ).fetchall()
        return [SendingRow(*row) for row in rows]

    def known_message_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are already some done record's message."""
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                marks = ",".join("?" * len(part))
                found.update(
                    r[0]
                    for r in self._db.execute(
                        f"SELECT message_id FROM record WHERE message_id IN ({marks})", part
                    )
                )
        return found

    def failures(self) -> dict[str, SetError]:
        """Every failed record with its SetError."""
        with self._lock:
            rows = self._db.execute(
                "SELECT source_id, error FROM record WHERE state='failed'"
            ).fetchall()
        return {sid: SetError.model_validate(json.loads(err)) for sid, err in rows}

    def counts(self) -> dict[str, int]:
        """How many records are in each state (``sending``, ``done``, ``failed``)."""
        with self._lock:
            rows = self._db.execute("SELECT state, count(*) FROM record GROUP BY state").fetchall()
        return dict(rows)

    # --- chats and contacts --------------------------------------------------------------

    def chat(self, key: str) -> tuple[str, str | None] | None:
        """``(state, chat_id)`` for a source chat key (state ``pending`` or ``done``)."""
        row = self._one("SELECT state, chat_id FROM chat WHERE key=?", (key,))
        return None if row is None else (row[0], row[1])

    def set_chat(self, key: str, state: str, chat_id: str | None = None) -> None:
        """Record a source chat's state (``pending`` before creating it, then ``done``)."""
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO chat VALUES (?, ?, ?)", (key, chat_id, state))

    def contacts(self) -> dict[str, str]:
        """The login -> contact id mapping looked up from the server."""
        with self._lock:
            return dict(self._db.execute("SELECT login, contact_id FROM contact").fetchall())

    def set_contacts(self, mapping: dict[str, str]) -> None:
        """Remember login -> contact id mappings (so a re-run need not look them up)."""
        with self._tx() as db:
            db.executemany("INSERT OR REPLACE INTO contact VALUES (?, ?)", list(mapping.items()))
