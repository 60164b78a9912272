"""The server's configuration: the RFC 8620 core limits it advertises and enforces
(`ServerLimits`) and the JMAP Chat limits and features (`ChatSettings`). A leaf module:
everything else in the server may import it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ChatSettings", "ServerLimits"]


@dataclass(frozen=True)
class ServerLimits:
    """The RFC 8620 core capability limits the server advertises and enforces."""

    max_size_upload: int = 50_000_000
    max_concurrent_upload: int = 4
    max_size_request: int = 10_000_000
    max_concurrent_requests: int = 4
    max_calls_in_request: int = 16
    max_objects_in_get: int = 500
    max_objects_in_set: int = 500

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer")


@dataclass
class ChatSettings:
    max_body_bytes: int = 100_000
    max_attachment_bytes: int = 50_000_000
    max_attachments_per_message: int = 20
    supported_body_types: tuple[str, ...] = (
        "text/plain",
        "text/markdown",
        "application/jmap-chat-rich",
        "application/mls-ciphertext",
    )
    supports_threads: bool = True
    max_group_members: int = 256
    max_space_members: int = 10_000
    max_space_roles: int = 250
    max_space_channels: int = 500
    max_space_categories: int = 100
    max_snippet_bytes: int = 200
