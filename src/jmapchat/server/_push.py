"""Push: the in-process pub/sub hub behind EventSource, and outbound PushSubscription POSTs.

The hub is loop-agnostic: a subscriber belongs to the event loop (asyncio or trio) that
created it and is woken thread-safely, so one `ChatServer` can serve an in-process
ASGI client and a hypercorn thread at the same time. Outbound pushes go through one
daemon thread with a synchronous httpx client, and only ever to loopback URLs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, get_args

import anyio
import httpx
import orjson

from jmapchat.models import ChatMessageEntryProperty

from ._events import states
from ._store import GLOBAL
from ._types._access import member_of, space_perms
from ._types._content import PLAINTEXT_TYPES, RICH, mentions_user
from ._types.misc import is_loopback_url
from ._util import epoch_of

if TYPE_CHECKING:
    from ._context import Core

__all__ = ["Hub", "PushSender", "Subscriber"]

log = logging.getLogger("jmapchat.server")


def _threadsafe_caller() -> Callable[[Callable[[], Any]], None]:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        import trio

        token = trio.lowlevel.current_trio_token()
        return lambda fn: token.run_sync_soon(fn)

    def call(fn: Callable[[], Any]) -> None:
        loop.call_soon_threadsafe(fn)

    return call


class Subscriber:
    def __init__(self, account: str) -> None:
        self.account = account
        self.dirty = False
        self.closed = False
        self.queue: deque[tuple[str, dict[str, Any]]] = deque(maxlen=1000)
        self._call = _threadsafe_caller()
        self._event: anyio.Event | None = None

    def pending(self) -> bool:
        return self.dirty or bool(self.queue) or self.closed

    def wake(self) -> None:
        ev = self._event
        if ev is None:
            return
        with contextlib.suppress(Exception):  # the loop may be gone
            self._call(ev.set)

    async def wait(self, timeout: float) -> None:
        ev = anyio.Event()
        self._event = ev
        if self.pending():
            return
        with anyio.move_on_after(timeout):
            await ev.wait()


class Hub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[str, set[Subscriber]] = {}

    def subscribe(self, account: str) -> Subscriber:
        sub = Subscriber(account)
        with self._lock:
            self._subs.setdefault(account, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._lock:
            self._subs.get(sub.account, set()).discard(sub)

    def notify_state(self, accounts: set[str]) -> None:
        with self._lock:
            subs = [s for a in accounts for s in self._subs.get(a, ())]
        for s in subs:
            s.dirty = True
            s.wake()

    def publish(self, account: str, event: str, data: dict[str, Any]) -> None:
        with self._lock:
            subs = list(self._subs.get(account, ()))
        for s in subs:
            s.queue.append((event, data))
            s.wake()

    def close(self) -> None:
        with self._lock:
            subs = [s for group in self._subs.values() for s in group]
        for s in subs:
            s.closed = True
            s.wake()


class PushSender:
    """Delivers PushVerification / StateChange / ChatMessagePush to loopback URLs."""

    enabled = True

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[str, dict[str, Any], str] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.sent: list[tuple[str, dict[str, Any]]] = []
        # StateChange delivery: each account's states as last dispatched, and per
        # (subscription, account) the Message state a ChatMessagePush already carried.
        self._state_lock = threading.Lock()
        self._states: dict[str, dict[str, str]] = {}
        self._covered: dict[tuple[str, str], str] = {}

    # --- StateChange for every type and every change (RFC 8620 §7.2) --------------------

    def prime(self, core: Core) -> None:
        """Remember every account's current states: later changes are reported against them."""
        with self._state_lock:
            for acc in list(core.users_by_account):
                self._states[acc] = states(core, acc)

    def state_changed(self, core: Core, accounts: set[str]) -> None:
        """After a commit: POST a StateChange with the types that changed in ``accounts``
        to each live subscription of their owners, filtered by its ``types``. A Message
        state already carried by a ChatMessagePush to that subscription is left out."""
        subscribed = {s.get("_user") for s in core.store.all(GLOBAL, "PushSubscription")}
        with self._state_lock:
            for acc in sorted(accounts):
                user = core.users_by_account.get(acc)
                if user is None or user not in subscribed:
                    continue  # nobody to tell: skip the state reads (a big channel's fan-out)
                now = states(core, acc)
                before = self._states.get(acc, {})
                self._states[acc] = now
                changed = {t: s for t, s in now.items() if before.get(t) != s}
                if not changed:
                    continue
                subs = live_subscriptions(core.store.by_k1(GLOBAL, "PushSubscription", user))
                for sub in subs:
                    types = sub.get("types")
                    mine = {t: s for t, s in changed.items() if types is None or t in types}
                    covered = self._covered.pop((sub["id"], acc), None)
                    if covered is not None and mine.get("Message") == covered:
                        del mine["Message"]
                    if mine:
                        self.post(sub["url"], {"@type": "StateChange", "changed": {acc: mine}})

    def post(self, url: str, payload: dict[str, Any], urgency: str = "normal") -> None:
        """Queue a Web Push POST; ``urgency`` goes out as the RFC 8030 §5.3 header."""
        if not is_loopback_url(url):
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="jmapchat-push", daemon=True)
                self._thread.start()
        self._queue.put((url, payload, urgency))

    def _run(self) -> None:
        with httpx.Client(timeout=5.0) as client:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                url, payload, urgency = item
                try:
                    client.post(url, json=payload, headers={"TTL": "60", "Urgency": urgency})
                    self.sent.append((url, payload))
                except httpx.HTTPError:
                    log.info("push to %s failed", url)

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=10)

    # --- chat push (draft-atwood-jmap-chat-push) ----------------------------------------

    def message_delivered(self, core: Core, accounts: list[str], sender_msg_id: str) -> None:
        self.messages_delivered(core, [(accounts, sender_msg_id)])

    def messages_delivered(self, core: Core, messages: list[tuple[list[str], str]]) -> None:
        """Push each new message (delivered ``accounts``, ``senderMsgId``), in order. An
        account's PushSubscriptions are read once for the whole list."""
        subscriptions: dict[str, list[dict[str, Any]]] = {}
        for accounts, sender_msg_id in messages:
            for acc in accounts:
                if not acc or acc not in core.users_by_account:
                    continue
                user = core.user_of(acc)
                subs = subscriptions.get(acc)
                if subs is None:
                    subs = subscriptions[acc] = core.store.by_k1(GLOBAL, "PushSubscription", user)
                if subs:
                    self._push_message(core, acc, user, subs, sender_msg_id)

    def _push_message(
        self, core: Core, acc: str, user: str, subs: list[dict[str, Any]], sender_msg_id: str
    ) -> None:
        live = live_subscriptions(subs)
        if not live:
            return
        copies = [o for scope, o in core.store.by_k2("Message", sender_msg_id) if scope == acc]
        if not copies:
            return
        msg = copies[0]
        state = str(core.store.modseq(acc, "Message"))
        for sub in live:
            cfg = (sub.get("chatPush") or {}).get(acc)
            if cfg is None:
                continue  # a plain StateChange: state_changed() sends it
            entry = build_entry(core, acc, user, msg, cfg)
            if entry is None:
                continue
            with self._state_lock:
                self._covered[(sub["id"], acc)] = state
            self.post(
                sub["url"],
                {
                    "@type": "ChatMessagePush",
                    "accountId": acc,
                    "state": state,
                    "messages": [project_entry(entry, cfg)],
                },
                payload_urgency(cfg, [entry]),
            )


def live_subscriptions(subs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The subscriptions that may be pushed to now: verified and not past ``expires``."""
    now = time.time()
    out = []
    for s in subs:
        if s.get("verificationCode") is None or s.get("verificationCode") != s.get("_code"):
            continue
        expires = s.get("expires")
        if expires is not None and (epoch_of(expires) or 0) <= now:
            continue
        out.append(s)
    return out


# The push draft's default set for a ChatPushConfig without ``properties``: every
# ChatMessageEntry property but the chat name, the space id and the space name.
DEFAULT_PROPS = tuple(
    p for p in get_args(ChatMessageEntryProperty) if p not in ("chatName", "spaceId", "spaceName")
)


def payload_urgency(cfg: dict[str, Any], entries: list[dict[str, Any]]) -> str:
    """Push draft §Urgency: ``mentionUrgency`` for the whole payload when any entry has a
    direct or broadcast mention, else ``urgency`` (default ``"normal"``). ``entries`` are
    the full entries, before the ``properties`` filter."""
    mention = cfg.get("mentionUrgency")
    if mention and any(e.get("hasMention") or e.get("mentionScopes") for e in entries):
        return str(mention)
    return str(cfg.get("urgency") or "normal")


def project_entry(entry: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    """Keep only the ChatPushConfig's ``properties`` (the draft's default set if absent)."""
    props = cfg.get("properties") or DEFAULT_PROPS
    return {k: v for k, v in entry.items() if k in props}


# `@here`: the owner's own PresenceStatus.presence (default "online") is one of these.
# "busy" (do not disturb), "invisible" and "offline" are not targeted.
HERE_PRESENCE = frozenset({"online", "away"})
# `@admins` in a channel: the owner's Space-level permissions (the @everyone role plus their
# roles; channel overrides do not count) include one of these — the same notion of
# "administrator" as the Space's last-administrator rule.
ADMIN_PERMISSIONS = frozenset({"manage_members", "manage_space"})


def targeted_scopes(
    core: Core, acc: str, user: str, chat: dict[str, Any], scopes: set[Any]
) -> list[str]:
    """The broadcast ``scopes`` (from the message) whose recipient set, resolved now on
    this server, contains ``user`` (owner of account ``acc``), sorted.

    ``everyone``: every member of the chat. ``here``: members whose presence is in
    `HERE_PRESENCE`. ``admins``: group members with role ``admin``; channel members whose
    Space permissions include one of `ADMIN_PERMISSIONS`; nobody in a direct chat.
    Someone who is no longer a member of the chat is targeted by no scope."""
    kind = chat["kind"]
    admin = False
    if kind == "channel":
        space = core.store.get(GLOBAL, "Space", chat.get("spaceId") or "")
        if space is None or member_of(space, user) is None:
            return []
        admin = bool(ADMIN_PERMISSIONS & space_perms(space, user)) if "admins" in scopes else False
    elif kind == "group":
        gdef = core.store.get(GLOBAL, "_Group", chat["id"])
        me = next((m for m in (gdef or {}).get("members", []) if m.get("id") == user), None)
        if me is None:
            return []
        admin = me.get("role") == "admin"
    out = []
    if "everyone" in scopes:
        out.append("everyone")
    if "here" in scopes:
        objs = core.store.all(acc, "PresenceStatus")
        presence = (objs[0].get("presence") if objs else None) or "online"
        if presence in HERE_PRESENCE:
            out.append("here")
    if "admins" in scopes and admin:
        out.append("admins")
    return sorted(out)


def build_entry(
    core: Core, acc: str, user: str, msg: dict[str, Any], cfg: dict[str, Any]
) -> dict[str, Any] | None:
    """The full ChatMessageEntry for ``msg`` (every property), or None when ``cfg``
    filters it out (kind, chatIds, mute)."""
    chat = core.store.get(acc, "Chat", msg["chatId"])
    if chat is None:
        return None
    if cfg.get("kinds") and chat["kind"] not in cfg["kinds"]:
        return None
    if cfg.get("chatIds") and chat["id"] not in cfg["chatIds"]:
        return None
    scopes = {m.get("scope") for m in msg.get("broadcastMentions") or []}
    if msg.get("bodyType") == RICH:
        try:
            doc = orjson.loads(msg["body"])
            scopes |= {
                s.get("scope")
                for s in doc.get("spans", [])
                if isinstance(s, dict) and s.get("type") == "broadcast"
            }
        except (orjson.JSONDecodeError, AttributeError):
            pass
    scopes.discard(None)
    # Only the scopes whose delivery-time recipient set holds this owner count: they alone
    # lift a mute, elevate urgency and appear in mentionScopes (push draft
    # §ChatMessageEntry.mentionScopes, chat draft §Chat.muted).
    targeted = targeted_scopes(core, acc, user, chat, scopes) if scopes else []
    muted = chat.get("muted") and (
        chat.get("muteUntil") is None or (epoch_of(chat["muteUntil"]) or 0) > time.time()
    )
    if muted and not targeted:
        return None
    sender = msg["senderId"]
    contact = core.store.get(acc, "ChatContact", sender) or {}
    display = contact.get("displayName") or contact.get("login") or sender
    entry: dict[str, Any] = {
        "messageId": msg["id"],
        "chatId": chat["id"],
        "chatKind": chat["kind"],
        "senderId": sender,
        "sentAt": msg["sentAt"],
        "hasMention": mentions_user(msg, user),
        "mentionScopes": targeted,
    }
    if chat["kind"] != "direct":
        entry["chatName"] = chat.get("name")
    if chat["kind"] == "channel":
        space = core.store.get(GLOBAL, "Space", chat["spaceId"]) or {}
        entry["spaceId"] = chat["spaceId"]
        entry["spaceName"] = space.get("name")
        nick = next((m.get("nick") for m in space.get("members", []) if m["id"] == sender), None)
        display = nick or display
    entry["senderDisplayName"] = display
    encrypted = msg.get("bodyType") not in PLAINTEXT_TYPES
    entry["encrypted"] = encrypted
    if not encrypted:
        text = msg.get("body") or ""
        if msg.get("bodyType") == RICH:
            try:
                text = "".join(s.get("text", "") for s in orjson.loads(text).get("spans", []))
            except (orjson.JSONDecodeError, AttributeError):
                text = ""
        raw = text.encode()[: core.chat_push.max_snippet_bytes]
        entry["bodySnippet"] = raw.decode("utf-8", "ignore")
    return entry
