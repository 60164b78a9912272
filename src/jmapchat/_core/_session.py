"""The JMAP Session resource (RFC 8620 §2): capabilities, accounts, limits, URL templates."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cached_property
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from pydantic import Field, ValidationError

from ._capabilities import CHAT, CORE, WEBSOCKET
from ._errors import AccountNotFound, CapabilityNotSupported, RemoteProtocolError
from ._json import loads
from ._model import JMAPModel

__all__ = [
    "Account",
    "ChatAccountCapability",
    "CoreCapability",
    "Session",
    "SessionURLError",
    "expand_template",
    "redact_url",
]


class CoreCapability(JMAPModel):
    """``urn:ietf:params:jmap:core`` limits. Defaults are RFC 8620's suggested minimums."""

    max_size_upload: int = 50_000_000
    max_concurrent_upload: int = 4
    max_size_request: int = 10_000_000
    max_concurrent_requests: int = 4
    max_calls_in_request: int = 16
    max_objects_in_get: int = 500
    max_objects_in_set: int = 500
    collation_algorithms: list[str] = Field(default_factory=list)


class ChatAccountCapability(JMAPModel):
    """Account-level ``urn:ietf:params:jmap:chat`` value (limits and features)."""

    max_body_bytes: int | None = Field(None, description="Limit on the body's UTF-8 byte length.")
    max_attachment_bytes: int | None = None
    max_attachments_per_message: int | None = None
    supported_body_types: list[str] = Field(
        default_factory=lambda: ["text/plain"], description="Always includes text/plain."
    )
    supports_threads: bool = False
    role: str | None = Field(None, description='Federation: "owner" or "peer".')


class Account(JMAPModel):
    name: str = ""
    is_personal: bool = True
    is_read_only: bool = False
    account_capabilities: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @property
    def chat(self) -> ChatAccountCapability | None:
        raw = self.account_capabilities.get(CHAT)
        return None if raw is None else ChatAccountCapability.model_validate(raw)


_VAR = re.compile(r"\{([A-Za-z0-9_]+)\}")


def expand_template(template: str, variables: Mapping[str, str]) -> str:
    """RFC 6570 level-1 expansion: ``{var}`` → percent-encoded value (unreserved kept).

    A variable missing from ``variables`` expands to the empty string, as RFC 6570 says.
    """

    def sub(m: re.Match[str]) -> str:
        return quote(str(variables.get(m.group(1), "")), safe="-._~")

    return _VAR.sub(sub, template)


class Session(JMAPModel):
    """The Session object. Unknown capabilities and fields are kept."""

    capabilities: dict[str, dict[str, Any]]
    accounts: dict[str, Account]
    primary_accounts: dict[str, str] = Field(default_factory=dict)
    username: str = ""
    api_url: str
    download_url: str = ""
    upload_url: str = ""
    event_source_url: str = ""
    state: str = ""
    owner_user_id: str | None = None
    """JMAP Chat: the owner's ChatContact id (MUST with federation)."""
    owner_login: str | None = None
    owner_endpoints: list[dict[str, Any]] | None = None

    @classmethod
    def parse(
        cls, body: bytes | str | Mapping[str, Any], *, base_url: str | None = None
    ) -> Session:
        """Parse a Session, resolving relative URLs against ``base_url`` (the session URL)."""
        doc = loads(body) if isinstance(body, bytes | str) else dict(body)
        if not isinstance(doc, dict):
            raise RemoteProtocolError("session resource is not a JSON object")
        try:
            session = cls.model_validate(doc)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = "/".join(str(p) for p in first.get("loc", ()))
            raise RemoteProtocolError(
                f"malformed session resource at {where or '<root>'!r}: {first.get('msg')}"
            ) from None
        if CORE not in session.capabilities:
            raise RemoteProtocolError(f"session does not advertise {CORE}")
        for field in ("api_url", "download_url", "upload_url", "event_source_url"):
            value = getattr(session, field)
            if value:
                name = "".join(p if i == 0 else p.title() for i, p in enumerate(field.split("_")))
                setattr(session, field, _usable_url(name, value, base_url))
        ws = session.capabilities.get(WEBSOCKET)
        if base_url and isinstance(ws, dict) and isinstance(ws.get("url"), str):
            ws["url"] = _resolve_websocket_url(ws["url"], base_url)
        return session

    @cached_property
    def core(self) -> CoreCapability:
        """The core limits (``maxCallsInRequest`` …), with RFC defaults for missing ones.

        Read on every send; validated once per session (a refetch is a new `Session`)."""
        try:
            return CoreCapability.model_validate(self.capabilities.get(CORE, {}))
        except ValidationError as exc:
            raise RemoteProtocolError(f"malformed {CORE} capability: {exc}") from None

    def supports(self, capability: str) -> bool:
        """Whether the server advertises ``capability`` (a URI)."""
        return capability in self.capabilities

    def require(self, capability: str) -> None:
        """Raise `CapabilityNotSupported` unless the server advertises ``capability``."""
        if capability not in self.capabilities:
            raise CapabilityNotSupported(
                f"server does not support {capability}", capability=capability
            )

    def primary_account(self, capability: str = CHAT) -> str:
        """The account id to use for ``capability`` (``primaryAccounts``, else the only one)."""
        self.require(capability)
        account_id = self.primary_accounts.get(capability)
        if account_id is None:
            candidates = [
                aid for aid, acc in self.accounts.items() if capability in acc.account_capabilities
            ]
            if len(candidates) == 1:
                account_id = candidates[0]
        if account_id is None or account_id not in self.accounts:
            raise AccountNotFound(f"the session has no primary account for {capability}")
        return account_id

    def chat_capability(self, account_id: str) -> ChatAccountCapability:
        """The JMAP Chat account capability of ``account_id`` (limits such as ``maxBodyBytes``);
        raises `AccountNotFound` or `CapabilityNotSupported`.
        """
        account = self.accounts.get(account_id)
        if account is None:
            raise AccountNotFound(f"no account {account_id!r} in the session")
        chat = account.chat
        if chat is None:
            raise CapabilityNotSupported(
                f"account {account_id!r} does not support {CHAT}", capability=CHAT
            )
        return chat

    def upload_url_for(self, account_id: str) -> str:
        """The blob upload URL for ``account_id`` (the session's ``uploadUrl`` template,
        expanded).
        """
        return expand_template(self.upload_url, {"accountId": account_id})

    def download_url_for(self, account_id: str, blob_id: str, *, type: str, name: str) -> str:
        """The download URL of a blob (the session's ``downloadUrl`` template, expanded)."""
        return expand_template(
            self.download_url,
            {"accountId": account_id, "blobId": blob_id, "type": type, "name": name},
        )

    def event_source_url_for(
        self, types: str = "*", *, closeafter: str = "no", ping: int = 0
    ) -> str:
        """The push EventSource URL for the data ``types`` (``*``: all), per RFC 8620 §7.3.

        A session without one raises `CapabilityNotSupported` (callers fall back to polling).
        """
        if not self.event_source_url:
            raise CapabilityNotSupported(
                "the server's session has no eventSourceUrl: it does not push over EventSource",
                capability=CORE,
            )
        return expand_template(
            self.event_source_url, {"types": types, "closeafter": closeafter, "ping": str(ping)}
        )


_USERINFO_PASSWORD = re.compile(r"(//[^/?#@:]*):[^/?#@]*@")


def redact_url(url: str) -> str:
    """``url`` with the password of its userinfo (``//user:PASS@host``) shown as ``***``."""
    return _USERINFO_PASSWORD.sub(r"\1:***@", url) if "@" in url else url


class SessionURLError(RemoteProtocolError):
    """A session document whose URLs are unusable (still a `RemoteProtocolError`).

    Its own class so the client does not add its "not a JMAP session" hint: the document
    *is* a session, only one of its URLs is broken or hostile."""


def _resolve_websocket_url(value: str, base_url: str) -> str:
    """The WebSocket capability's ``url`` resolved against the session URL like the other
    session URLs (a relative ``/jmap/ws/`` takes the session's host, ``http`` → ``ws``,
    ``https`` → ``wss``). An absolute or unparsable one is left for `websocket_url` to
    check when a WebSocket is wanted: a client that never opens one must not fail."""
    try:
        if not value or urlsplit(value).scheme:
            return value
        url = urljoin(base_url, value)
    except ValueError:
        return value
    scheme, sep, rest = url.partition("://")
    ws = {"http": "ws", "https": "wss"}.get(scheme.lower())
    return f"{ws}{sep}{rest}" if ws and sep else value


def _usable_url(
    name: str,
    value: str,
    base_url: str | None,
    *,
    absolute: bool = False,
    schemes: tuple[str, ...] = ("http", "https"),
    kind: str = "http(s)",
) -> str:
    """Session URL ``name`` resolved against ``base_url`` and checked, or
    `RemoteProtocolError`.

    A hostile or broken session document (``\\x00`` in a URL, ``http://[::1``,
    ``mailto:``, port 99999) is refused here, with a typed error, instead of failing
    deep inside the HTTP library on the first request. ``absolute``: a relative URL is
    refused too; ``schemes`` are the ones allowed, ``kind`` names them in the error.
    """
    shown = redact_url(value)[:200]
    if any(ord(c) < 0x21 or 0x7F <= ord(c) < 0xA0 for c in value):
        raise SessionURLError(f"session {name} contains a space or control character: {shown!r}")
    try:
        url = urljoin(base_url, value) if base_url else value
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError when out of range
    except ValueError as exc:
        raise SessionURLError(f"session {name} is not a usable URL ({exc}): {shown!r}") from None
    if (base_url or parts.scheme or absolute) and (
        parts.scheme not in schemes or not parts.hostname
    ):
        raise SessionURLError(f"session {name} must be an {kind} URL with a host: {shown!r}")
    return url
