"""The words of the audit trail: actions, the services data is used by, and kinds of data.

A use is recorded with keys (``viewed``, ``account``, ``contact-details``); the resident's page
turns them into plain English with the names and phrases declared here. Each domain declares its
own services and kinds next to its code, and ``townhall.data_uses`` gathers them all, so a page
can phrase a record whichever domain wrote it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    """What was done with the data."""

    VIEWED = "viewed"
    # Shown among the results of a search (one record per resident found).
    SEARCHED = "searched"
    CREATED = "created"
    CHANGED = "changed"
    DELETED = "deleted"
    EXPORTED = "exported"
    # A data protection officer hid accesses from the resident until a date, or lifted that.
    HID = "hid"
    LIFTED = "lifted"


class ActorKind(StrEnum):
    """Who acted: an application with a token, a member of staff, the resident, or Townhall."""

    CONSUMER = "consumer"
    STAFF = "staff"
    RESIDENT = "resident"
    SYSTEM = "system"


@dataclass(frozen=True)
class Service:
    """A part of the council that uses data, as a resident would name it."""

    key: str
    name: str


@dataclass(frozen=True)
class DataKind:
    """A kind of personal data, as a phrase that completes "... looked at ___"."""

    key: str
    phrase: str


@dataclass(frozen=True)
class Vocabulary:
    """Every service and kind of data known to this instance, by key."""

    services: dict[str, Service]
    data_kinds: dict[str, DataKind]

    @classmethod
    def of(cls, services: Iterable[Service], data_kinds: Iterable[DataKind]) -> Vocabulary:
        """The vocabulary of these services and kinds (keys must be unique)."""
        by_service: dict[str, Service] = {}
        for service in services:
            if by_service.setdefault(service.key, service) is not service:
                msg = f"the service {service.key!r} is declared twice"
                raise ValueError(msg)
        by_kind: dict[str, DataKind] = {}
        for kind in data_kinds:
            if by_kind.setdefault(kind.key, kind) is not kind:
                msg = f"the kind of data {kind.key!r} is declared twice"
                raise ValueError(msg)
        return cls(by_service, by_kind)

    def service_name(self, key: str) -> str:
        """The service's name, or its key when an older record names one no longer declared."""
        found = self.services.get(key)
        return found.name if found is not None else key

    def data_phrase(self, key: str) -> str:
        """The kind of data as a phrase, or its key when it is no longer declared."""
        found = self.data_kinds.get(key)
        return found.phrase if found is not None else key


# The platform's own services and kinds of data; domains declare theirs beside their code.
ACCOUNT = Service("account", "Your council account")
DATA_PROTECTION = Service("data-protection", "Data protection")
ACCESS_CONTROL = Service("access-control", "Access to council data")

ACCOUNT_DETAILS = DataKind("account", "your account details")
DATA_USES = DataKind("data-uses", "the record of who used your data")
EVERYTHING_HELD = DataKind("everything-held", "everything the council holds about you")
ACCESS_RULES = DataKind("access-rules", "who may use council data")

PLATFORM_SERVICES = (ACCOUNT, DATA_PROTECTION, ACCESS_CONTROL)
PLATFORM_DATA_KINDS = (ACCOUNT_DETAILS, DATA_USES, EVERYTHING_HELD, ACCESS_RULES)
