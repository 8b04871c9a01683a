"""Shapes of the residents API: residents, their links, decisions, review items, rules.

Each answer shape is built from the service's dataclasses with ``of``; request bodies forbid
unknown properties (a typo is a 422, not a silent no-op).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from townhall.domains.people.decisions import Decision
from townhall.domains.people.golden import Rule
from townhall.domains.people.residents import LinkedRecord, ResidentSummary, ResidentView
from townhall.domains.people.review import ReviewItemView

REASON = Field(min_length=1, max_length=2000, description="Why: kept with the decision.")
RESIDENT_ID = Field(pattern=r"^R[0-9A-HJKMNP-TV-Z]{9}$", examples=["R7K3MQ9XA2"])


class ResidentSummaryPublic(BaseModel):
    """A resident as a search lists them."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(examples=["R7K3MQ9XA2"])
    first_name: str | None
    last_name: str | None
    date_of_birth: date | None
    postcode: str | None
    uprn: int | None
    source_records: int = Field(description="How many source records are linked to it.")

    @classmethod
    def of(cls, summary: ResidentSummary) -> ResidentSummaryPublic:
        return cls(**summary.__dict__)


class GoldenField(BaseModel):
    """One field of the golden record, and where its value came from."""

    model_config = ConfigDict(extra="allow")

    value: Any
    source_system: str
    source_record_id: str = Field(description="The record's id in its source system.")
    record_id: int = Field(description="The source record's id here.")
    updated_at: datetime = Field(description="When the source system last changed it.")
    rule: str = Field(description="The survivorship rule that chose it.")


class LinkedRecordPublic(BaseModel):
    """A source record linked to a resident, and how it was linked."""

    model_config = ConfigDict(extra="forbid")

    source_record_id: int
    source_system: str
    source_system_record_id: str
    first_name: str | None
    last_name: str
    date_of_birth: date | None
    postcode: str | None
    source_updated_at: datetime
    how: str = Field(description="model | review | staff | rerun | alone")
    match_probability: float | None
    linked_at: datetime
    decision_id: int | None

    @classmethod
    def of(cls, record: LinkedRecord) -> LinkedRecordPublic:
        return cls(**record.__dict__)


class ResidentPublic(BaseModel):
    """One resident: the golden record, contact details, addresses and source records."""

    model_config = ConfigDict(extra="forbid")

    id: str
    status: str = Field(description="active | merged | empty")
    merged_into: str | None
    created_at: datetime
    updated_at: datetime
    golden: dict[str, GoldenField] = Field(
        description="Each field's chosen value, with its source and the rule that chose it."
    )
    contact_details: list[dict[str, Any]] = Field(
        description="Every distinct email and phone, with the records holding it, last seen."
    )
    addresses: list[dict[str, Any]] = Field(
        description="Every distinct address (by UPRN), the golden one marked."
    )
    source_records: list[LinkedRecordPublic]

    @classmethod
    def of(cls, view: ResidentView) -> ResidentPublic:
        return cls(
            id=view.id,
            status=view.status,
            merged_into=view.merged_into,
            created_at=view.created_at,
            updated_at=view.updated_at,
            golden={name: GoldenField(**value) for name, value in view.golden.items()},
            contact_details=view.contact_details,
            addresses=view.addresses,
            source_records=[LinkedRecordPublic.of(record) for record in view.records],
        )


class DecisionPublic(BaseModel):
    """A change to links: what moved, by whom, why, and whether it was undone."""

    model_config = ConfigDict(extra="forbid")

    id: int
    kind: str = Field(description="link | accept | reject | merge | unlink | rerun | undo")
    actor_kind: str
    actor_id: str | None
    reason: str | None
    created_at: datetime
    resident_ids: list[str]
    changes: dict[str, Any] = Field(
        description="Every link and resident state before and after, and kept-apart pairs."
    )
    reverses_id: int | None
    reversed_by_id: int | None

    @classmethod
    def of(cls, decision: Decision) -> DecisionPublic:
        return cls(
            id=decision.id,
            kind=decision.kind,
            actor_kind=decision.actor_kind,
            actor_id=decision.actor_id,
            reason=decision.reason,
            created_at=decision.created_at,
            resident_ids=decision.resident_ids,
            changes=decision.changes,
            reverses_id=decision.reverses_id,
            reversed_by_id=decision.reversed_by_id,
        )


class ComparisonPublic(BaseModel):
    """One field's comparison: the two values, the level they fell in, its weight in bits."""

    model_config = ConfigDict(extra="forbid")

    field: str
    label: str
    left: str | None
    right: str | None
    level: str
    weight: float


class ReviewItemPublic(BaseModel):
    """A possible match for a person to accept or reject, with the evidence."""

    model_config = ConfigDict(extra="forbid")

    id: int
    source_record_id: int
    resident_id: str
    other_record_id: int
    match_weight: float
    match_probability: float
    prior_weight: float
    comparisons: list[ComparisonPublic]
    status: str = Field(description="pending | accepted | rejected | superseded")
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    decision_id: int | None

    @classmethod
    def of(cls, item: ReviewItemView) -> ReviewItemPublic:
        return cls(
            id=item.id,
            source_record_id=item.source_record_id,
            resident_id=item.resident_id,
            other_record_id=item.other_record_id,
            match_weight=item.match_weight,
            match_probability=item.match_probability,
            prior_weight=item.prior_weight,
            comparisons=[ComparisonPublic(**c.as_json()) for c in item.comparisons],
            status=item.status,
            created_at=item.created_at,
            decided_at=item.decided_at,
            decided_by=item.decided_by,
            decision_id=item.decision_id,
        )


class MergeRequest(BaseModel):
    """Merge another resident into this one."""

    model_config = ConfigDict(extra="forbid")

    other_resident_id: str = RESIDENT_ID
    reason: str = REASON


class UnlinkRequest(BaseModel):
    """Take a source record out of this resident."""

    model_config = ConfigDict(extra="forbid")

    # 2**53 - 1: the largest integer every JSON parser (JavaScript's included) reads exactly;
    # a larger bound lets a float that rounds past it pass the schema and fail the model.
    source_record_id: int = Field(ge=1, le=2**53 - 1)
    into_resident_id: str | None = Field(
        default=None,
        pattern=r"^R[0-9A-HJKMNP-TV-Z]{9}$",
        description="Move it into this resident; omit for a new resident of its own.",
    )
    reason: str = REASON


class ReasonRequest(BaseModel):
    """Why (accepting, rejecting, undoing)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = REASON


class SurvivorshipRulePublic(BaseModel):
    """How one golden record field is chosen."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(examples=["email"])
    rule: str = Field(description="most_trusted | most_recent", examples=["most_recent"])
    sources: list[str] = Field(
        default_factory=list,
        description="Source systems, most trusted first (most_trusted); others follow by trust.",
    )
    updated_at: datetime | None = Field(default=None, description="None: the default in code.")
    updated_by: str | None = None

    @classmethod
    def of(cls, rule: Rule) -> SurvivorshipRulePublic:
        return cls(
            field=rule.field,
            rule=rule.rule,
            sources=list(rule.sources),
            updated_at=rule.updated_at,
            updated_by=rule.updated_by,
        )


class SurvivorshipRuleChange(BaseModel):
    """A field's new rule."""

    model_config = ConfigDict(extra="forbid")

    field: Literal[
        "title",
        "first_name",
        "middle_names",
        "last_name",
        "date_of_birth",
        "national_insurance_number",
        "email",
        "phone",
        "address",
    ]
    rule: Literal["most_trusted", "most_recent"]
    sources: list[str] = Field(default_factory=list, max_length=50)


class SurvivorshipRulesUpdate(BaseModel):
    """New rules for some fields (the others keep theirs)."""

    model_config = ConfigDict(extra="forbid")

    rules: list[SurvivorshipRuleChange] = Field(min_length=1, max_length=20)


class SurvivorshipRulesPublic(BaseModel):
    """Every golden record field's rule, and (after a change) how many residents changed."""

    model_config = ConfigDict(extra="forbid")

    rules: list[SurvivorshipRulePublic]
    residents_recomputed: int | None = None
