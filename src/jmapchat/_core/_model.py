"""The one pydantic base for every JMAP object: camelCase on the wire, snake_case in Python.

- `JMAPModel` is for what the server sends: unknown fields are kept (``extra="allow"``)
  and ``to_wire()`` emits exactly the fields that were present (absent stays absent).
- `JMAPInput` is for what we send (create objects, patches, filters): fields default to
  `NOT_GIVEN`, which is left out; ``None`` is sent as ``null``; any other value,
  including a non-NOT_GIVEN default, is sent.
"""

from __future__ import annotations

from itertools import compress, repeat
from operator import is_not
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from ._types import NOT_GIVEN

__all__ = ["JMAPInput", "JMAPModel"]


class JMAPModel(BaseModel):
    """Base of every model parsed from the server."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="allow",
        arbitrary_types_allowed=False,
        protected_namespaces=(),
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON object for the wire: camelCase keys, only the fields that are set."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class JMAPInput(JMAPModel):
    """Base of models we send. Fields left at `NOT_GIVEN` are omitted from the wire.

    Unknown keyword arguments are refused (``extra="forbid"``): a typo such as
    ``MessageCreate(chatid=...)`` must fail here, not travel to the server.
    """

    model_config = ConfigDict(extra="forbid")

    def model_post_init(self, context: Any, /) -> None:
        # The fields whose value is not NOT_GIVEN. ``__dict__`` holds exactly the model's
        # fields (extras live in ``__pydantic_extra__``, forbidden here anyway), in field
        # order; the set is built in C (hot: once per create object of a bulk /set).
        values = self.__dict__
        fields_set = set(compress(values, map(is_not, values.values(), repeat(NOT_GIVEN))))
        object.__setattr__(self, "__pydantic_fields_set__", fields_set)

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)
