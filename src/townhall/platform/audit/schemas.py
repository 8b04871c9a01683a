"""What the data protection officer's API reads and writes: records, holds and exports.

This module owns the JSON shapes of ``/api/v1/audit``: an audit record with every field (its
place in the chain and its hash too), a hold and the body that makes one, and the subject access
export. Request bodies reject unknown properties; identifiers are strings; times are RFC 3339 in
UTC and dates ``YYYY-MM-DD``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from townhall.platform.audit.held_data import FieldValue, HeldSection
from townhall.platform.audit.holds import MAX_REASON, HoldRecord, NewHold
from townhall.platform.audit.search import FoundRecord
from townhall.platform.audit.subject_access import SubjectAccessExport

# Identifiers of residents, consumers and accounts: visible ASCII, no spaces.
IDENTIFIER_PATTERN = r"^[!-~]+$"
Identifier = Annotated[
    str, Field(min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN, examples=["res-0042"])
]


class AuditRecordPublic(BaseModel):
    """One use of personal data, with every field the chain's hash covers, and the hash."""

    model_config = ConfigDict(extra="forbid")

    position: int = Field(description="The record's place in the chain, from 1.", examples=[42])
    id: str = Field(examples=["5b0e7c1e-3f7d-4d52-9b86-0f6c2b6f1a2d"])
    occurred_at: datetime
    actor_kind: str = Field(
        description="`consumer`, `staff`, `resident` or `system`.", examples=["staff"]
    )
    actor_id: str | None = Field(
        description="The staff or resident account that acted.", examples=["stf_3f9a0c1d2b4e5f60"]
    )
    actor_role: str | None = Field(
        description="The member of staff's role at the time.", examples=["housing_officer"]
    )
    consumer_id: str | None = Field(
        description="The application that called with a token.", examples=["con_3f9a0c1d2b4e5f60"]
    )
    purpose: str = Field(examples=["Checking a housing application"])
    action: str = Field(examples=["viewed"])
    service: str = Field(examples=["people"])
    data_kind: str = Field(examples=["source-record"])
    resident_id: str | None = Field(examples=["res-0042"])
    subject: str | None = Field(
        description="An opaque key of the record used.", examples=["people-source-record:12"]
    )
    request_id: str | None = Field(examples=["9f1c2d3e4b5a69788796a5b4c3d2e1f0"])
    details: dict[str, Any] = Field(
        description="What was done, in keys and counts; never personal data.",
        examples=[{"fields": ["email"]}],
    )
    previous_hash: str = Field(description="The hash of the record before (SHA-256, hex).")
    hash: str = Field(description="SHA-256 (hex) of this record's fields and `previous_hash`.")

    @classmethod
    def of(cls, record: FoundRecord) -> AuditRecordPublic:
        """The public shape of a record."""
        values = dict(vars(record))
        values.pop("hidden")
        return cls(**values)


class AuditRecordFoundPublic(AuditRecordPublic):
    """A record found by a search, saying whether a hold hides it from its resident now."""

    hidden: bool = Field(
        description="True while an active hold hides this record from the resident it is about."
    )

    @classmethod
    def found(cls, record: FoundRecord) -> AuditRecordFoundPublic:
        """The public shape of a record found."""
        return cls(**vars(record))


class HoldCreate(BaseModel):
    """Accesses to hide from one resident until a date, for an investigation.

    Name the consumer and/or the member of staff (`actor_id`) whose accesses to hide; a window
    (`accessed_from`, `accessed_to`) narrows it to accesses in that time.
    """

    model_config = ConfigDict(extra="forbid")

    resident_id: Identifier
    consumer_id: Identifier | None = None
    actor_id: Identifier | None = Field(
        default=None, description="The staff account whose accesses to hide."
    )
    accessed_from: AwareDatetime | None = Field(
        default=None, description="Hide only accesses at or after this time."
    )
    accessed_to: AwareDatetime | None = Field(
        default=None, description="Hide only accesses before this time."
    )
    hidden_until: date = Field(
        description="The resident sees the accesses again from this date (UTC); at most two "
        "years ahead.",
        examples=["2027-03-31"],
    )
    reason: str = Field(
        min_length=1,
        max_length=MAX_REASON,
        pattern=r"^[^\x00]*\S[^\x00]*$",
        description="Why, for data protection officers only: never shown to the resident.",
        examples=["Investigation 2026-117: suspected misuse of the housing system"],
    )

    def new_hold(self) -> NewHold:
        """The hold this body asks for."""
        return NewHold(**self.model_dump())


class HoldPublic(BaseModel):
    """A hold: accesses hidden from a resident until a date."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(examples=["hld_8a1b2c3d4e5f6071"])
    resident_id: str
    consumer_id: str | None
    actor_id: str | None
    accessed_from: datetime | None
    accessed_to: datetime | None
    hidden_until: datetime
    reason: str
    created_by: str = Field(description="The account or consumer that made the hold.")
    created_at: datetime
    lifted_at: datetime | None
    record_position: int = Field(description="The position of the audit record of making it.")
    active: bool = Field(description="Whether the hold hides anything now.")

    @classmethod
    def of(cls, hold: HoldRecord, now: datetime) -> HoldPublic:
        """The public shape of a hold at ``now``."""
        return cls(**vars(hold), active=hold.active(now))


class HeldFieldPublic(BaseModel):
    """One value held about the resident."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(examples=["email"])
    label: str = Field(examples=["Email address"])
    value: FieldValue = Field(examples=["grace@example.com"])


class HeldItemPublic(BaseModel):
    """One record held about the resident."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(examples=["resident-account:res_0a1b2c3d4e5f6071"])
    fields: list[HeldFieldPublic]


class HeldSectionPublic(BaseModel):
    """What one part of the council holds about the resident."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(examples=["resident-accounts"])
    title: str = Field(examples=["Accounts you sign in with"])
    service: str = Field(examples=["account"])
    service_name: str = Field(examples=["Your council account"])
    items: list[HeldItemPublic]

    @classmethod
    def of(cls, section: HeldSection) -> HeldSectionPublic:
        """The public shape of a section."""
        return cls(
            name=section.name,
            title=section.title,
            service=section.service.key,
            service_name=section.service.name,
            items=[
                HeldItemPublic(
                    subject=item.subject,
                    fields=[HeldFieldPublic(**vars(field)) for field in item.fields],
                )
                for item in section.items
            ],
        )


class WithheldPublic(BaseModel):
    """How many records one active hold keeps out of the export."""

    model_config = ConfigDict(extra="forbid")

    hold: HoldPublic
    records: int


class SubjectAccessPublic(BaseModel):
    """Everything the council holds about a resident, and every use of it not held back."""

    model_config = ConfigDict(extra="forbid")

    resident_id: str = Field(description="The id the resident has now.")
    resident_ids: list[str] = Field(
        description="Every id the export covers: the id the resident has now, then each id "
        "merged into it, whose data and uses are theirs too.",
        examples=[["R7K3MQ9XA2", "RB2M8Q4ZD1"]],
    )
    generated_at: datetime
    sections: list[HeldSectionPublic]
    uses: list[AuditRecordPublic] = Field(description="Uses of the resident's data, newest first.")
    withheld_total: int = Field(
        description="Uses left out because an active hold hides them from the resident."
    )
    withheld: list[WithheldPublic] = Field(description="The active holds and what each withholds.")

    @classmethod
    def of(cls, export: SubjectAccessExport) -> SubjectAccessPublic:
        """The public shape of an export."""
        now = export.generated_at
        return cls(
            resident_id=export.resident_id,
            resident_ids=list(export.resident_ids),
            generated_at=now,
            sections=[HeldSectionPublic.of(section) for section in export.sections],
            uses=[AuditRecordPublic.of(record) for record in export.uses],
            withheld_total=export.withheld_total,
            withheld=[
                WithheldPublic(hold=HoldPublic.of(item.hold, now), records=item.records)
                for item in export.withheld
            ],
        )
