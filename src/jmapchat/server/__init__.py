"""The jmapchat reference JMAP Chat server (a development server, not a production one).

```python
from jmapchat.server import ChatServer, serve_in_thread

with ChatServer(users=["alice", "bob"]) as server:
    server.app            # ASGI app (httpx.ASGITransport, starlette TestClient)
    server.tokens         # {"alice": "<bearer token>", ...}
    with serve_in_thread(server) as base_url:
        ...               # hypercorn on trio, real loopback socket
```
"""

from __future__ import annotations

from ._server import ChatServer, ServerLimits, serve_in_thread, write_token_file
from ._store import SchemaMismatch

__all__ = ["ChatServer", "SchemaMismatch", "ServerLimits", "serve_in_thread", "write_token_file"]
