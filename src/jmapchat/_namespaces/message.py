"""``req.message``: Message/get, /changes, /set, /query, /queryChanges, plus one-call
conveniences for bots and bridges (``send``, ``react``, ``unreact``, ``edit``,
``mark_read``, ``delete``), each a single ``Message/set`` through the same builder.
The conveniences expect every object they name to succeed: their ``.result`` raises
`SetErrors` otherwise (the generic ``set`` returns failures as data).

Guards (raised as `LocalProtocolError` before anything is added to the request):

- ``get(None)``: fetching every Message is never allowed (use ``query`` + ``get``);
- ``query`` / ``query_changes`` without ``chatId`` and without ``hasMention: true``
  in the filter (directly or inside an ``AND``): servers answer ``unsupportedFilter``;
- ``destroy=[]`` and empty id lists for the conveniences;
- (`InvalidInput`) what the account's chat capability rules out, when the request knows
  it (``client.request()``): a body over ``maxBodyBytes``, too many attachments, an
  unsupported ``bodyType``; and date strings that are not UTCDates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from jmapchat._core import (
    CHAT,
    NOT_GIVEN,
    ChangesMethods,
    CreationRef,
    FilterOperator,
    GetCall,
    GetResponse,
    Id,
    IdsArg,
    InvalidInput,
    JMAPModel,
    LocalProtocolError,
    NotGiven,
    Ref,
    SetCall,
    SetMethods,
    SetResponse,
    parse_utc_date,
)
from jmapchat.models import (
    Attachment,
    BroadcastMention,
    Mention,
    Message,
    MessageCreate,
    MessageFilter,
    MessageProperty,
    MessageSortProperty,
    MessageText,
    MessageUpdate,
    ReactionInput,
    format_utc_date,
    utc_now,
)
from jmapchat.models import ids as _idgen
from jmapchat.models._common import utc_date_problem
from jmapchat.models.mention import utf8_len

from ._base import (
    QueryChangesMethods,
    QueryMethods,
    check_ids,
    expect_success,
    require_text,
)

__all__ = ["MessageMethods", "MessageReactionCall", "MessageSendCall"]

DateArg = str | datetime


class MessageSendCall(SetCall[Message]):
    """The ``Message/set`` of `MessageMethods.send`: one create under `creation_key`."""

    __slots__ = ()

    @property
    def creation_key(self) -> str:
        """The creation id the message was created under (a ULID by default)."""
        return self.create_keys[0]

    @property
    def message_id(self) -> CreationRef:
        """``"#<key>"``: the new message's id, for later calls in the same request."""
        return self.created_id(self.creation_key)

    @property
    def created(self) -> Ref[Any]:
        """A result reference to ``/created/<key>`` (e.g. ``.created.id``)."""
        return self.created_ref(self.creation_key)


class MessageReactionCall(SetCall[Message]):
    """The ``Message/set`` of `MessageMethods.react`; keeps the reaction id it used."""

    __slots__ = ()

    @property
    def reaction_id(self) -> str:
        """The ``senderReactionId`` (ULID) the reaction was added under; pass it to
        ``unreact`` to take the reaction back."""
        update = self.args["update"]
        patch = next(iter(update.values()))
        return next(iter(patch.add_reactions))  # type: ignore[no-any-return]


def _date(value: DateArg | None, argument: str) -> str:
    if value is None:
        return utc_now()
    if isinstance(value, datetime):
        return format_utc_date(value)
    if parse_utc_date(value) is None:
        raise InvalidInput(f"Message/set: {argument}: {utc_date_problem(value)}")
    return value


def _where(op: str, key: str) -> str:
    return f"{op} {key!r}"


def _is_scoped(flt: Any) -> bool:
    """True if a Message/query filter names a chat or asks for ``hasMention: true``.

    Mirrors what servers accept: a plain condition, or an ``AND`` with such an operand
    (``OR`` and ``NOT`` do not scope the query).
    """
    if isinstance(flt, FilterOperator):
        return flt.operator == "AND" and any(_is_scoped(c) for c in flt.conditions)
    if isinstance(flt, MessageFilter):
        return not isinstance(flt.chat_id, NotGiven) or flt.has_mention is True
    if isinstance(flt, JMAPModel):
        flt = flt.to_wire()
    if isinstance(flt, Mapping):
        if "operator" in flt:
            return flt["operator"] == "AND" and any(
                _is_scoped(c) for c in flt.get("conditions") or ()
            )
        return bool(flt.get("chatId")) or flt.get("hasMention") is True
    return False


def _check_scoped(flt: Any, method: str) -> None:
    if not _is_scoped(flt):
        raise LocalProtocolError(
            f"{method}: the filter needs chat_id (or has_mention=True), directly or inside "
            "an AND; servers refuse other Message queries with unsupportedFilter "
            "(e.g. filter=MessageFilter(chat_id=...))"
        )


class MessageMethods(
    ChangesMethods,
    SetMethods[Message, MessageCreate, MessageUpdate],
    QueryMethods[MessageFilter, MessageSortProperty],
    QueryChangesMethods[MessageFilter, MessageSortProperty],
):
    """Methods of the Message type (``urn:ietf:params:jmap:chat``).

    ``query``/``query_changes`` filters must carry ``chat_id`` (or ``has_mention=True``),
    directly or inside an ``AND``. Default order: ``receivedAt`` ascending within a chat,
    descending without.
    """

    type_name = "Message"
    capability = CHAT
    model = Message

    # --- standard methods ------------------------------------------------------------

    def get(
        self,
        ids: IdsArg,
        *,
        properties: Sequence[MessageProperty] | None | NotGiven = NOT_GIVEN,
        account_id: str | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
    ) -> GetCall[Message]:
        """``Message/get``: the messages with ``ids`` (a list or a reference such as
        ``query.ids``), optionally only ``properties``. ``ids=None`` is refused."""
        if ids is None:
            raise LocalProtocolError(
                "Message/get: ids=None would fetch every Message of the account; "
                "pass ids (e.g. ids=req.message.query(filter=...).ids)"
            )
        if not isinstance(ids, Ref):
            if isinstance(ids, str) or not isinstance(ids, Sequence):
                raise LocalProtocolError("Message/get: ids must be a list of ids or a reference")
            ids = list(ids)
        props = (
            properties
            if properties is None or isinstance(properties, NotGiven)
            else list(properties)
        )
        args = self._args(account_id, ids=ids, properties=props)
        return self._add(GetCall, "get", args, GetResponse[Message], call_id)

    def _check_filter(self, method: str, filter: Any) -> None:
        """``Message/query`` and ``/queryChanges`` need ``chat_id`` (or ``has_mention=True``)."""
        _check_scoped(filter, method)

    def _set(self, **kw: Any) -> SetCall[Any]:
        if self._request.chat_limits is not None:
            check = self._message_checker()
            for op in ("create", "update"):
                objects = kw.get(op, NOT_GIVEN)
                if isinstance(objects, Mapping):
                    for key, obj in objects.items():
                        check(obj, op, key)
        return super()._set(**kw)

    def _check_message(self, obj: Any, op: str, key: str) -> None:
        if self._request.chat_limits is not None:
            self._message_checker()(obj, op, key)

    def _message_checker(self) -> Callable[[Any, str, str], None]:
        """Refuse what the account's chat capability already rules out (when the session
        told us): a body over ``maxBodyBytes``, more attachments than
        ``maxAttachmentsPerMessage``, a ``bodyType`` not in ``supportedBodyTypes``."""
        limits = self._request.chat_limits
        assert limits is not None
        cap = limits.max_body_bytes
        most = limits.max_attachments_per_message
        types = (
            limits.supported_body_types
            if "supported_body_types" in limits.model_fields_set
            else None
        )

        def check(obj: Any, op: str, key: str) -> None:
            if isinstance(obj, JMAPModel):  # MessageCreate / MessageUpdate: fields by name
                fields = obj.__dict__
                body = fields.get("body")
                attachments = fields.get("attachments")
                body_type = fields.get("body_type")
            elif isinstance(obj, Mapping):  # a raw wire patch or create
                body = obj.get("body")
                attachments = obj.get("attachments")
                body_type = obj.get("bodyType")
            else:
                return
            # a str of n characters is at most 4n UTF-8 bytes: most bodies skip the encode
            if cap is not None and isinstance(body, str) and len(body) * 4 > cap:
                size = utf8_len(body)
                if size > cap:
                    raise InvalidInput(
                        f"Message/set: {_where(op, key)}: body is {size:,} UTF-8 bytes; "
                        f"the account's maxBodyBytes is {cap:,}"
                    )
            if (
                most is not None
                and isinstance(attachments, list | tuple)
                and len(attachments) > most
            ):
                raise InvalidInput(
                    f"Message/set: {_where(op, key)}: {len(attachments)} attachments; "
                    f"the account's maxAttachmentsPerMessage is {most}"
                )
            if types is not None and isinstance(body_type, str) and body_type not in types:
                raise InvalidInput(
                    f"Message/set: {_where(op, key)}: bodyType {body_type!r} is not one "
                    f"of the account's supportedBodyTypes {types}"
                )

        return check

    # --- conveniences (each one Message/set) -----------------------------------------

    def send(
        self,
        chat_id: Id,
        body: str | MessageText,
        *,
        body_type: str | NotGiven = NOT_GIVEN,
        mentions: Sequence[Mention] | NotGiven = NOT_GIVEN,
        broadcast_mentions: Sequence[BroadcastMention] | NotGiven = NOT_GIVEN,
        attachments: Sequence[Attachment] | NotGiven = NOT_GIVEN,
        reply_to: Id | NotGiven = NOT_GIVEN,
        thread_root_id: Id | NotGiven = NOT_GIVEN,
        sent_at: DateArg | NotGiven = NOT_GIVEN,
        creation_id: str | None = None,
        if_in_state: str | NotGiven = NOT_GIVEN,
        account_id: str | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
    ) -> MessageSendCall:
        """Post a message: a ``Message/set`` create keyed by a fresh ULID creation id.

        ``body`` may be a `MessageText` (its mentions come along). ``body_type``
        defaults to ``text/plain``, ``sent_at`` to now. The returned call's
        ``message_id`` is ``"#<key>"`` for later calls; ``creation_key`` is the key.
        """
        require_text(chat_id, "Message/set", "chat_id")
        fields: dict[str, Any] = {}
        if isinstance(body, MessageText):
            if body.mentions:
                fields["mentions"] = list(body.mentions)
            if body.broadcast_mentions:
                fields["broadcast_mentions"] = list(body.broadcast_mentions)
            body = body.body
        for name, value in (
            ("body_type", body_type),
            ("mentions", mentions),
            ("broadcast_mentions", broadcast_mentions),
            ("attachments", attachments),
            ("reply_to", reply_to),
            ("thread_root_id", thread_root_id),
        ):
            if not isinstance(value, NotGiven):
                fields[name] = list(value) if isinstance(value, list | tuple) else value
        if not isinstance(sent_at, NotGiven):
            fields["sent_at"] = _date(sent_at, "sent_at")
        create = MessageCreate(chat_id=chat_id, body=body, **fields)
        key = creation_id if creation_id is not None else _idgen.creation_id()
        require_text(key, "Message/set", "creation_id")
        self._check_message(create, "create", key)
        args = self._args(account_id, if_in_state=if_in_state, create={key: create})
        return expect_success(
            self._add(MessageSendCall, "set", args, SetResponse[Message], call_id)
        )

    def react(
        self,
        message_id: Id,
        emoji: str,
        *,
        custom_emoji_id: Id | NotGiven = NOT_GIVEN,
        reaction_id: str | None = None,
        sent_at: DateArg | None = None,
        account_id: str | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
    ) -> MessageReactionCall:
        """Add a reaction: patch ``reactions/<ULID>`` on ``message_id``.

        ``reaction_id`` defaults to a fresh ULID (read it back as
        ``call.reaction_id``); ``emoji`` is the fallback text when ``custom_emoji_id``
        is given.
        """
        require_text(message_id, "Message/set", "message_id")
        rid = reaction_id if reaction_id is not None else _idgen.reaction_id()
        require_text(rid, "Message/set", "reaction_id")
        reaction = ReactionInput(
            emoji=emoji, sent_at=_date(sent_at, "sent_at"), custom_emoji_id=custom_emoji_id
        )
        update = {message_id: MessageUpdate(add_reactions={rid: reaction})}
        args = self._args(account_id, update=update)
        return expect_success(
            self._add(MessageReactionCall, "set", args, SetResponse[Message], call_id)
        )

    def unreact(
        self,
        message_id: Id,
        reaction_id: str,
        *,
        account_id: str | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
    ) -> SetCall[Message]:
        """Remove your reaction ``reaction_id``: patch ``reactions/<id>`` to ``null``."""
        require_text(message_id, "Message/set", "message_id")
        require_text(reaction_id, "Message/set", "reaction_id")
        return expect_success(
            self.set(
                update={message_id: MessageUpdate(remove_reactions=[reaction_id])},
                account_id=account_id,
                call_id=call_id,
            )
        )

    def edit(
        self,
        message_id: Id,
        body: str | MessageText,
        *,
        body_type: str | NotGiven = NOT_GIVEN,
        mentions: Sequence[Mention] | NotGiven = NOT_GIVEN,
        broadcast_mentions: Sequence[BroadcastMention] | NotGiven = NOT_GIVEN,
        if_in_state: str | NotGiven = NOT_GIVEN,
        account_id: str | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
    ) -> SetCall[Message]:
        """Edit your own message: replaces ``body`` and both mention lists.

        Mentions not given are sent as ``[]`` (old offsets would not match the new
        body); pass a `MessageText` to carry new mentions along.
        """
        require_text(message_id, "Message/set", "message_id")
        if isinstance(body, MessageText):
            if isinstance(mentions, NotGiven):
                mentions = body.mentions
            if isinstance(broadcast_mentions, NotGiven):
                broadcast_mentions = body.broadcast_mentions
            body = body.body
        patch = MessageUpdate(
            body=body,
            body_type=body_type,
            mentions=[] if isinstance(mentions, NotGiven) else list(mentions),
            broadcast_mentions=(
                [] if isinstance(broadcast_mentions, NotGiven) else list(broadcast_mentions)
            ),
        )
        return expect_success(
            self.set(
                update={message_id: patch},
                if_in_state=if_in_state,
                account_id=account_id,
                call_id=call_id,
            )
        )

    def mark_read(
        self,
        ids: Sequence[Id],
        *,
        read_at: DateArg | None = None,
        disposition: str | NotGiven = NOT_GIVEN,
        account_id: str | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
    ) -> SetCall[Message]:
        """Mark messages read: update ``readAt`` (default now) and optionally
        ``readDisposition`` on each. For a whole chat, prefer
        ``req.read_position.set_last_read``."""
        checked = check_ids(ids, "Message/set", "ids")
        stamp = _date(read_at, "read_at")
        patch = MessageUpdate(read_at=stamp, read_disposition=disposition)
        return expect_success(
            self.set(update=dict.fromkeys(checked, patch), account_id=account_id, call_id=call_id)
        )

    def delete(
        self,
        ids: Sequence[Id],
        *,
        for_all: bool = False,
        deleted_at: DateArg | None = None,
        account_id: str | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
    ) -> SetCall[Message]:
        """Delete messages the draft's way: update ``deletedAt`` (a tombstone).

        ``for_all=True`` adds ``deletedForAll: true`` (retract for everyone; own
        messages only). For a hard delete use ``set(destroy=ids)``.
        """
        checked = check_ids(ids, "Message/set", "ids")
        patch = MessageUpdate(
            deleted_at=_date(deleted_at, "deleted_at"),
            deleted_for_all=True if for_all else NOT_GIVEN,
        )
        return expect_success(
            self.set(update=dict.fromkeys(checked, patch), account_id=account_id, call_id=call_id)
        )
