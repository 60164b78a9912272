"""The split plan without I/O: `plan` (the envelopes) and `explain_plan` (readable lines).

`explain_plan` is installed into `BaseRequest.explain` by this package's ``__init__``
(`set_planner`), so the request layer never imports the executor.
"""

from __future__ import annotations

from .._errors import CapabilityNotSupported, LocalProtocolError
from .._request import BaseRequest
from .._session import CoreCapability
from ._envelope import Envelope
from ._plan import Splitter

__all__ = ["explain_plan", "plan"]


def plan(request: BaseRequest, limits: CoreCapability) -> list[Envelope]:
    """The envelopes the executor would send for ``request`` under ``limits`` (no I/O).

    Sizes only known from replies (a reference resolved client-side) are not chunked
    here; the live executor chunks them when it knows.
    """
    splitter = Splitter(request, limits, dry_run=True)
    out: list[Envelope] = []
    while (env := splitter.next_envelope()) is not None:
        out.append(env)
        splitter.absorb_dry(env)
    return out


def explain_plan(request: BaseRequest, limits: CoreCapability) -> list[str]:
    """Readable lines describing `plan` (used by ``Request.explain(limits=...)``)."""
    try:
        envelopes = plan(request, limits)
    except (LocalProtocolError, CapabilityNotSupported) as exc:
        return [f"split plan: refused before sending: {exc}"]
    lines = [
        f"split plan: {len(envelopes)} HTTP request(s) "
        f"(maxCallsInRequest={limits.max_calls_in_request}, "
        f"maxObjectsInSet={limits.max_objects_in_set}, "
        f"maxObjectsInGet={limits.max_objects_in_get}, "
        f"maxSizeRequest={limits.max_size_request})"
    ]
    for env in envelopes:
        extra = ""
        if env.created_ids:
            extra = f", createdIds: {len(env.created_ids)}"
        lines.append(
            f"  #{env.index + 1} ({len(env.pieces)} invocation(s), {len(env.body)} bytes{extra}): "
            + env.describe()
        )
        for p in env.pieces:
            if p.chunk == 0 and p.state.resolved:
                lines.append(
                    f"      {p.call.id}: resolved client-side: {', '.join(p.state.resolved)}"
                )
    return lines
