"""Event types: each one declared once, with its meaning, its subject and the shape of its data.

This module owns the ``EventType`` declaration and the ``EventRegistry`` an app builds from every
domain's declarations (``townhall.event_types``). The registry checks the type filters a
subscription or a change-feed reader asks for (an exact type, or a prefix ending in ``*``), so a
misspelt filter is a 422 naming the known types, not a subscription that silently never fires.
The AsyncAPI document is generated from the same declarations.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from townhall.errors import UnprocessableContent

# Every type Townhall emits starts with this: reverse DNS of the service, as CloudEvents advises.
TYPE_PREFIX = "uk.gov.townhall."
# After the prefix: lower-case words joined by hyphens, then dot-separated parts, then a verb.
_NAME = re.compile(r"^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$")
# A filter: a whole type, or the start of one (at a dot) followed by "*".
_FILTER = re.compile(r"^uk\.gov\.townhall\.([a-z][a-z0-9-]*\.)*([a-z][a-z0-9-]*|\*)$")


@dataclass(frozen=True)
class EventType:
    """One kind of event a domain emits.

    ``name`` is the type without ``TYPE_PREFIX`` (``"address.updated"``); ``domain`` the domain
    that emits it (its CloudEvents ``source`` ends with it); ``subject`` says what the subject
    holds (an opaque identifier, never personal data); ``data`` is the pydantic model of the
    event's ``data``, and ``example`` one valid instance of it, for the AsyncAPI document.
    """

    name: str
    domain: str
    summary: str
    subject: str
    data: type[BaseModel]
    example: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            msg = f"event type name {self.name!r} must look like 'thing.verb'"
            raise ValueError(msg)

    @property
    def type(self) -> str:
        """The full CloudEvents ``type``: ``uk.gov.townhall.address.updated``."""
        return TYPE_PREFIX + self.name


class EventRegistry:
    """Every event type an app knows, by full type."""

    def __init__(self, types: Iterable[EventType]) -> None:
        self._types: dict[str, EventType] = {}
        for event_type in types:
            if event_type.type in self._types:
                msg = f"event type {event_type.type} is declared twice"
                raise ValueError(msg)
            self._types[event_type.type] = event_type

    def __iter__(self) -> Iterator[EventType]:
        return iter(sorted(self._types.values(), key=lambda t: t.type))

    def __len__(self) -> int:
        return len(self._types)

    def __contains__(self, type_name: object) -> bool:
        return type_name in self._types

    def get(self, type_name: str) -> EventType:
        """The declaration of ``type_name`` (a full type); KeyError when unknown."""
        return self._types[type_name]

    def matching(self, pattern: str) -> list[EventType]:
        """The known types a filter selects, in type order."""
        return [t for t in self if type_matches(pattern, t.type)]

    def check_filter(self, pattern: str) -> str:
        """``pattern`` if it is a well-formed filter selecting at least one known type.

        Raises ``UnprocessableContent`` (a 422) naming the known types otherwise.
        """
        if not _FILTER.match(pattern):
            msg = (
                f"{pattern!r} is not an event type filter: give a whole type such as "
                f"'{TYPE_PREFIX}address.updated', or the start of one followed by '*', such as "
                f"'{TYPE_PREFIX}address.*'."
            )
            raise UnprocessableContent(msg)
        if not self.matching(pattern):
            known = ", ".join(t.type for t in self)
            msg = f"{pattern!r} selects no event type this instance emits. Known types: {known}."
            raise UnprocessableContent(msg)
        return pattern


def type_matches(pattern: str, type_name: str) -> bool:
    """Whether a filter (a whole type, or a prefix ending in ``*``) selects ``type_name``."""
    if pattern.endswith("*"):
        return type_name.startswith(pattern[:-1])
    return type_name == pattern


def any_matches(patterns: Iterable[str], type_name: str) -> bool:
    """Whether any of ``patterns`` selects ``type_name``."""
    return any(type_matches(pattern, type_name) for pattern in patterns)
