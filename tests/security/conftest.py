"""The attack cases of issue 9 reuse the server suite's raw-HTTP fixtures."""

from __future__ import annotations

from tests.server.conftest import (  # noqa: F401 - pytest fixtures
    Api,
    alice,
    anyio_backend,
    bob,
    carol,
    client,
    jmap_users,
    server,
)

__all__ = ["Api"]
