"""Result-reference resolution (RFC 8620 §3.7), shared by client and reference server.

The server resolves ``#arg`` references against the responses it has produced so far;
the client does the same when a request is split across envelopes and a reference's
source landed in an earlier one. One implementation for both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._pointer import PointerError, evaluate

__all__ = ["ReferenceResolutionError", "resolve_reference", "resolve_result_references"]


class ReferenceResolutionError(ValueError):
    """A result reference cannot be resolved: the call fails with invalidResultReference.

    ``invalid_arguments`` is True when the problem is the argument shape itself
    (both ``foo`` and ``#foo`` given, or a malformed ResultReference object), which RFC
    8620 answers with ``invalidArguments`` instead.
    """

    def __init__(self, message: str, *, invalid_arguments: bool = False) -> None:
        super().__init__(message)
        self.invalid_arguments = invalid_arguments


def resolve_reference(ref: Any, responses: Sequence[tuple[str, Mapping[str, Any], str]]) -> Any:
    """Resolve one ResultReference object ``{resultOf, name, path}`` against responses."""
    if not isinstance(ref, Mapping):
        raise ReferenceResolutionError(
            "a result reference must be an object", invalid_arguments=True
        )
    result_of, name, path = ref.get("resultOf"), ref.get("name"), ref.get("path")
    if not (isinstance(result_of, str) and isinstance(name, str) and isinstance(path, str)):
        raise ReferenceResolutionError(
            "a result reference needs string resultOf, name and path", invalid_arguments=True
        )
    for rname, rargs, rid in responses:
        if rid != result_of:
            continue
        if rname != name:
            raise ReferenceResolutionError(f"response to {result_of!r} is {rname!r}, not {name!r}")
        try:
            return evaluate(rargs, path)
        except PointerError as exc:
            raise ReferenceResolutionError(f"path {path!r} of {result_of!r}: {exc}") from None
    raise ReferenceResolutionError(f"no earlier response with call id {result_of!r}")


def resolve_result_references(
    args: Mapping[str, Any], responses: Sequence[tuple[str, Mapping[str, Any], str]]
) -> dict[str, Any]:
    """Return ``args`` with every ``#name`` argument replaced by ``name: <resolved value>``.

    ``responses`` are the method responses produced so far, in order, as
    ``(name, arguments, call_id)``; the first response with a matching call id is used.
    """
    out: dict[str, Any] = {}
    for key, value in args.items():
        if key.startswith("#"):
            plain = key[1:]
            if plain in args:
                raise ReferenceResolutionError(
                    f"both {plain!r} and {key!r} given", invalid_arguments=True
                )
            out[plain] = resolve_reference(value, responses)
        else:
            out[key] = value
    return out
