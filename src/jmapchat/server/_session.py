"""The Session resource the server serves (RFC 8620 §2), built as the client's `Session`
model: one definition of its shape, read by both sides. The values are the server's
configuration (`_config`), themselves the session's capability models."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._core import Account, Session
from ._core_caps import BLOB2, CHAT, CHAT_PUSH, CORE, QUOTA
from ._types.blob import DIGESTS, MAX_DATA_SOURCES

if TYPE_CHECKING:
    from ._context import Core

__all__ = ["session_resource"]

# the types whose blobs Blob/lookup can find (urn:ietf:params:jmap:blob2)
_BLOB_TYPES = ["Message", "CustomEmoji", "Space", "Chat"]


def session_resource(
    core: Core,
    user: str,
    base: str,
    state: str,
    extra_capabilities: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The Session JSON object for ``user``, its URLs under ``base``."""
    acc = core.accounts[user]
    account_capabilities: dict[str, dict[str, Any]] = {
        CORE: {},
        CHAT: core.chat.advertised(),
        CHAT_PUSH: core.chat_push.advertised(),
        QUOTA: {},
        BLOB2: {
            "maxSizeBlobSet": core.limits.max_size_upload,
            "maxDataSources": MAX_DATA_SOURCES,
            "supportedTypeNames": _BLOB_TYPES,
            "supportedDigestAlgorithms": sorted(DIGESTS),
        },
    }
    session = Session(
        capabilities={
            CORE: core.limits.model_dump(mode="json", by_alias=True),
            CHAT: {},
            CHAT_PUSH: {},
            QUOTA: {},
            BLOB2: {},
            **(extra_capabilities or {}),
        },
        accounts={
            acc: Account(
                name=user,
                is_personal=True,
                is_read_only=False,
                account_capabilities=account_capabilities,
            )
        },
        primary_accounts=dict.fromkeys((CORE, CHAT, CHAT_PUSH, QUOTA, BLOB2), acc),
        username=user,
        api_url=f"{base}/jmap/api/",
        download_url=f"{base}/jmap/download/{{accountId}}/{{blobId}}/{{name}}?type={{type}}",
        upload_url=f"{base}/jmap/upload/{{accountId}}/",
        event_source_url=(
            f"{base}/jmap/eventsource/?types={{types}}&closeafter={{closeafter}}&ping={{ping}}"
        ),
        state=state,
        owner_user_id=user,
        owner_login=user,
    )
    return session.to_wire()
