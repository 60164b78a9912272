"""Real-time frames: RFC 8887 (JMAP over WebSocket) and draft-atwood-jmap-chat-wss.

Every frame is one JSON object with an ``@type``. Client → server: `WebSocketRequest`,
`WebSocketPushEnable`, `WebSocketPushDisable`, `ChatStreamEnable`, `ChatStreamDisable`.
Server → client: `WebSocketResponse`, `RequestError`, `StateChange` (with ``pushState``),
`ChatTypingEvent`, `ChatPresenceEvent`. `parse_frame` picks the model by ``@type``; an
unknown ``@type`` gives a plain `WebSocketFrame` (to be skipped, never fatal).

The events a client's ``events()`` yields are `StateChange`, `TypingEvent` and
`PresenceEvent` whatever the transport: `ChatTypingEvent` / `ChatPresenceEvent` are
subclasses of the latter two, so code written for one transport works on the other.
"""

from __future__ import annotations

import json
from typing import Any, Literal, TypeAlias

from pydantic import Field, ValidationError

from jmapchat._core import JMAPModel, RemoteProtocolError, RequestRejected, parse_problem

from .push import PresenceEvent, StateChange, TypingEvent

__all__ = [
    "ChatPresenceEvent",
    "ChatStreamDisable",
    "ChatStreamEnable",
    "ChatTypingEvent",
    "EphemeralType",
    "Event",
    "RequestError",
    "WebSocketFrame",
    "WebSocketPushDisable",
    "WebSocketPushEnable",
    "WebSocketRequest",
    "WebSocketResponse",
    "parse_frame",
]

EphemeralType: TypeAlias = Literal["typing", "presence"]

Event: TypeAlias = StateChange | TypingEvent | PresenceEvent
"""What ``client.events()`` yields."""


class WebSocketFrame(JMAPModel):
    """Any frame; ``type_`` is the wire ``@type``. Unknown frames parse as this."""

    type_: str = Field(alias="@type")

    def model_post_init(self, context: Any, /) -> None:
        """Mark ``@type`` as set, so ``to_wire()`` always sends it."""
        self.__pydantic_fields_set__.add("type_")


class WebSocketRequest(WebSocketFrame):
    """An RFC 8620 Request plus ``@type`` and the client-chosen ``id`` (RFC 8887 §4.3.1)."""

    type_: str = Field("Request", alias="@type")
    id: str | None = None
    using: list[str]
    method_calls: list[Any]
    created_ids: dict[str, str] | None = None


class WebSocketResponse(WebSocketFrame):
    """An RFC 8620 Response plus ``requestId`` (the request's ``id``)."""

    type_: str = Field("Response", alias="@type")
    request_id: str | None = None
    method_responses: list[Any]
    session_state: str | None = None
    created_ids: dict[str, str] | None = None


class RequestError(WebSocketFrame):
    """RFC 7807 problem details plus ``requestId`` (RFC 8887 §4.3.4).

    ``requestId`` is absent when the frame could not be read as a request at all (not
    JSON, no ``id``). `to_exception` gives the typed error HTTP would have raised."""

    type_: str = Field("RequestError", alias="@type")
    request_id: str | None = None
    problem_type: str = Field(alias="type")
    status: int | None = None
    detail: str | None = None
    limit: str | None = None

    def to_exception(self) -> RequestRejected:
        """The same `RequestRejected` subclass as for an HTTP problem-details reply."""
        body = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        body.pop("@type", None)
        body.pop("requestId", None)
        exc = parse_problem(json.dumps(body), status=self.status)
        assert exc is not None  # ``type`` is a string, so parse_problem always answers
        return exc


class WebSocketPushEnable(WebSocketFrame):
    """Start `StateChange` pushes: ``data_types`` None means every type; ``push_state``
    (from the last StateChange seen) makes the server report what changed since."""

    type_: str = Field("WebSocketPushEnable", alias="@type")
    data_types: list[str] | None = None
    push_state: str | None = None

    def model_post_init(self, context: Any, /) -> None:
        """Always send ``dataTypes``: ``null`` is meaningful (every type)."""
        super().model_post_init(context)
        self.__pydantic_fields_set__.add("data_types")


class WebSocketPushDisable(WebSocketFrame):
    """Stop `StateChange` pushes on this connection."""

    type_: str = Field("WebSocketPushDisable", alias="@type")


class ChatStreamEnable(WebSocketFrame):
    """Subscribe to ephemeral events (replaces the previous subscription entirely).

    ``chat_ids`` / ``contact_ids`` None means every chat / every contact."""

    type_: str = Field("ChatStreamEnable", alias="@type")
    data_types: list[str]
    chat_ids: list[str] | None = None
    contact_ids: list[str] | None = None

    def model_post_init(self, context: Any, /) -> None:
        """Always send all three fields: ``null`` filters mean "all"."""
        super().model_post_init(context)
        self.__pydantic_fields_set__.update(("data_types", "chat_ids", "contact_ids"))


class ChatStreamDisable(WebSocketFrame):
    """Stop every ephemeral event on this connection."""

    type_: str = Field("ChatStreamDisable", alias="@type")


class ChatTypingEvent(TypingEvent):
    """``ChatTypingEvent`` frame: a `TypingEvent` with its ``@type``."""

    type_: str = Field("ChatTypingEvent", alias="@type")


class ChatPresenceEvent(PresenceEvent):
    """``ChatPresenceEvent`` frame. Over the WebSocket an absent ``statusText`` /
    ``statusEmoji`` means "unchanged" (check ``model_fields_set``); ``None`` clears it."""

    type_: str = Field("ChatPresenceEvent", alias="@type")


_FRAMES: dict[str, type[JMAPModel]] = {
    "Request": WebSocketRequest,
    "Response": WebSocketResponse,
    "RequestError": RequestError,
    "StateChange": StateChange,
    "WebSocketPushEnable": WebSocketPushEnable,
    "WebSocketPushDisable": WebSocketPushDisable,
    "ChatStreamEnable": ChatStreamEnable,
    "ChatStreamDisable": ChatStreamDisable,
    "ChatTypingEvent": ChatTypingEvent,
    "ChatPresenceEvent": ChatPresenceEvent,
}


def parse_frame(data: Any) -> JMAPModel:
    """The frame model for ``data`` (a decoded JSON value) by its ``@type``.

    An unknown ``@type`` gives a plain `WebSocketFrame`; a value that is not an object
    with a string ``@type``, or a known frame with bad fields, raises
    `RemoteProtocolError` (never a bare ``ValidationError``)."""
    if not isinstance(data, dict) or not isinstance(data.get("@type"), str):
        raise RemoteProtocolError("a WebSocket frame must be a JSON object with an @type")
    cls = _FRAMES.get(data["@type"], WebSocketFrame)
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        fields = sorted({".".join(map(str, e["loc"])) for e in exc.errors()})
        raise RemoteProtocolError(
            f"malformed {data['@type']} frame (bad fields: {', '.join(fields)})"
        ) from None
