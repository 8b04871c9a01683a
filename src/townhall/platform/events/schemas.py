"""What the subscriptions API reads and writes: ``...Create``, ``...Update``, ``...Public``.

This module owns the JSON shapes of webhook subscriptions, their deliveries and attempts,
replays and redrives. Request bodies reject unknown properties; times are RFC 3339 in UTC. A
signing secret appears in exactly two shapes, the answers to creating a subscription and to
rotating its secret, and never again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from townhall.platform.events.subscriptions import (
    AttemptRecord,
    DeliveryRecord,
    SubscriptionRecord,
)
from townhall.platform.events.targets import MAX_URL_LENGTH

SubscriptionStatus = Literal["active", "paused"]
DeliveryStatus = Literal["pending", "delivered", "dead"]

# Some visible text, and no NUL (U+0000), which no database here can store.
_VISIBLE_TEXT = r"^[^\x00]*\S[^\x00]*$"
Description = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=_VISIBLE_TEXT,
        examples=["Parking permits: addresses that change"],
    ),
]
TargetUrl = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        description=(
            "Where events are POSTed. `https://` (in production, only https); the host must "
            "resolve to public addresses only."
        ),
        examples=["https://permits.example.gov.uk/townhall/events"],
    ),
]
TypeFilter = Annotated[
    str,
    Field(
        min_length=1,
        max_length=120,
        examples=["uk.gov.townhall.address.*"],
    ),
]
EventTypes = Annotated[
    list[TypeFilter],
    Field(
        min_length=1,
        max_length=50,
        description=(
            "Event types to receive: exact types, or prefixes ending in `*` "
            "(`uk.gov.townhall.address.*`). `/asyncapi.json` lists every type."
        ),
    ),
]
SigningSecret = Annotated[
    str,
    Field(
        description=(
            "The signing secret (Standard Webhooks): shown this once, store it now. Every "
            "delivery is signed with it in `webhook-signature`."
        ),
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    ),
]


class SubscriptionCreate(BaseModel):
    """A webhook subscription to make."""

    model_config = ConfigDict(extra="forbid")

    description: Description
    target_url: TargetUrl
    event_types: EventTypes
    status: SubscriptionStatus = Field(
        default="active", description="`active` (deliver) or `paused` (keep, do not deliver)."
    )


def _never_null(schema: dict[str, Any]) -> None:
    """Publish a merge-patch property that may be left out but not set to null."""
    schema.pop("default", None)
    options = [o for o in schema.pop("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:
        schema.update(options[0])
    elif options:
        schema["anyOf"] = options


class SubscriptionUpdate(BaseModel):
    """A JSON Merge Patch of a subscription: only the properties sent change.

    `"status": "paused"` stops deliveries (events keep arriving in its queue); `"active"` resumes
    them, oldest first. None of the properties may be null.
    """

    model_config = ConfigDict(extra="forbid")

    description: Description | None = Field(default=None, json_schema_extra=_never_null)
    target_url: TargetUrl | None = Field(default=None, json_schema_extra=_never_null)
    event_types: EventTypes | None = Field(default=None, json_schema_extra=_never_null)
    status: SubscriptionStatus | None = Field(default=None, json_schema_extra=_never_null)

    @model_validator(mode="after")
    def _nothing_removed(self) -> SubscriptionUpdate:
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                msg = f"{name} cannot be null"
                raise ValueError(msg)
        return self

    def changes(self) -> dict[str, Any]:
        """The properties the patch sets, with their new values."""
        return self.model_dump(exclude_unset=True)


class SubscriptionPublic(BaseModel):
    """A webhook subscription. Its signing secret is never shown after it is made."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(examples=["0190f3a2-7c4d-7e1f-9a2b-3c4d5e6f7a8b"])
    description: str
    target_url: str
    event_types: list[str]
    status: SubscriptionStatus
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: SubscriptionRecord) -> SubscriptionPublic:
        """The public shape of a subscription."""
        return cls(
            id=record.id,
            description=record.description,
            target_url=record.target_url,
            event_types=list(record.event_types),
            status=record.status,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )


class SubscriptionCreatedPublic(SubscriptionPublic):
    """A subscription just made, with its signing secret (shown this once)."""

    secret: SigningSecret


class SecretRotatedPublic(BaseModel):
    """A subscription's new signing secret (shown this once); the old one no longer signs."""

    model_config = ConfigDict(extra="forbid")

    subscription_id: str
    secret: SigningSecret
    rotated_at: datetime


class DeliveryPublic(BaseModel):
    """One event on its way to a subscription, and how its last try went."""

    model_config = ConfigDict(extra="forbid")

    id: int
    event_id: str | None = Field(
        description="The event's id (`webhook-id`); null once the event has left the outbox."
    )
    event_type: str | None
    event_position: int = Field(description="The event's `sequence` in the outbox.")
    subject: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(
        description="When it will be tried next; null once delivered or dead."
    )
    created_at: datetime
    completed_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    last_latency_ms: float | None

    @classmethod
    def of(cls, record: DeliveryRecord) -> DeliveryPublic:
        """The public shape of a delivery."""
        return cls(
            id=record.id,
            event_id=record.event_id,
            event_type=record.event_type,
            event_position=record.event_position,
            subject=record.subject,
            status=record.status,
            attempts=record.attempts,
            next_attempt_at=record.next_attempt_at if record.status == "pending" else None,
            created_at=record.created_at,
            completed_at=record.completed_at,
            last_status_code=record.last_status_code,
            last_error=record.last_error,
            last_latency_ms=record.last_latency_ms,
        )


class AttemptPublic(BaseModel):
    """One try at sending a delivery: what came back and how long it took."""

    model_config = ConfigDict(extra="forbid")

    id: int
    attempted_at: datetime
    outcome: Literal["delivered", "retry", "dead"]
    status_code: int | None
    error: str | None
    latency_ms: float

    @classmethod
    def of(cls, record: AttemptRecord) -> AttemptPublic:
        """The public shape of an attempt."""
        return cls(
            id=record.id,
            attempted_at=record.attempted_at,
            outcome=record.outcome,
            status_code=record.status_code,
            error=record.error,
            latency_ms=record.latency_ms,
        )


class ReplayFromPosition(BaseModel):
    """Deliver again every event after a position."""

    model_config = ConfigDict(extra="forbid")

    # 2**53 - 1: the largest integer every JSON parser (JavaScript's included) reads exactly.
    from_position: int = Field(
        ge=0,
        le=2**53 - 1,
        description="Events after this position (`sequence`) are delivered again.",
    )


class ReplayFromTime(BaseModel):
    """Deliver again every event committed at or after a time."""

    model_config = ConfigDict(extra="forbid")

    from_time: AwareDatetime = Field(
        description="Events committed at or after this time are delivered again."
    )


# Exactly one of the two: a body with both, or neither, matches no shape and is a 422.
ReplayCreate = ReplayFromPosition | ReplayFromTime


class ReplayPublic(BaseModel):
    """A replay accepted: deliveries reset, and where fan-out starts again."""

    model_config = ConfigDict(extra="forbid")

    reset: int = Field(description="Existing deliveries set back to pending.")
    position: int = Field(description="The subscription now fans out events after this one.")


class RedriveCreate(BaseModel):
    """Dead deliveries to send again: those listed, or every one when none are listed."""

    model_config = ConfigDict(extra="forbid")

    delivery_ids: list[Annotated[int, Field(ge=1, le=2**53 - 1)]] | None = Field(
        default=None, max_length=1000, json_schema_extra=_never_null
    )


class RedrivePublic(BaseModel):
    """A redrive accepted: how many dead deliveries went back to pending."""

    model_config = ConfigDict(extra="forbid")

    redriven: int
