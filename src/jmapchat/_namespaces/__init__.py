"""Per-type request namespaces (``req.message``, ``req.chat`` …) over the generic core."""

from ._request import Request

__all__ = ["Request"]
