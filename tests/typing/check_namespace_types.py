"""Checked by mypy --strict (see test_typing.py), never executed: the namespace types.

Every ``# type: ignore[...]`` line is a misuse that must stay a type error
(mypy runs with --warn-unused-ignores, so each one is proven necessary).
"""

from __future__ import annotations

from typing import Any, assert_type

from jmapchat import (
    Call,
    ChangesCall,
    GetCall,
    QueryCall,
    QueryChangesCall,
    Ref,
    Request,
    SetCall,
)
from jmapchat._core import (
    ChangesResponse,
    Comparator,
    CreationRef,
    EchoResponse,
    GetResponse,
    InvokeResponse,
    QueryResponse,
    SetResponse,
)
from jmapchat._namespaces.message import MessageReactionCall, MessageSendCall
from jmapchat.models import (
    BlobConvertResponse,
    BlobLookupResponse,
    Chat,
    ChatContact,
    ChatContactUpdate,
    ChatCreate,
    ChatTypingResponse,
    CustomEmoji,
    DirectChatResponse,
    Message,
    MessageCreate,
    MessageFilter,
    PresenceStatus,
    PushSubscription,
    PushSubscriptionGetResponse,
    PushSubscriptionSetResponse,
    Quota,
    ReadPosition,
    Space,
    SpaceBan,
    SpaceInvite,
    SpaceJoin,
    SpaceJoinResponse,
    SpaceUpdate,
)


def check_results(req: Request) -> None:
    q = req.message.query(filter=MessageFilter(chat_id="C1"), sort=["receivedAt"])
    assert_type(q, QueryCall)
    assert_type(q.result, QueryResponse)

    g = req.message.get(ids=q.ids, properties=["id", "body", "senderId"])
    assert_type(g, GetCall[Message])
    assert_type(g.result, GetResponse[Message])
    assert_type(g.result.list, list[Message])
    assert_type(g.result.list[0].sender_id, str | None)

    s = req.message.set(create={"m1": MessageCreate(chat_id="C1", body="hi")})
    assert_type(s, SetCall[Message])
    assert_type(s.result, SetResponse[Message])
    assert_type(s.created_id("m1"), CreationRef)

    c = req.message.changes(since_state="s1")
    assert_type(c, ChangesCall)
    assert_type(c.result, ChangesResponse)
    assert_type(
        req.message.query_changes("q1", filter=MessageFilter(chat_id="C")), QueryChangesCall
    )

    assert_type(req.chat_contact.get(["a"]).result.list, list[ChatContact])
    assert_type(req.chat.get(["C1"]), GetCall[Chat])
    assert_type(req.space.get(["S1"]), GetCall[Space])
    assert_type(req.space_invite.get(["I1"]), GetCall[SpaceInvite])
    assert_type(req.custom_emoji.get(None), GetCall[CustomEmoji])
    assert_type(req.space_ban.get(["B1"]), GetCall[SpaceBan])
    assert_type(req.read_position.get(None), GetCall[ReadPosition])
    assert_type(req.presence_status.get(None), GetCall[PresenceStatus])
    assert_type(req.quota.get(None), GetCall[Quota])

    assert_type(req.chat.typing("C1", typing=True), Call[ChatTypingResponse])
    assert_type(req.space.join(SpaceJoin.by_invite("code")), Call[SpaceJoinResponse])
    assert_type(req.space.join(invite_code="code"), Call[SpaceJoinResponse])
    assert_type(req.space.join(space_id="S1"), Call[SpaceJoinResponse])

    p = req.push_subscription.get()
    assert_type(p, Call[PushSubscriptionGetResponse])
    assert_type(p.result.list, list[PushSubscription])
    assert_type(req.push_subscription.set(destroy=["P1"]), Call[PushSubscriptionSetResponse])

    assert_type(req.blob.lookup(["B1"]), Call[BlobLookupResponse])
    assert_type(req.blob.convert("B1", "image/webp"), Call[BlobConvertResponse])
    assert_type(req.core.echo({"a": 1}), Call[EchoResponse])

    sent = req.message.send("C1", "hello")
    assert_type(sent, MessageSendCall)
    assert_type(sent.message_id, CreationRef)
    assert_type(sent.result, SetResponse[Message])
    reacted = req.message.react(sent.message_id, "👍")
    assert_type(reacted, MessageReactionCall)
    assert_type(reacted.reaction_id, str)
    assert_type(req.message.mark_read(["M1"]), SetCall[Message])
    assert_type(req.message.delete(["M1"], for_all=True), SetCall[Message])
    assert_type(req.read_position.set_last_read("RP1", "M1"), SetCall[ReadPosition])
    assert_type(req.chat.comparator("lastMessageAt", ascending=False), Comparator)


def check_new_user_surface(req: Request) -> None:
    # get() defaults to all where the spec allows it; Message/get needs ids.
    assert_type(req.chat.get(), GetCall[Chat])
    assert_type(req.presence_status.get(), GetCall[PresenceStatus])
    req.message.get()  # type: ignore[call-arg]
    # get-or-create a direct chat: the id either way.
    assert_type(req.chat.open_direct("bob").result, DirectChatResponse)
    assert_type(req.chat.open_direct("bob").result.chat_id, str)
    # invoke: a permissive default, or any type pydantic validates.
    assert_type(req.invoke("Foo/bar", {}), Call[InvokeResponse])
    assert_type(req.invoke("Foo/bar", {}, response=dict).result, dict[Any, Any])
    assert_type(req.invoke("Foo/bar", {}, response=Chat).result, Chat)
    # MessageFilter extensions
    MessageFilter(chat_id="C", sender_id="self", after="2026-01-01T00:00:00Z", before="x")


def check_references(req: Request) -> None:
    chats = req.chat.query()
    got = req.chat.get(chats.ids, properties=["id", "name"])
    assert_type(got.list, Ref[list[Chat]])
    assert_type(got.list.each.id, Ref[Any])
    made = req.chat.set(create={"g": ChatCreate.group("Team", ["bob"])})
    req.message.query(filter=MessageFilter(chat_id=made.created_id("g")))


def check_misuse(req: Request) -> None:
    # Operations the spec forbids do not exist.
    req.chat_contact.set(create={"x": ChatContactUpdate()})  # type: ignore[call-arg]
    req.space_invite.set(update={"I1": {}})  # type: ignore[call-arg]
    req.read_position.set(destroy=["RP1"])  # type: ignore[call-arg]
    req.presence_status.set(create={})  # type: ignore[call-arg]
    req.space_ban.query()  # type: ignore[attr-defined]
    req.space_invite.query()  # type: ignore[attr-defined]
    req.quota.set(update={})  # type: ignore[attr-defined]
    req.push_subscription.changes("s")  # type: ignore[attr-defined]
    req.push_subscription.get(account_id="A1")  # type: ignore[call-arg]

    # Wrong inputs for a type.
    req.space_invite.set(create={"i": ChatCreate.direct("bob")})  # type: ignore[dict-item]
    req.space.set(update={"S1": ChatContactUpdate()})  # type: ignore[dict-item]
    req.space.set(create={"s": SpaceUpdate()})  # type: ignore[dict-item]

    # Wrong property and sort names.
    req.message.get(["M1"], properties=["colour"])  # type: ignore[list-item]
    req.chat.get(["C1"], properties=["body"])  # type: ignore[list-item]
    req.space.query(sort=["memberCount"])  # type: ignore[list-item]
    req.chat.comparator("name")  # type: ignore[arg-type]
    req.message.query(filter=MessageFilter(chat_id="C"), sort=["sentAt"])  # type: ignore[list-item]

    # Misused references and arguments.
    q = req.message.query(filter=MessageFilter(chat_id="C1"))
    c = req.message.changes("s1")
    req.message.get(ids=c.new_state)  # type: ignore[arg-type]
    req.message.get(ids=q.query_state)  # type: ignore[arg-type]
    req.message.get(ids=None)  # type: ignore[arg-type]
    req.message.query(filter=ChatContactUpdate())  # type: ignore[arg-type]
    req.chat.typing("C1", typing="yes")  # type: ignore[arg-type]

    # Space/join: exactly one of a SpaceJoin, invite_code or space_id.
    req.space.join()  # type: ignore[call-overload]
    req.space.join(invite_code="a", space_id="S1")  # type: ignore[call-overload]
    req.space.join(SpaceJoin.by_invite("a"), invite_code="a")  # type: ignore[call-overload]
