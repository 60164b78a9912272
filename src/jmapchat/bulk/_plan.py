"""The importer's data and its pure parts: records, fingerprints, packing, the report.

No I/O here: `_async.py` (and the generated `_sync.py`) drive it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeAlias

from pydantic import ConfigDict
from pydantic_core import to_json

from jmapchat import Request
from jmapchat._core import CHAT, NOT_GIVEN, Call, JMAPError, JMAPModel, SetError, SetOutcome
from jmapchat.models import MessageCreate

__all__ = [
    "AsyncRecordSource",
    "ChatRef",
    "CreatedIds",
    "ImportAborted",
    "Packer",
    "Pending",
    "Progress",
    "Record",
    "RecordSource",
    "Report",
    "body_hash",
    "creation_key",
    "envelope_request",
    "epoch",
    "fingerprint",
    "normalise_date",
    "reaction_id",
]


class ImportAborted(JMAPError):
    """The import stopped: the server stayed unreachable, or refused the whole request."""


@dataclass(frozen=True, slots=True)
class ChatRef:
    """The chat a record belongs to, as the *source* knows it; created or found once.

    ``key`` is the source's chat id (the journal maps it to the server's). Either
    ``chat_id`` (an existing chat on the server), or ``kind="group"`` with ``name`` and
    ``members`` (contact logins), or ``kind="direct"`` with ``contact`` (a login; without
    one, the first of ``members`` who is a contact — a Slack DM lists both people).
    """

    key: str
    kind: str = "group"
    name: str | None = None
    members: tuple[str, ...] = ()
    contact: str | None = None
    chat_id: str | None = None


@dataclass(frozen=True, slots=True)
class Record:
    """One message to import, with the stable id it has in the source system.

    ``create.chat_id`` is used as is unless ``chat`` is given (then the chat is created or
    looked up and its id replaces it). ``reply_to`` is the *source* id of the parent: it
    becomes the parent's new id. ``reactions`` are emoji added as the importing account's.
    """

    source_id: str
    create: MessageCreate
    chat: ChatRef | None = None
    reply_to: str | None = None
    reactions: tuple[str, ...] = ()


RecordSource: TypeAlias = Iterable[Record]
AsyncRecordSource: TypeAlias = Iterable[Record] | AsyncIterable[Record]


def _parse_date(value: str) -> datetime | None:
    """A UTCDate (or any ISO 8601 date-time; naive means UTC) as an aware datetime."""
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


_WHOLE_SECOND_UTC = re.compile(r"[1-9]\d{3}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def normalise_date(value: str) -> str:
    """A UTCDate in one canonical spelling, so that fingerprints compare dates, not text."""
    when = _parse_date(value)
    if when is None:
        return value
    if _WHOLE_SECOND_UTC.fullmatch(value):  # the usual spelling: already that instant's text
        return value[:19] + ".000000"
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def body_hash(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def fingerprint(chat_id: str, sent_at: str, body: str) -> tuple[str, str, str]:
    """How a message is recognised on the server: chat, ``sentAt``, body hash."""
    return (chat_id, normalise_date(sent_at), body_hash(body))


class _Created(JMAPModel):
    """A created (or updated) message as the importer reads it: its id, nothing else."""

    model_config = ConfigDict(extra="ignore")

    id: str


CreatedIds = SetOutcome[_Created]
"""The importer's typed ``Message/set`` result: per-object ids and SetErrors only (the
server echoes whole messages; building a `Message` of each, to read its id, cost more
than the rest of the reply)."""


@dataclass(slots=True)
class Pending:
    """A record ready to send: its wire create, creation id and fingerprint."""

    source_id: str
    wire: dict[str, Any]
    reactions: tuple[str, ...]
    size: int
    key: str = ""
    """Its creation id (`creation_key` of ``source_id``), computed once."""
    _fingerprint: tuple[str, str, str] | None = None

    def __post_init__(self) -> None:
        if not self.key:
            self.key = creation_key(self.source_id)

    @property
    def fingerprint(self) -> tuple[str, str, str]:
        """Chat, normalised ``sentAt`` and body hash (computed once: a reply's parent
        does not change them)."""
        if self._fingerprint is None:
            wire = self.wire
            self._fingerprint = fingerprint(wire["chatId"], wire["sentAt"], wire["body"])
        return self._fingerprint

    def replying_to(self, parent: str | None) -> Pending:
        """This record replying to ``parent`` (an id, ``#creationId``, or None: no parent)."""
        wire = dict(self.wire)
        wire.pop("replyTo", None)
        if parent is not None:
            wire["replyTo"] = parent
        return Pending(
            self.source_id, wire, self.reactions, self.size + 40, self.key, self._fingerprint
        )

    @classmethod
    def of(
        cls,
        source_id: str,
        create: MessageCreate,
        reactions: tuple[str, ...],
        chat_id: str | None = None,
    ) -> Pending:
        """``chat_id`` (when given) replaces the create's: the chat the journal mapped."""
        wire = create.to_wire()
        if chat_id is not None:
            wire["chatId"] = chat_id
        # its compact JSON (as the envelope carries it) + the creation id and punctuation;
        # + per reaction its update entry
        size = len(to_json(wire)) + 40
        size += sum(110 + len(e.encode()) * 6 for e in reactions)
        return cls(source_id, wire, reactions, size)


@dataclass
class Packer:
    """Packs records into envelopes within the server's limits.

    An envelope is up to ``max_calls`` ``Message/set`` calls of up to ``max_objects``
    creates each, at most ``max_bytes`` in all (with headroom for the envelope itself),
    and at most ``envelope_size`` records (so a lost envelope costs little to reconcile).
    """

    max_objects: int
    max_calls: int
    max_bytes: int
    envelope_size: int
    items: list[Pending] = field(default_factory=list)
    _bytes: int = 0

    def __post_init__(self) -> None:
        self.max_objects = max(1, self.max_objects // 2)  # reactions ride along as updates
        self.capacity = max(1, min(self.envelope_size, self.max_objects * self.max_calls))
        self.budget = max(1024, int(self.max_bytes * 0.9) - 512)

    def fits(self, item: Pending) -> bool:
        """Whether ``item`` joins this envelope (an empty one takes anything under budget)."""
        if not self.items:
            return True
        return len(self.items) < self.capacity and self._bytes + item.size <= self.budget

    def add(self, item: Pending) -> None:
        self.items.append(item)
        self._bytes += item.size

    def take(self) -> list[Pending]:
        items, self.items, self._bytes = self.items, [], 0
        return items

    def calls(self, items: list[Pending]) -> list[list[Pending]]:
        """The envelope's items split into ``Message/set`` calls."""
        n = self.max_objects
        return [items[i : i + n] for i in range(0, len(items), n)]


def envelope_request(
    items: list[Pending], known: dict[str, str], account_id: str, packer: Packer
) -> tuple[Request, list[tuple[Call[CreatedIds], dict[str, Pending]]]]:
    """One envelope's request: a ``Message/set`` per `Packer.calls` chunk (creates, and
    each record's reactions as an update of its creation id), with the ``(call, creation
    id -> item)`` of each.

    ``known`` (creation id -> id) goes out as ``createdIds`` for the parents its replies
    name, so that a reply resent without its parent still finds it. The calls are typed
    `CreatedIds`: the importer reads ids and SetErrors only.
    """
    wanted = {str(it.wire.get("replyTo", ""))[1:] for it in items} if known else ()
    req = Request(created_ids={k: v for k, v in known.items() if k in wanted})
    calls = []
    for chunk in packer.calls(items):
        keys = {item.key: item for item in chunk}
        update = {
            f"#{item.key}": {
                f"reactions/{reaction_id(e)}": {"emoji": e, "sentAt": item.wire["sentAt"]}
                for e in dict.fromkeys(item.reactions)
            }
            for item in chunk
            if item.reactions
        }
        call = req.invoke(
            "Message/set",
            {
                "accountId": account_id,
                "create": {key: item.wire for key, item in keys.items()},
                "update": update or NOT_GIVEN,
            },
            response=CreatedIds,
            using=(CHAT,),
        )
        calls.append((call, keys))
    return req, calls


@dataclass(frozen=True, slots=True)
class Progress:
    """What the progress callback gets: counts so far, rate (records/s) and ETA (s)."""

    done: int
    written: int
    skipped: int
    failed: int
    total: int | None
    rate: float
    eta: float | None
    waiting: float = 0.0
    """Seconds the importer is now waiting out a rate limit (0 when not waiting)."""


@dataclass
class Report:
    """The outcome of `AsyncImporter.run`.

    ``written``: created by this run; ``reconciled``: found on the server after an
    unknown outcome in this run (not sent again); ``skipped``: done before this run
    (``recovered`` of them were left in flight by a crash and found on the server at
    start); ``failed``: source id -> SetError (also kept in the journal).
    """

    written: int = 0
    skipped: int = 0
    reconciled: int = 0
    failed: dict[str, SetError] = field(default_factory=dict)
    recovered: int = 0
    rate_limited: int = 0
    """Records refused with ``rateLimit``/``rateLimited`` (each resent after the wait)."""
    waits: list[float] = field(default_factory=list)
    """Every rate-limit wait, in seconds."""
    requests: int = 0
    """HTTP API requests this run made (envelopes, lookups, reconciliation)."""
    envelopes: int = 0
    reaction_failures: int = 0
    seconds: float = 0.0

    @property
    def done(self) -> int:
        """Records that are on the server: written, skipped or reconciled."""
        return self.written + self.skipped + self.reconciled

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (what ``jmapchat --json import`` prints)."""
        return {
            "written": self.written,
            "skipped": self.skipped,
            "reconciled": self.reconciled,
            "recovered": self.recovered,
            "failed": {k: v.to_wire() for k, v in self.failed.items()},
            "rateLimited": self.rate_limited,
            "waits": [round(w, 3) for w in self.waits],
            "requests": self.requests,
            "envelopes": self.envelopes,
            "reactionFailures": self.reaction_failures,
            "seconds": round(self.seconds, 3),
        }


ProgressCallback: TypeAlias = Callable[[Progress], None]


def creation_key(source_id: str) -> str:
    """A record's creation id: the same in every envelope and resend (an Id-safe hash)."""
    return "r" + hashlib.sha256(source_id.encode()).hexdigest()[:24]


def reaction_id(emoji: str) -> str:
    """The same emoji always gets the same reaction id: re-adding it is a no-op."""
    return "imp" + hashlib.sha256(emoji.encode()).hexdigest()[:16]


def epoch(value: str) -> float:
    """A UTCDate as POSIX seconds (unreadable: infinitely late, so never "too old")."""
    when = _parse_date(value)
    return float("inf") if when is None else when.timestamp()
