"""Where records come from and go to: migration JSON Lines, and a Slack workspace export.

The JSON Lines schema (docs/migration.md) — one object per line, chats and contacts
before the messages that use them::

    {"type": "contact", "id": "U1", "login": "bob", "name": "Bob"}
    {"type": "chat", "id": "C1", "kind": "group", "name": "general", "members": ["U1"]}
    {"type": "chat", "id": "D1", "kind": "direct", "contact": "U1"}
    {"type": "chat", "id": "X", "chatId": "<an existing chat on the server>"}
    {"type": "message", "id": "m1", "chat": "C1", "body": "hi", "sentAt": "2024-01-02T03:04:05Z",
     "bodyType": "text/plain", "replyTo": "m0", "reactions": ["👍"], "author": "bob"}
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError
from pydantic_core import from_json

from jmapchat._core import JMAPError
from jmapchat.models import Chat, Message, MessageCreate

from ._plan import ChatRef, Record

__all__ = ["SourceError", "chat_line", "message_line", "read_jsonl", "read_slack_export"]

_PLACEHOLDER = "pending-chat"


class SourceError(JMAPError):
    """A migration source is malformed (the message names the file and line)."""


# --- JSON Lines ----------------------------------------------------------------------------


def read_jsonl(source: str | Path | IO[str] | Iterable[str]) -> Iterator[Record]:
    """Records from migration JSON Lines (a path, an open file, or lines); streams."""
    if isinstance(source, str | Path):
        name = str(source)
        try:
            handle = open(source, encoding="utf-8")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise SourceError(f"{name}: {exc.strerror or exc}") from None
        with handle:
            yield from _read_lines(handle, name)
    else:
        yield from _read_lines(source, getattr(source, "name", "<input>"))


def _read_lines(lines: Iterable[str], name: str) -> Iterator[Record]:
    chats: dict[str, ChatRef] = {}
    contacts: dict[str, str] = {}
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{name}:{lineno}"
        try:
            obj = from_json(line)
        except ValueError as exc:
            raise SourceError(f"{where}: not JSON ({exc})") from None
        if not isinstance(obj, dict):
            raise SourceError(f"{where}: expected a JSON object")
        try:
            kind = obj.get("type", "message")
            if kind == "contact":
                contacts[_text(obj, "id")] = str(obj.get("login") or obj["id"])
            elif kind == "chat":
                key = _text(obj, "id")
                chats[key] = ChatRef(
                    key=key,
                    kind=str(obj.get("kind", "group")),
                    name=obj.get("name"),
                    members=tuple(contacts.get(m, m) for m in obj.get("members") or ()),
                    contact=contacts.get(obj.get("contact") or "", obj.get("contact")),
                    chat_id=obj.get("chatId"),
                )
            elif kind == "message":
                yield _record(obj, chats)
            else:
                raise SourceError(f"{where}: unknown type {kind!r}")
        except SourceError as exc:
            if str(exc).startswith(where):
                raise
            raise SourceError(f"{where}: {exc}") from None
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc).splitlines()[0]
            raise SourceError(f"{where}: {detail}") from None


def _text(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise SourceError(f"{key!r} must be a non-empty string")
    return value


def _record(obj: dict[str, Any], chats: dict[str, ChatRef]) -> Record:
    key = _text(obj, "chat")
    chat = chats.get(key) or ChatRef(key=key, chat_id=key)
    fields: dict[str, Any] = {
        "chat_id": chat.chat_id or _PLACEHOLDER,
        "body": obj.get("body", ""),
        "body_type": obj.get("bodyType", "text/plain"),
    }
    if "sentAt" in obj:
        fields["sent_at"] = obj["sentAt"]
    reactions = obj.get("reactions") or []
    if not isinstance(reactions, list) or not all(isinstance(e, str) and e for e in reactions):
        raise SourceError("'reactions' must be a list of emoji strings")
    return Record(
        source_id=_text(obj, "id"),
        create=MessageCreate(**fields),
        chat=None if chat.chat_id else chat,
        reply_to=obj.get("replyTo"),
        reactions=tuple(reactions),
    )


def chat_line(chat: Chat, logins: dict[str, str]) -> dict[str, Any]:
    """A chat as a JSON Lines object (channels become groups: they need a Space)."""
    line: dict[str, Any] = {"type": "chat", "id": chat.id}
    if chat.kind == "direct":
        line.update(kind="direct", contact=logins.get(chat.contact_id or "", chat.contact_id))
    else:
        line.update(
            kind="group",
            name=chat.name or chat.id,
            members=[logins.get(m.id, m.id) for m in chat.members or []],
        )
    return line


def message_line(msg: Message, logins: dict[str, str]) -> dict[str, Any]:
    line: dict[str, Any] = {
        "type": "message",
        "id": msg.id,
        "chat": msg.chat_id,
        "body": msg.body or "",
        "bodyType": msg.body_type or "text/plain",
        "sentAt": msg.sent_at,
    }
    if msg.reply_to:
        line["replyTo"] = msg.reply_to
    if msg.reactions:
        line["reactions"] = list(dict.fromkeys(r.emoji for r in msg.reactions.values()))
    if msg.sender_id:
        line["author"] = "self" if msg.is_own else logins.get(msg.sender_id, msg.sender_id)
    return line


# --- Slack workspace export -----------------------------------------------------------------

_EMOJI = {
    "+1": "👍",
    "thumbsup": "👍",
    "-1": "👎",
    "thumbsdown": "👎",
    "heart": "❤️",
    "smile": "😄",
    "joy": "😂",
    "tada": "🎉",
    "eyes": "👀",
    "white_check_mark": "✅",
    "rocket": "🚀",
    "pray": "🙏",
    "fire": "🔥",
    "100": "💯",
}
_SKIPPED_SUBTYPES = {"channel_join", "channel_leave", "channel_topic", "channel_purpose"}
_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")


class _Export:
    """A Slack export directory or zip, read file by file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip = zipfile.ZipFile(path) if path.is_file() else None
        if self.zip is None and not path.is_dir():
            raise SourceError(f"{path}: not a Slack export directory or zip file")
        self.prefix = ""
        if self.zip is not None:
            names = self.zip.namelist()
            top = [n for n in names if n.endswith("channels.json")]
            if not top:
                raise SourceError(f"{path}: no channels.json in the zip")
            self.prefix = top[0][: -len("channels.json")]

    def names(self, folder: str) -> list[str]:
        if self.zip is not None:
            base = f"{self.prefix}{folder}/"
            return sorted(
                n[len(base) :]
                for n in self.zip.namelist()
                if n.startswith(base) and n.endswith(".json")
            )
        folder_path = self.path / folder
        return sorted(p.name for p in folder_path.glob("*.json")) if folder_path.is_dir() else []

    def load(self, name: str, default: Any = None) -> Any:
        try:
            if self.zip is not None:
                try:
                    data = self.zip.read(self.prefix + name)
                except KeyError:
                    return default
            else:
                file = self.path / name
                if not file.exists():
                    return default
                data = file.read_bytes()
            return json.loads(data)
        except ValueError as exc:
            raise SourceError(f"{self.path}/{name}: not JSON ({exc})") from None


def read_slack_export(path: str | Path, *, attribute: bool = True) -> Iterator[Record]:
    """Records from a Slack workspace export (a directory or a zip).

    Channels (public, private ``groups.json``, ``dms.json``, ``mpims.json``) become group
    or direct chats; users become contacts by their Slack handle (``name``); thread replies
    keep their parent; reactions become reactions. Messages are sent by the importing
    account, so with ``attribute`` each body starts with its author's name.
    """
    export = _Export(Path(path))
    users = export.load("users.json", []) or []
    handles = {u["id"]: u.get("name") or u["id"] for u in users if isinstance(u, dict)}
    shown = {
        u["id"]: (u.get("profile") or {}).get("display_name")
        or u.get("real_name")
        or u.get("name")
        or u["id"]
        for u in users
        if isinstance(u, dict)
    }
    for listing, kind in (
        ("channels.json", "group"),
        ("groups.json", "group"),
        ("mpims.json", "group"),
        ("dms.json", "direct"),
    ):
        for channel in export.load(listing, []) or []:
            cid = channel["id"]
            folder = channel.get("name") or cid
            members = tuple(handles.get(m, m) for m in channel.get("members") or ())
            ref = ChatRef(
                key=f"slack:{cid}",
                kind=kind,
                name=channel.get("name") or cid,
                members=members,
                # a DM's other person is whichever member is a contact of the importer
            )
            for day in export.names(folder):
                for msg in export.load(f"{folder}/{day}", []) or []:
                    record = _slack_record(msg, cid, ref, shown, attribute)
                    if record is not None:
                        yield record


def _slack_record(
    msg: dict[str, Any], cid: str, ref: ChatRef, shown: dict[str, str], attribute: bool
) -> Record | None:
    if msg.get("type") != "message" or msg.get("subtype") in _SKIPPED_SUBTYPES or "ts" not in msg:
        return None
    text = _MENTION.sub(lambda m: "@" + shown.get(m.group(1), m.group(1)), msg.get("text", ""))
    author = shown.get(msg.get("user", ""), msg.get("username") or msg.get("user") or "")
    body = f"{author}: {text}" if attribute and author else text
    ts = msg["ts"]
    sent = datetime.fromtimestamp(float(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    thread = msg.get("thread_ts")
    reactions = tuple(
        _EMOJI.get(r["name"], f":{r['name']}:") for r in msg.get("reactions") or () if r.get("name")
    )
    return Record(
        source_id=f"slack:{cid}:{ts}",
        create=MessageCreate(chat_id=_PLACEHOLDER, body=body or " ", sent_at=sent),
        chat=ref,
        reply_to=f"slack:{cid}:{thread}" if thread and thread != ts else None,
        reactions=reactions,
    )
