"""What the consumers admin API reads and writes: ``...Create``, ``...Update``, ``...Public``.

This module owns the JSON shapes of consumers, their secrets, grants and the change log. Request
bodies reject unknown properties; identifiers are strings; times are RFC 3339 in UTC. The table
models are never returned directly: a secret's hash never leaves the service, and a client
secret appears in exactly two shapes, the answers to registering and to rotating.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from townhall.platform.auth.changes import ChangeRecord
from townhall.platform.auth.client_secrets import DEFAULT_OVERLAP, MAX_OVERLAP, SecretRecord
from townhall.platform.auth.consumers import ConsumerRecord
from townhall.platform.auth.grants import GrantRecord
from townhall.platform.auth.models import ConsumerKind, EnvironmentName
from townhall.platform.auth.scopes import SCOPE_SYNTAX

# Some visible text, and no NUL (U+0000), which no database here can store.
VISIBLE_TEXT = r"^[^\x00]*\S[^\x00]*$"
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=VISIBLE_TEXT)]
# Deliberately loose: the contact is a team mailbox, checked by a person, not by a regex.
Email = Annotated[
    str,
    Field(
        min_length=3,
        max_length=254,
        # \x85 and \ufeff spelt out: Unicode's and JSON Schema's \s disagree on those two.
        pattern=r"^[^@\s\x00\x85\ufeff]+@[^@\s\x00\x85\ufeff]+$",
        examples=["parking@hackney.gov.uk"],
    ),
]
Limit = Annotated[int, Field(ge=1, le=1_000_000_000)]
ClientSecret = Annotated[
    str,
    Field(
        description=(
            "The client secret. Shown this once: store it now, in a secret store. "
            "It starts with `thsec_` so secret scanners can find it if it leaks."
        ),
        examples=["thsec_9Zq2xVbK0mWcT4yR7nLpH1sJ8dF3gA6eU5iO2kQwErT"],
    ),
]


class ConsumerCreate(BaseModel):
    """A consumer to register."""

    model_config = ConfigDict(extra="forbid")

    name: Name = Field(examples=["Parking permits service"])
    owning_team: Name | None = Field(
        default=None, description="The team that answers for the consumer.", examples=["Parking"]
    )
    contact_email: Email | None = Field(
        default=None, description="A mailbox of that team, for notices about access."
    )
    kind: ConsumerKind = Field(
        default="council_service",
        description="`council_service`, `partner` (another organisation) or `public` (an app).",
    )
    rate_limit_per_minute: Limit | None = Field(
        default=None, description="Overrides the instance's limit; null for the instance's."
    )
    quota_per_day: Limit | None = Field(
        default=None, description="Overrides the instance's daily quota; null for the instance's."
    )


_NOT_NULLABLE = ("name", "enabled")


def _never_null(schema: dict[str, Any]) -> None:
    """Publish a merge-patch property that may be left out but not set to null."""
    schema.pop("default", None)
    options = [o for o in schema.pop("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:
        schema.update(options[0])
    elif options:
        schema["anyOf"] = options


class ConsumerUpdate(BaseModel):
    """A JSON Merge Patch of a consumer: only the properties sent change.

    `name` and `enabled` cannot be null; a null limit returns the consumer to the instance's
    limit. Disabling a consumer stops its secrets and tokens working.
    """

    model_config = ConfigDict(extra="forbid")

    # Optional to send, but never null: the published schema says so (null is refused below).
    name: Name | None = Field(default=None, json_schema_extra=_never_null)
    owning_team: Name | None = None
    contact_email: Email | None = None
    enabled: bool | None = Field(default=None, json_schema_extra=_never_null)
    rate_limit_per_minute: Limit | None = None
    quota_per_day: Limit | None = None

    @model_validator(mode="after")
    def _required_values_not_removed(self) -> ConsumerUpdate:
        for name in _NOT_NULLABLE:
            if name in self.model_fields_set and getattr(self, name) is None:
                msg = f"{name} cannot be null"
                raise ValueError(msg)
        return self

    def changes(self) -> dict[str, Any]:
        """The properties the patch sets, with their new values."""
        return self.model_dump(exclude_unset=True)


class ConsumerPublic(BaseModel):
    """A consumer of the APIs. Its secrets are never shown again after they are made."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(examples=["con_3f9a0c1d2b4e5f60"])
    client_id: str = Field(
        description="Sent with a client secret to `/oauth/token`.",
        examples=["thcid_6b0cc9881f163757e7d24e14"],
    )
    name: str
    owning_team: str | None
    contact_email: str | None
    kind: ConsumerKind
    enabled: bool
    rate_limit_per_minute: int | None
    quota_per_day: int | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: ConsumerRecord) -> ConsumerPublic:
        """The public shape of a consumer."""
        return cls(
            id=record.id,
            client_id=record.client_id,
            name=record.name,
            owning_team=record.owning_team,
            contact_email=record.contact_email,
            kind=record.kind,
            enabled=record.enabled,
            rate_limit_per_minute=record.rate_limit_per_minute,
            quota_per_day=record.quota_per_day,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )


class ConsumerCreatedPublic(ConsumerPublic):
    """A consumer just registered, with its first client secret (shown this once)."""

    client_secret: ClientSecret


class SecretCreate(BaseModel):
    """A secret rotation: how long the secrets being replaced keep working."""

    model_config = ConfigDict(extra="forbid")

    overlap_hours: int = Field(
        default=int(DEFAULT_OVERLAP.total_seconds() // 3600),
        ge=0,
        le=int(MAX_OVERLAP.total_seconds() // 3600),
        description=(
            "Hours the current secrets keep working, so the consumer can deploy the new one "
            "without an outage. 0 stops them at once (for a secret that leaked)."
        ),
    )


class SecretPublic(BaseModel):
    """A client secret's record: when it was made and when it stops working; never the secret."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(examples=["sec_5d1e7a9b3c2f4e60"])
    created_at: datetime
    expires_at: datetime | None = Field(description="Null until the secret is rotated away.")

    @classmethod
    def of(cls, record: SecretRecord) -> SecretPublic:
        """The public shape of a secret's record."""
        return cls(id=record.id, created_at=record.created_at, expires_at=record.expires_at)


class SecretCreatedPublic(SecretPublic):
    """A new client secret (shown this once), and when the secrets it replaces stop working."""

    consumer_id: str
    client_id: str
    client_secret: ClientSecret
    previous_secrets_expire_at: datetime | None = Field(
        description="When the secrets this one replaces stop working; null if there were none."
    )


class GrantCreate(BaseModel):
    """A scope to grant to a consumer, and why."""

    model_config = ConfigDict(extra="forbid")

    scope: str = Field(pattern=SCOPE_SYNTAX, max_length=64, examples=["consumers:read"])
    purpose: str = Field(
        min_length=1,
        max_length=500,
        pattern=VISIBLE_TEXT,
        description="What the consumer needs the scope for, in plain words.",
        examples=["Shows residents' permit applications to parking staff."],
    )
    environment: EnvironmentName | None = Field(
        default=None, description="Where the grant applies; this instance's environment if omitted."
    )
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the grant ends; null for no end."
    )


class GrantPublic(BaseModel):
    """A grant of one scope to one consumer. Revoked grants are kept, with who revoked them."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(examples=["grt_8a1b2c3d4e5f6071"])
    consumer_id: str
    scope: str
    environment: EnvironmentName
    purpose: str
    expires_at: datetime | None
    approved_by: str = Field(examples=["consumer:con_3f9a0c1d2b4e5f60"])
    created_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None

    @classmethod
    def of(cls, record: GrantRecord) -> GrantPublic:
        """The public shape of a grant."""
        return cls(
            id=record.id,
            consumer_id=record.consumer_id,
            scope=record.scope,
            environment=record.environment,
            purpose=record.purpose,
            expires_at=record.expires_at,
            approved_by=record.approved_by,
            created_at=record.created_at,
            revoked_at=record.revoked_at,
            revoked_by=record.revoked_by,
        )


class ChangePublic(BaseModel):
    """One administrative change: who did what to which consumer, grant or secret, and when."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(examples=["42"])
    occurred_at: datetime
    actor: str = Field(examples=["consumer:con_3f9a0c1d2b4e5f60", "cli:root"])
    action: str = Field(examples=["grant.revoked"])
    target_type: str = Field(examples=["grant"])
    target_id: str = Field(examples=["grt_8a1b2c3d4e5f6071"])
    details: dict[str, Any] = Field(description="What changed; never secrets or personal data.")

    @classmethod
    def of(cls, record: ChangeRecord) -> ChangePublic:
        """The public shape of a change."""
        return cls(
            id=record.id,
            occurred_at=record.occurred_at,
            actor=record.actor,
            action=record.action,
            target_type=record.target_type,
            target_id=record.target_id,
            details=record.details,
        )
