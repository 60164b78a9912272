"""A minimal chat data type wired through the generic standard methods.

Proves the generic namespace machinery on its own, independent of `jmapchat.models`.
"""

from __future__ import annotations

from typing import Literal

from jmapchat._core import NOT_GIVEN, BaseRequest, Id, JMAPInput, JMAPModel, NotGiven
from jmapchat._core._capabilities import CHAT
from jmapchat._core._standard import (
    ChangesMethods,
    GetMethods,
    QueryChangesMethods,
    QueryMethods,
    SetMethods,
)


class Msg(JMAPModel):
    id: str
    chat_id: str | None = None
    sender_id: str | None = None
    body: str | None = None
    member_ids: list[str] | None = None


MsgProperty = Literal["id", "chatId", "senderId", "body", "memberIds"]


class MsgCreate(JMAPInput):
    chat_id: Id
    body: str
    body_type: str = "text/plain"
    reply_to: Id | NotGiven = NOT_GIVEN


class MsgUpdate(JMAPInput):
    body: str | NotGiven = NOT_GIVEN
    read_at: str | None | NotGiven = NOT_GIVEN


class MsgFilter(JMAPInput):
    chat_id: Id | NotGiven = NOT_GIVEN
    has_mention: bool | NotGiven = NOT_GIVEN


class MsgMethods(
    GetMethods[Msg, MsgProperty],
    ChangesMethods,
    SetMethods[Msg, MsgCreate, MsgUpdate],
    QueryMethods[MsgFilter, str],
    QueryChangesMethods[MsgFilter, str],
):
    type_name = "Message"
    capability = CHAT
    model = Msg


class Req(BaseRequest):
    @property
    def msg(self) -> MsgMethods:
        return MsgMethods(self)
