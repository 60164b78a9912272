"""Keep a local mirror of an account current: ``jmapchat.sync``.

```python
async with jmapchat.sync.AsyncMirror(client, store="bot.sqlite",
                                     types=["ChatContact", "Chat", "Message"]) as mirror:
    await mirror.sync()                  # catch up: ONE request per step, all types
    diff = await mirror.send(req)        # your calls + the catch-up, one envelope
    async for diff in mirror.watch():    # push-driven, polling as a fallback
        for msg in diff.created("Message"): ...
```

`Mirror` is the blocking twin (generated from `AsyncMirror`). See ``docs/sync.md``.
"""

from ._async import AsyncMirror
from ._base import Objects
from ._plan import OrderedView
from ._store import (
    SCHEMA_VERSION,
    MemoryStore,
    MirrorStore,
    SQLiteStore,
    TypeWrite,
    ViewWrite,
)
from ._sync import Mirror
from ._types import Diff, IncompatibleStore, MirrorError, TypeName, Updated

__all__ = [
    "SCHEMA_VERSION",
    "AsyncMirror",
    "Diff",
    "IncompatibleStore",
    "MemoryStore",
    "Mirror",
    "MirrorError",
    "MirrorStore",
    "Objects",
    "OrderedView",
    "SQLiteStore",
    "TypeName",
    "TypeWrite",
    "Updated",
    "ViewWrite",
]
