"""``req.push_subscription``: PushSubscription/get and /set (RFC 8620 §7.2).

Push subscriptions belong to the user, not an account: the calls carry no
``accountId`` and their responses no ``accountId`` or state, so they get their own
response models. ``chatPush`` (draft-atwood-jmap-chat-push) in a create or update —
or asked for in ``properties`` — adds ``urn:ietf:params:jmap:chat:push`` to ``using``;
otherwise the calls only need core.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jmapchat._core import (
    CHAT_PUSH,
    CORE,
    NOT_GIVEN,
    Call,
    Id,
    IdsArg,
    LocalProtocolError,
    NotGiven,
    Ref,
)
from jmapchat.models import (
    PushSubscription,
    PushSubscriptionCreate,
    PushSubscriptionGetResponse,
    PushSubscriptionProperty,
    PushSubscriptionSetResponse,
    PushSubscriptionUpdate,
)

from ._base import Namespace, check_ids

__all__ = ["PushSubscriptionMethods"]


def _uses_chat_push(value: Any) -> bool:
    if isinstance(value, PushSubscriptionCreate | PushSubscriptionUpdate):
        return not isinstance(value.chat_push, NotGiven)
    if isinstance(value, Mapping):
        return "chatPush" in value or "chat_push" in value
    return False


class PushSubscriptionMethods(Namespace):
    """Methods of the PushSubscription type (core; no accountId)."""

    type_name = "PushSubscription"
    capability = CORE
    model = PushSubscription
    uses_account_id = False

    def _using(self, chat_push: bool) -> tuple[str, ...]:
        return (CORE, CHAT_PUSH) if chat_push else (CORE,)

    def get(
        self,
        ids: IdsArg | None = None,
        *,
        properties: Sequence[PushSubscriptionProperty] | None | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
    ) -> Call[PushSubscriptionGetResponse]:
        """``PushSubscription/get``: ``ids=None`` (the default) fetches them all.

        ``url`` and ``keys`` are never returned.
        """
        if ids is not None and not isinstance(ids, Ref):
            if isinstance(ids, str) or not isinstance(ids, Sequence):
                raise LocalProtocolError("PushSubscription/get: ids must be a list of ids")
            ids = list(ids)
        props = (
            properties
            if properties is None or isinstance(properties, NotGiven)
            else list(properties)
        )
        chat_push = isinstance(props, list) and "chatPush" in props
        args = self._args(NOT_GIVEN, ids=ids, properties=props)
        return self._request.add_call(
            Call,
            method="PushSubscription/get",
            args=args,
            response=PushSubscriptionGetResponse,
            using=self._using(chat_push),
            call_id=call_id,
        )

    def set(
        self,
        *,
        create: Mapping[str, PushSubscriptionCreate] | NotGiven = NOT_GIVEN,
        update: Mapping[Id, PushSubscriptionUpdate | Mapping[str, Any]] | NotGiven = NOT_GIVEN,
        destroy: IdsArg | NotGiven = NOT_GIVEN,
        call_id: str | None = None,
    ) -> Call[PushSubscriptionSetResponse]:
        """``PushSubscription/set``. After a create the server POSTs a
        ``PushVerification`` to the URL; send its code back with
        ``update={id: PushSubscriptionUpdate(verification_code=...)}``."""
        method = "PushSubscription/set"
        if not isinstance(destroy, NotGiven | Ref):
            destroy = check_ids(destroy, method, "destroy")
        chat_push = False
        if not isinstance(create, NotGiven):
            create = dict(create)
            chat_push |= any(_uses_chat_push(v) for v in create.values())
        if not isinstance(update, NotGiven):
            update = dict(update)
            for key in update:
                if not isinstance(key, str) or not key:
                    raise LocalProtocolError(f"{method}: update keys must be non-empty ids")
            chat_push |= any(_uses_chat_push(v) for v in update.values())
        args = self._args(NOT_GIVEN, create=create, update=update, destroy=destroy)
        return self._request.add_call(
            Call,
            method=method,
            args=args,
            response=PushSubscriptionSetResponse,
            using=self._using(chat_push),
            call_id=call_id,
        )
