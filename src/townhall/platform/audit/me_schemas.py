"""What ``/api/v1/me`` answers: a resident's data uses and their summary by service.

The JSON shapes of ``resident_view``'s entries; the sentences in them are the same the page "How
your data is used" shows. Times are RFC 3339 in UTC.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from townhall.platform.audit.resident_view import DataUseEntry, ServiceUses
from townhall.platform.audit.vocabulary import ActorKind, DataKind, Service


class ServicePublic(BaseModel):
    """A part of the council that uses data, by its key and its name."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(
        description="Pass as `service` to list this service's uses.", examples=["people"]
    )
    name: str = Field(examples=["Council records about you"])

    @classmethod
    def of(cls, service: Service) -> ServicePublic:
        """The public shape of a service."""
        return cls(key=service.key, name=service.name)


class DataKindPublic(BaseModel):
    """A kind of personal data, by its key and as a phrase."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(examples=["account"])
    phrase: str = Field(examples=["your account details"])

    @classmethod
    def of(cls, kind: DataKind) -> DataKindPublic:
        """The public shape of a kind of data."""
        return cls(key=kind.key, phrase=kind.phrase)


class ActorPublic(BaseModel):
    """Who used the data: a member of staff (by role, or by name where the council shows
    names), an application, or Townhall itself."""

    model_config = ConfigDict(extra="forbid")

    kind: ActorKind
    description: str = Field(examples=["A housing officer"])


class DataUsePublic(BaseModel):
    """One use of your data by someone else."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(examples=["5b0e7c1e-3f7d-4d52-9b86-0f6c2b6f1a2d"])
    occurred_at: datetime
    service: ServicePublic
    action: str = Field(
        description=(
            "`viewed`, `searched`, `created`, `changed`, `deleted`, `exported`, `hid` or `lifted`."
        ),
        examples=["viewed"],
    )
    data_kind: DataKindPublic
    actor: ActorPublic
    purpose: str = Field(
        description="Why the data was used.", examples=["Checking a housing application"]
    )
    description: str = Field(
        description="What happened, in a sentence.",
        examples=["A housing officer looked at your account details"],
    )

    @classmethod
    def of(cls, entry: DataUseEntry) -> DataUsePublic:
        """The public shape of an entry."""
        return cls(
            id=entry.id,
            occurred_at=entry.occurred_at,
            service=ServicePublic.of(entry.service),
            action=entry.action,
            data_kind=DataKindPublic.of(entry.data_kind),
            actor=ActorPublic(kind=ActorKind(entry.actor_kind), description=entry.actor),
            purpose=entry.purpose,
            description=entry.description,
        )


class ServiceUsesPublic(BaseModel):
    """How often one service used your data, and when it last did."""

    model_config = ConfigDict(extra="forbid")

    service: ServicePublic
    uses: int = Field(ge=1, examples=[3])
    most_recent_at: datetime

    @classmethod
    def of(cls, summary: ServiceUses) -> ServiceUsesPublic:
        """The public shape of one service's uses."""
        return cls(
            service=ServicePublic.of(summary.service),
            uses=summary.uses,
            most_recent_at=summary.most_recent,
        )


class DataUseSummaryPublic(BaseModel):
    """Your data's uses counted by service, the most recently used service first."""

    model_config = ConfigDict(extra="forbid")

    matched_to_council_records: bool = Field(
        description=(
            "Whether your account is matched to the council's records about you yet; until it "
            "is, no uses can be shown."
        )
    )
    total_uses: int = Field(ge=0, examples=[7])
    services: list[ServiceUsesPublic]
