"""Raw-HTTP harness for the JMAP Chat compliance suite.

These tests drive the reference server (``jmapchat.server.ChatServer``) through its ASGI
app with plain HTTP (``starlette.testclient.TestClient``): the Session is fetched from
``/.well-known/jmap`` and every URL (``apiUrl``, ``uploadUrl``, ``downloadUrl``,
``eventSourceUrl``) is taken from it.  The jmapchat client library is deliberately not
used, so that the suite checks the wire contract and nothing else.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import queue
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urljoin

import httpx
from ulid import ULID

CORE = "urn:ietf:params:jmap:core"
CHAT = "urn:ietf:params:jmap:chat"
CHAT_PUSH = "urn:ietf:params:jmap:chat:push"
CHAT_WS = "urn:ietf:params:jmap:chat:websocket"
JMAP_WS = "urn:ietf:params:jmap:websocket"
USING = [CORE, CHAT]
RICH = "application/jmap-chat-rich"

USERS = ("alice", "bob", "carol")

UTCDATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")

# A 1x1 transparent PNG (valid image for CustomEmoji.blobId).
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000"
    "000049454e44ae426082"
)

# Well-known "not a reachable push endpoint" URL (RFC 8620 requires https://).
PUSH_URL = "https://push.invalid/jmap-chat-compliance"


# ---------------------------------------------------------------------------
# small utilities
# ---------------------------------------------------------------------------


def utc(dt: datetime) -> str:
    """Format a datetime as an RFC 8620 UTCDate (no fractional seconds)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now() -> str:
    return utc(datetime.now(UTC))


def past(seconds: int = 3600) -> str:
    return utc(datetime.now(UTC) - timedelta(seconds=seconds))


def future(seconds: int = 3600) -> str:
    return utc(datetime.now(UTC) + timedelta(seconds=seconds))


def is_utcdate(value: Any) -> bool:
    return isinstance(value, str) and UTCDATE_RE.match(value) is not None


def expand(template: str, **values: str) -> str:
    """RFC 6570 level-1 expansion (simple string expansion, reserved chars encoded)."""

    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        return quote(values[name], safe="") if name in values else ""

    return re.sub(r"\{([A-Za-z0-9_]+)\}", repl, template)


def new_ulid() -> str:
    """A fresh ULID (client-assigned ids such as senderReactionId)."""
    return str(ULID())


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def rich_body(*spans: dict[str, Any]) -> str:
    return json.dumps({"spans": list(spans)})


def wait_until(predicate: Callable[[], Any], timeout: float = 3.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns a truthy value (for background sweeps)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# ---------------------------------------------------------------------------
# EventSource (RFC 8620 §7.3) reader
# ---------------------------------------------------------------------------


class EventStream:
    """Reads a text/event-stream response on a background thread."""

    def __init__(self, client: httpx.Client, url: str, headers: dict[str, str]) -> None:
        self._client = client
        self._url = url
        self._headers = headers
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self._cm: Any = None
        self.response: httpx.Response | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> EventStream:
        self._cm = self._client.stream("GET", self._url, headers=self._headers)
        self.response = self._cm.__enter__()
        assert self.response.status_code == 200, self.response.status_code
        ctype = self.response.headers.get("content-type", "")
        assert ctype.startswith("text/event-stream"), ctype
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self._cm.__exit__(None, None, None)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _pump(self) -> None:
        assert self.response is not None
        event, data, eid = "message", [], None
        try:
            for line in self.response.iter_lines():
                if line == "":
                    if data:
                        raw = "\n".join(data)
                        try:
                            parsed: Any = json.loads(raw)
                        except ValueError:
                            parsed = raw
                        self._queue.put({"event": event, "data": parsed, "id": eid})
                    event, data, eid = "message", [], None
                    continue
                if line.startswith(":"):
                    continue
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field == "event":
                    event = value
                elif field == "data":
                    data.append(value)
                elif field == "id":
                    eid = value
        except Exception as exc:  # stream closed under us at teardown
            self._queue.put({"event": "__error__", "data": repr(exc), "id": None})
        finally:
            self._queue.put({"event": "__closed__", "data": None, "id": None})

    def _drain(self, timeout: float | None) -> dict[str, Any] | None:
        try:
            item = self._queue.get(timeout=timeout) if timeout else self._queue.get_nowait()
        except queue.Empty:
            return None
        self.seen.append(item)
        return item

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> dict[str, Any]:
        """Return the first not-yet-consumed event matching ``predicate``."""
        for item in self.seen:
            if not item.get("_used") and predicate(item):
                item["_used"] = True
                return item
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            item = self._drain(remaining)
            if item is None:
                break
            if item["event"] == "__closed__":
                break
            if predicate(item):
                item["_used"] = True
                return item
        raise AssertionError(f"expected event not received; saw {self.seen!r}")

    def events(self, name: str) -> list[dict[str, Any]]:
        while self._drain(None) is not None:
            pass
        return [e for e in self.seen if e["event"] == name]


# ---------------------------------------------------------------------------
# the harness
# ---------------------------------------------------------------------------


class Harness:
    """Raw HTTP access to the server as any of its users."""

    def __init__(self, server: Any, client: httpx.Client) -> None:
        self.server = server
        self.client = client
        self._sessions: dict[str, dict[str, Any]] = {}
        self._session_urls: dict[str, str] = {}
        self._call_ids = itertools.count(1)
        self._sync = itertools.count(1)

    # -- identity ----------------------------------------------------------

    def token(self, user: str) -> str:
        return str(self.server.tokens[user])

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}"}

    def acct(self, user: str) -> str:
        return str(self.server.account_ids[user])

    def cid(self, user: str) -> str:
        """ChatContact.id of ``user`` as other users see them."""
        return str(self.server.contact_ids[user])

    def add_user(self, user: str) -> None:
        self.server.add_user(user)

    # -- session -----------------------------------------------------------

    def session_response(self, user: str | None) -> httpx.Response:
        headers = self.headers(user) if user else {}
        return self.client.get("/.well-known/jmap", headers=headers, follow_redirects=True)

    def session(self, user: str) -> dict[str, Any]:
        if user not in self._sessions:
            r = self.session_response(user)
            assert r.status_code == 200, (r.status_code, r.text)
            self._sessions[user] = r.json()
            self._session_urls[user] = str(r.url)
        return self._sessions[user]

    def url(self, user: str, key: str) -> str:
        sess = self.session(user)
        return urljoin(self._session_urls[user], sess[key])

    def account_caps(self, user: str, cap: str = CHAT) -> dict[str, Any]:
        caps: dict[str, Any] = self.session(user)["accounts"][self.acct(user)][
            "accountCapabilities"
        ]
        return caps.get(cap, {})

    # -- API ---------------------------------------------------------------

    def post_api(
        self, user: str | None, content: bytes, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        url = self.url(user or "alice", "apiUrl")
        hdrs = {"Content-Type": "application/json"}
        if user:
            hdrs.update(self.headers(user))
        hdrs.update(headers or {})
        return self.client.post(url, content=content, headers=hdrs)

    def request(
        self,
        user: str,
        calls: list[list[Any]],
        using: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        body = {"using": using or USING, "methodCalls": calls}
        r = self.post_api(user, json.dumps(body).encode(), headers)
        assert r.status_code == 200, (r.status_code, r.text)
        result: dict[str, Any] = r.json()
        return result

    def call(
        self, user: str, name: str, args: dict[str, Any], using: list[str] | None = None
    ) -> tuple[str, dict[str, Any]]:
        args = dict(args)
        if "accountId" not in args and not name.startswith(("PushSubscription/", "Core/")):
            args["accountId"] = self.acct(user)
        call_id = f"c{next(self._call_ids)}"
        resp = self.request(user, [[name, args, call_id]], using)
        responses = [r for r in resp["methodResponses"] if r[2] == call_id]
        assert responses, resp
        return responses[0][0], responses[0][1]

    def ok(
        self, user: str, name: str, args: dict[str, Any], using: list[str] | None = None
    ) -> dict[str, Any]:
        rname, rargs = self.call(user, name, args, using)
        assert rname == name, f"{name} failed: {rname} {rargs}"
        return rargs

    def error(
        self, user: str, name: str, args: dict[str, Any], using: list[str] | None = None
    ) -> dict[str, Any]:
        rname, rargs = self.call(user, name, args, using)
        assert rname == "error", f"{name} unexpectedly succeeded: {rargs}"
        return rargs

    # -- standard methods ----------------------------------------------------

    def set(
        self, user: str, type_: str, using: list[str] | None = None, **kw: Any
    ) -> dict[str, Any]:
        return self.ok(user, f"{type_}/set", kw, using)

    def create(
        self, user: str, type_: str, obj: dict[str, Any], using: list[str] | None = None
    ) -> dict[str, Any]:
        """Create one object; return the ``created`` entry (has at least ``id``)."""
        res = self.set(user, type_, using, create={"k1": obj})
        assert "k1" in (res.get("created") or {}), f"{type_} create failed: {res}"
        created: dict[str, Any] = res["created"]["k1"]
        assert isinstance(created.get("id"), str), created
        return created

    def create_error(
        self, user: str, type_: str, obj: dict[str, Any], using: list[str] | None = None
    ) -> dict[str, Any]:
        res = self.set(user, type_, using, create={"k1": obj})
        assert "k1" not in (res.get("created") or {}), f"{type_} create unexpectedly ok: {res}"
        err: dict[str, Any] = (res.get("notCreated") or {}).get("k1")
        assert isinstance(err, dict), res
        assert "type" in err, res
        return err

    def update(
        self,
        user: str,
        type_: str,
        id_: str,
        patch: dict[str, Any],
        using: list[str] | None = None,
    ) -> dict[str, Any] | None:
        res = self.set(user, type_, using, update={id_: patch})
        assert id_ in (res.get("updated") or {}), f"{type_} update failed: {res}"
        value: dict[str, Any] | None = res["updated"][id_]
        return value

    def update_error(
        self,
        user: str,
        type_: str,
        id_: str,
        patch: dict[str, Any],
        using: list[str] | None = None,
    ) -> dict[str, Any]:
        res = self.set(user, type_, using, update={id_: patch})
        assert id_ not in (res.get("updated") or {}), f"{type_} update unexpectedly ok: {res}"
        err: dict[str, Any] = (res.get("notUpdated") or {}).get(id_)
        assert isinstance(err, dict), res
        assert "type" in err, res
        return err

    def destroy(self, user: str, type_: str, id_: str) -> dict[str, Any]:
        return self.set(user, type_, destroy=[id_])

    def get(
        self,
        user: str,
        type_: str,
        ids: list[str] | None,
        properties: list[str] | None = None,
        using: list[str] | None = None,
    ) -> dict[str, Any]:
        args: dict[str, Any] = {"ids": ids}
        if properties is not None:
            args["properties"] = properties
        return self.ok(user, f"{type_}/get", args, using)

    def get1(self, user: str, type_: str, id_: str) -> dict[str, Any] | None:
        res = self.get(user, type_, [id_])
        for obj in res["list"]:
            if obj["id"] == id_:
                found: dict[str, Any] = obj
                return found
        assert id_ in res.get("notFound", []), res
        return None

    def query(self, user: str, type_: str, **args: Any) -> list[str]:
        res = self.ok(user, f"{type_}/query", args)
        ids: list[str] = res["ids"]
        return ids

    # -- blobs ---------------------------------------------------------------

    def upload(self, user: str, data: bytes, content_type: str) -> dict[str, Any]:
        url = expand(self.session(user)["uploadUrl"], accountId=self.acct(user))
        url = urljoin(self._session_urls[user], url)
        r = self.client.post(
            url, content=data, headers={**self.headers(user), "Content-Type": content_type}
        )
        assert r.status_code in (200, 201), (r.status_code, r.text)
        blob: dict[str, Any] = r.json()
        return blob

    def download(
        self, user: str, blob_id: str, type_: str = "application/octet-stream", name: str = "f"
    ) -> httpx.Response:
        url = expand(
            self.session(user)["downloadUrl"],
            accountId=self.acct(user),
            blobId=blob_id,
            type=type_,
            name=name,
        )
        url = urljoin(self._session_urls[user], url)
        return self.client.get(url, headers=self.headers(user))

    def attachment(
        self, user: str, data: bytes = b"hello attachment", **overrides: Any
    ) -> dict[str, Any]:
        blob = self.upload(user, data, "text/plain")
        att = {
            "blobId": blob["blobId"],
            "filename": "note.txt",
            "contentType": "text/plain",
            "size": len(data),
            "sha256": sha256_hex(data),
        }
        att.update(overrides)
        return att

    # -- push ----------------------------------------------------------------

    def event_stream(
        self, user: str, types: str = "*", closeafter: str = "no", ping: str = "0"
    ) -> EventStream:
        url = expand(
            self.session(user)["eventSourceUrl"], types=types, closeafter=closeafter, ping=ping
        )
        url = urljoin(self._session_urls[user], url)
        return EventStream(self.client, url, {**self.headers(user), "Accept": "text/event-stream"})

    def presence_id(self, user: str) -> str:
        res = self.get(user, "PresenceStatus", None)
        assert len(res["list"]) == 1, res
        return str(res["list"][0]["id"])

    def sync_stream(self, user: str, stream: EventStream) -> None:
        """Make a change visible only to ``user`` and wait for its state event.

        Guarantees that ``stream`` is subscribed before the test goes on.
        """
        pid = self.presence_id(user)
        res = self.set(
            user, "PresenceStatus", update={pid: {"statusText": f"sync {next(self._sync)}"}}
        )
        assert pid in res["updated"], res
        acct = self.acct(user)
        stream.wait_for(
            lambda e: (
                e["event"] == "state"
                and isinstance(e["data"], dict)
                and "PresenceStatus" in e["data"].get("changed", {}).get(acct, {})
            )
        )

    # -- chat domain helpers -------------------------------------------------

    def direct_chat(self, user: str, other: str) -> str:
        return str(
            self.create(user, "Chat", {"kind": "direct", "contactId": self.cid(other)})["id"]
        )

    def group_chat(self, user: str, members: list[str], name: str = "group") -> str:
        chat = self.create(
            user,
            "Chat",
            {"kind": "group", "name": name, "memberIds": [self.cid(m) for m in members]},
        )
        return str(chat["id"])

    def send(self, user: str, chat_id: str, body: str = "hello", **extra: Any) -> str:
        msg = {"chatId": chat_id, "body": body, "bodyType": "text/plain", "sentAt": now()}
        msg.update(extra)
        return str(self.create(user, "Message", msg)["id"])

    def send_error(
        self, user: str, chat_id: str, body: str = "hello", **extra: Any
    ) -> dict[str, Any]:
        msg = {"chatId": chat_id, "body": body, "bodyType": "text/plain", "sentAt": now()}
        msg.update(extra)
        return self.create_error(user, "Message", msg)

    def chats(self, user: str) -> list[dict[str, Any]]:
        chats: list[dict[str, Any]] = self.get(user, "Chat", None)["list"]
        return chats

    def direct_chat_with(self, user: str, other: str) -> str:
        """The id of ``user``'s direct chat with ``other`` (as delivered by the relay)."""
        cid = self.cid(other)
        found = [
            c["id"]
            for c in self.chats(user)
            if c.get("kind") == "direct" and c.get("contactId") == cid
        ]
        assert len(found) == 1, (user, other, self.chats(user))
        return str(found[0])

    def chat_named(self, user: str, name: str) -> str:
        found = [c["id"] for c in self.chats(user) if c.get("name") == name]
        assert len(found) == 1, (user, name, self.chats(user))
        return str(found[0])

    def message_ids(self, user: str, chat_id: str) -> list[str]:
        return self.query(user, "Message", filter={"chatId": chat_id})

    def messages(self, user: str, chat_id: str) -> list[dict[str, Any]]:
        ids = self.message_ids(user, chat_id)
        if not ids:
            return []
        by_id = {m["id"]: m for m in self.get(user, "Message", ids)["list"]}
        return [by_id[i] for i in ids if i in by_id]

    # -- spaces ----------------------------------------------------------------

    def space(
        self, user: str, name: str = "space", *, public: bool = False, previewable: bool = False
    ) -> str:
        sid = str(self.create(user, "Space", {"name": name})["id"])
        if public or previewable:
            self.update(
                user, "Space", sid, {"isPublic": public, "isPubliclyPreviewable": previewable}
            )
        return sid

    def space_get(self, user: str, sid: str) -> dict[str, Any]:
        obj = self.get1(user, "Space", sid)
        assert obj is not None, f"{user} cannot see space {sid}"
        return obj

    def top_position(self, user: str, sid: str) -> int:
        sp = self.space_get(user, sid)
        mine = next((m for m in sp.get("members", []) if m["id"] == self.cid(user)), None)
        held = set(mine.get("roleIds", [])) if mine else set()
        positions = [r["position"] for r in sp.get("roles", []) if r["id"] in held]
        return max(positions, default=1000)

    def add_role(
        self, user: str, sid: str, name: str, permissions: list[str], position: int | None = None
    ) -> str:
        if position is None:
            position = max(1, min(self.top_position(user, sid) - 1, 10))
            existing = {r["position"] for r in self.space_get(user, sid).get("roles", [])}
            while position in existing and position > 1:
                position -= 1
        self.update(
            user,
            "Space",
            sid,
            {"addRoles": [{"name": name, "permissions": permissions, "position": position}]},
        )
        roles = [r for r in self.space_get(user, sid)["roles"] if r["name"] == name]
        assert len(roles) == 1, roles
        return str(roles[0]["id"])

    def add_space_member(
        self, user: str, sid: str, member: str, role_ids: list[str] | None = None
    ) -> None:
        entry: dict[str, Any] = {"id": self.cid(member)}
        if role_ids is not None:
            entry["roleIds"] = role_ids
        self.update(user, "Space", sid, {"addMembers": [entry]})

    def add_channel(self, user: str, sid: str, name: str = "general") -> str:
        before = set(self._channel_ids(user, sid))
        self.update(user, "Space", sid, {"addChannels": [{"name": name}]})
        after = set(self._channel_ids(user, sid)) - before
        if not after:  # fall back to Chat/get
            after = {
                c["id"]
                for c in self.chats(user)
                if c.get("kind") == "channel" and c.get("spaceId") == sid and c["id"] not in before
            }
        assert len(after) == 1, after
        return after.pop()

    def _channel_ids(self, user: str, sid: str) -> list[str]:
        sp = self.space_get(user, sid)
        ids = list(sp.get("uncategorizedChannelIds", []))
        for cat in sp.get("categories", []):
            ids.extend(cat.get("channelIds", []))
        return ids

    def channel_setup(
        self,
        members: dict[str, list[str] | None] | None = None,
        owner: str = "alice",
        *,
        public: bool = False,
    ) -> tuple[str, str, dict[str, str]]:
        """A Space with one channel; each member gets a role with the given permissions.

        Returns (spaceId, channelId, {member: roleId}).
        """
        sid = self.space(owner, "Guild", public=public)
        chan = self.add_channel(owner, sid, "general")
        roles: dict[str, str] = {}
        for member, perms in (members or {}).items():
            role_ids: list[str] = []
            if perms is not None:
                roles[member] = self.add_role(owner, sid, f"role-{member}", perms)
                role_ids = [roles[member]]
            self.add_space_member(owner, sid, member, role_ids)
        return sid, chan, roles
