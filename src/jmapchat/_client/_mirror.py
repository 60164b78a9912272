"""One-call helpers: ``client.<namespace>.<method>(...)`` mirrors ``req.<namespace>.<method>``.

``await client.message.get(ids)`` creates a fresh request, calls ``req.message.get(ids)``
on it, sends it through the client's one ``send`` and returns ``call.result``. It is
never a second code path.

Runtime: `NamespaceMirror` looks the method up on the request's namespace by name, so a
namespace added to `jmapchat.Request` works on the clients with no extra code (the
clients' ``__getattr__`` finds it).

Every helper also takes a keyword-only ``deadline`` (seconds), passed to
``client.call(..., deadline=)``: it bounds the whole send.

Typing: a method returning ``Call[R]`` must become an ``async`` method returning ``R``
with the same parameters plus ``deadline``. Python cannot map that over a whole class, and
a ParamSpec cannot gain a keyword, so `_generated.py` (written by
``python scripts/gen_mirrors.py``) lists each namespace method once as
``get = one_call(MessageMethods.get, _message_get)``, where ``_message_get`` is a
body-less function with the method's parameters (type variables bound, as the namespace
class binds them) and ``deadline``; one such function per distinct parameter list.
`one_call` is a descriptor typed with a ParamSpec: mypy takes the parameters from that
function, infers ``R`` from the namespace method, and picks the async or blocking return
type from the mirror's mode. A test fails when the generated file is stale.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, overload

from pydantic import BaseModel

from jmapchat._core import Call, GetCall, JMAPModel

if TYPE_CHECKING:
    from typing import Self

__all__ = ["AsyncMode", "NamespaceMirror", "SyncMode", "one_call", "query_pages"]

P = ParamSpec("P")
R = TypeVar("R", bound=BaseModel)
M = TypeVar("M", "AsyncMode", "SyncMode")
T = TypeVar("T", bound=JMAPModel)
I_co = TypeVar("I_co", covariant=True)


class AsyncMode:
    """Marks a mirror on `AsyncClient`: methods are coroutines."""


class SyncMode:
    """Marks a mirror on `Client`: methods block."""


class NamespaceMirror(Generic[M]):
    """``client.<namespace>``: every method of ``req.<namespace>`` as a one-call request."""

    def __init__(self, client: Any, namespace: str) -> None:
        self._client = client
        self._namespace = namespace

    def __repr__(self) -> str:
        return f"<one-call helpers for req.{self._namespace} on {type(self._client).__name__}>"

    def _method(self, name: str, target: Callable[..., Any] | None = None) -> Callable[..., Any]:
        if target is None:  # not declared in _generated: look it up on a request
            req = self._client.request()
            target = getattr(getattr(req, self._namespace), name, None)
            if name.startswith("_") or not callable(target):
                raise AttributeError(f"req.{self._namespace} has no method {name!r}")
        client, namespace = self._client, self._namespace

        def build(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Callable[[Any], Call[Any]]:
            return lambda req: getattr(getattr(req, namespace), name)(*args, **kwargs)

        if client._is_async:

            @functools.wraps(target)
            async def run_async(*args: Any, deadline: float | None = None, **kwargs: Any) -> Any:
                return await client.call(build(args, kwargs), deadline=deadline)

            run_async.__signature__ = _with_deadline(target)  # type: ignore[attr-defined]
            return run_async

        @functools.wraps(target)
        def run(*args: Any, deadline: float | None = None, **kwargs: Any) -> Any:
            return client.call(build(args, kwargs), deadline=deadline)

        run.__signature__ = _with_deadline(target)  # type: ignore[attr-defined]
        return run

    if not TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any:
            if name.startswith("_"):
                raise AttributeError(name)
            return self._method(name)

    def __dir__(self) -> list[str]:
        req = self._client.request()
        ns = getattr(req, self._namespace)
        return sorted(n for n in dir(ns) if not n.startswith("_") and callable(getattr(ns, n)))


def _with_deadline(target: Callable[..., Any]) -> inspect.Signature:
    """``target``'s signature (without ``self``) plus ``deadline``, for ``help()``."""
    sig = inspect.signature(target)
    params = list(sig.parameters.values())
    if params and params[0].name == "self":
        params = params[1:]
    deadline = inspect.Parameter(
        "deadline", inspect.Parameter.KEYWORD_ONLY, default=None, annotation="float | None"
    )
    return sig.replace(parameters=[*params, deadline], return_annotation=inspect.Signature.empty)


class one_call(Generic[P, R]):
    """Declare ``name = one_call(Namespace.name, _params)`` on a mirror class: ``_params``
    carries the helper's parameters for type checkers (see module doc)."""

    def __init__(
        self,
        method: Callable[..., Call[R]],
        signature: Callable[Concatenate[Any, P], None],
    ) -> None:
        self.name = method.__name__
        self.__doc__ = method.__doc__
        self.method = method  # known to exist: no request is built to look it up
        # ``signature`` is for type checkers only; help() gets the same from `_with_deadline`.

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(
        self, obj: NamespaceMirror[AsyncMode], owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, R]]: ...

    @overload
    def __get__(self, obj: NamespaceMirror[SyncMode], owner: type[Any]) -> Callable[P, R]: ...

    def __get__(self, obj: NamespaceMirror[Any] | None, owner: type[Any]) -> Any:
        if obj is None:
            return self
        # Built once per mirror (a bot calls the same helper many times a second): the
        # instance attribute shadows this non-data descriptor from then on.
        method = obj.__dict__[self.name] = obj._method(self.name, self.method)
        return method


class QueryIter(Protocol[I_co]):
    """``client.<namespace>.query_iter``: ``I_co`` is ``AsyncIterator[T]`` or ``Iterator[T]``."""

    def __call__(
        self,
        *,
        filter: Any = None,
        sort: Sequence[Any] | None = None,
        page_size: int = 100,
        properties: Sequence[str] | None = None,
        deadline: float | None = None,
    ) -> I_co: ...


class query_pages(Generic[T]):
    """Declare ``query_iter = query_pages(Namespace.get)``: typed paging of one type.

    ``client.message.query_iter(filter=...)`` walks ``Message/query`` by position and
    yields each `Message` (one ``/query`` + ``/get`` request per page), built through
    ``req.message`` like every other call; the item type comes from the namespace's
    ``get``. See ``query_iter`` on the clients.
    """

    def __init__(self, get: Callable[..., GetCall[T]]) -> None:
        self.__doc__ = type(self).__doc__

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(
        self, obj: NamespaceMirror[AsyncMode], owner: type[Any]
    ) -> QueryIter[AsyncIterator[T]]: ...

    @overload
    def __get__(
        self, obj: NamespaceMirror[SyncMode], owner: type[Any]
    ) -> QueryIter[Iterator[T]]: ...

    def __get__(self, obj: NamespaceMirror[Any] | None, owner: type[Any]) -> Any:
        if obj is None:
            return self
        return functools.partial(obj._client.query_iter, obj._namespace)
