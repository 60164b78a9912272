"""``req.quota``: Quota/get, /changes, /query, /queryChanges (RFC 9425).

Calls declare ``urn:ietf:params:jmap:quota`` (not the chat capability). Quotas are
read-only: there is no ``/set``.
"""

from __future__ import annotations

from jmapchat._core import QUOTA, ChangesMethods, GetMethods
from jmapchat.models import Quota, QuotaFilter, QuotaProperty, QuotaSortProperty

from ._base import QueryChangesMethods, QueryMethods

__all__ = ["QuotaMethods"]


class QuotaMethods(
    GetMethods[Quota, QuotaProperty],
    ChangesMethods,
    QueryMethods[QuotaFilter, QuotaSortProperty],
    QueryChangesMethods[QuotaFilter, QuotaSortProperty],
):
    """Methods of the Quota type (``urn:ietf:params:jmap:quota``)."""

    type_name = "Quota"
    capability = QUOTA
    model = Quota
