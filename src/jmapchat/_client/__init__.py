"""The I/O layer: `AsyncClient` (anyio) and `Client` (blocking), two thin drivers of the
sans-IO flows in `jmapchat._core._exec`. Imported lazily by ``jmapchat``."""

from jmapchat._core import RetryPolicy

from ._async import AsyncClient
from ._sync import Client

__all__ = ["AsyncClient", "Client", "RetryPolicy"]
