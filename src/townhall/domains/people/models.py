"""Tables of the people domain: source systems, their records, residents and every link decision.

This module owns every ``people_*`` table. The single view is built in layers, each kept:

- **Sources** (``people_sources``, ``people_syncs``): the council's systems (housing, council tax,
  benefits, parking, social care) and each sync of their records through a connector, with the
  position it reached, so the next sync asks only for what changed since.
- **Source records** (``people_source_records``, ``people_source_record_versions``): one system's
  view of one person, kept as it came (``raw``) beside the fields mapped from it, with every
  earlier version. Nothing here is ever merged or overwritten by linkage.
- **Residents** (``people_residents``, ``people_links``): a resident is a cluster of source
  records under a stable id. Each source record belongs to exactly one resident. A resident merged
  into another keeps its row (``merged_into``), so an id once given out always leads somewhere.
  The golden record is derived from the linked records by the survivorship rules
  (``people_survivorship_rules``) and kept on the resident for search.
- **Decisions** (``people_decisions``, ``people_review_items``, ``people_kept_apart``,
  ``people_linkage_models``): every change to links (the model's, a reviewer's, a re-run's) is a
  decision holding the links before and after, so it can be undone. Pairs a person said are
  different people are kept apart by every later run.

Only this domain's services write these tables.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from townhall.platform.db import Base

# SQLite only auto-increments an INTEGER primary key.
_ID = BigInteger().with_variant(Integer, "sqlite")
# Residents' personal data: a route reading such a table must declare it (contract tests).
_PERSONAL = {"info": {"personal_data": True}}


class PeopleSource(Base):
    """One of the council's systems that holds records of people, and how it is read."""

    __tablename__ = "people_sources"

    # A short machine name: "housing", "council_tax". Source records carry it.
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    label: Mapped[str] = mapped_column(String(100))
    # Which connector reads it: "csv" or "sql" (townhall.domains.people.connectors).
    connector: Mapped[str] = mapped_column(String(16))
    # The connector's settings (where, which columns, how fields map). Never a secret: a
    # password is named by the environment variable that holds it.
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    # 1 is the most trusted source; survivorship's default order for "most trusted" fields.
    trust: Mapped[int] = mapped_column(Integer)
    # How far the last finished sync read, in the connector's own terms (None: never synced).
    position: Mapped[str | None] = mapped_column(String(200))
    last_synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PeopleSync(Base):
    """One run of a source's connector: from which position to which, and what it changed."""

    __tablename__ = "people_syncs"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    source: Mapped[str] = mapped_column(ForeignKey("people_sources.name"), index=True)
    # running | finished | failed
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    from_position: Mapped[str | None] = mapped_column(String(200))
    to_position: Mapped[str | None] = mapped_column(String(200))
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    # Rows the connector could not map (each with its reason in ``problems``).
    refused: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[list[Any]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)


class SourcePersonRecord(Base):
    """One person as one source system records them: the mapped fields and the row as it came."""

    __tablename__ = "people_source_records"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    source_system: Mapped[str] = mapped_column(String(32), index=True)
    source_record_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(20))
    first_name: Mapped[str | None] = mapped_column(String(100))
    middle_names: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    national_insurance_number: Mapped[str | None] = mapped_column(String(13))
    address_text: Mapped[str | None] = mapped_column(String(300))
    postcode: Mapped[str | None] = mapped_column(String(8), index=True)
    # The UPRN the source system itself recorded, if any.
    uprn: Mapped[int | None] = mapped_column(BigInteger, index=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source_updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Provenance: the row exactly as the connector read it, when, by which sync, at what
    # position of the source; a hash of the mapped fields tells a real change from a re-send.
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sync_id: Mapped[int | None] = mapped_column(ForeignKey("people_syncs.id"))
    source_position: Mapped[str | None] = mapped_column(String(200))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    # The UPRN address matching found for the address text, when the source gave none.
    matched_uprn: Mapped[int | None] = mapped_column(BigInteger, index=True)
    uprn_match_score: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (UniqueConstraint("source_system", "source_record_id"), _PERSONAL)


class SourceRecordVersion(Base):
    """An earlier version of a source record, kept when a sync brought a change."""

    __tablename__ = "people_source_record_versions"

    record_id: Mapped[int] = mapped_column(ForeignKey("people_source_records.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The mapped fields (as the API shows a source record) and the row as it came.
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sync_id: Mapped[int | None] = mapped_column(ForeignKey("people_syncs.id"))
    # When a later version replaced it.
    replaced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (_PERSONAL,)


class Resident(Base):
    """One person the council knows: a stable id over the source records linked to it."""

    __tablename__ = "people_residents"

    # A stable, opaque id ("R7K3MQ9XA2"): never reused, never renumbered.
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    # active | merged (its records now belong to ``merged_into``) | empty (every record was
    # moved away by an unlink or a re-run, and no resident took it over)
    status: Mapped[str] = mapped_column(String(16), index=True)
    merged_into: Mapped[str | None] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Bumped on every change of its links or golden record (the API's ETag).
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The golden record: each field's chosen value and where it came from (golden.py).
    golden: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The golden record's searchable fields, kept in columns for the search API's indexes.
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    # Lower-case, accents and punctuation removed: "o'neill-smith" is "oneill smith".
    name_key: Mapped[str | None] = mapped_column(String(220), index=True)
    date_of_birth: Mapped[date | None] = mapped_column(Date, index=True)
    postcode: Mapped[str | None] = mapped_column(String(8), index=True)
    uprn: Mapped[int | None] = mapped_column(BigInteger, index=True)

    __table_args__ = (_PERSONAL,)


class ResidentLink(Base):
    """Which resident a source record belongs to now, and how it came to."""

    __tablename__ = "people_links"

    source_record_id: Mapped[int] = mapped_column(
        ForeignKey("people_source_records.id"), primary_key=True
    )
    resident_id: Mapped[str] = mapped_column(ForeignKey("people_residents.id"), index=True)
    # model (linked automatically) | review (a reviewer accepted) | staff (merge or unlink)
    # | rerun (a full re-run placed it) | alone (no match: a resident of its own)
    how: Mapped[str] = mapped_column(String(16))
    # The model's probability for the best pair that placed it, when the model placed it.
    match_probability: Mapped[float | None] = mapped_column(Float)
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("people_decisions.id"))


class LinkDecision(Base):
    """A change to links: what moved from which resident to which, by whom, and why.

    ``changes`` holds every link and resident state before and after, so ``undo`` can put them
    back (and refuses when a later decision has moved them since).
    """

    __tablename__ = "people_decisions"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    # link (the model placed new or changed records) | accept | reject (a review item)
    # | merge | unlink (staff) | rerun (a full re-run) | undo (of ``reverses_id``)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    # staff | consumer | system
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    # {"links": [{"source_record_id", "from", "to"}], "residents": [{"id", "before", "after"}],
    #  "kept_apart": {"added": [[a, b]], "removed": [[a, b]]}}
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("people_decisions.id"))
    reversed_by_id: Mapped[int | None] = mapped_column(BigInteger)


class ReviewItem(Base):
    """A possible match the model was unsure of: a source record and a resident it may be."""

    __tablename__ = "people_review_items"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    # The record whose place is in doubt, and the resident it may belong to.
    source_record_id: Mapped[int] = mapped_column(
        ForeignKey("people_source_records.id"), index=True
    )
    resident_id: Mapped[str] = mapped_column(ForeignKey("people_residents.id"), index=True)
    # The resident's record it matched best, whose comparison is the evidence.
    other_record_id: Mapped[int] = mapped_column(ForeignKey("people_source_records.id"))
    match_weight: Mapped[float] = mapped_column(Float)
    match_probability: Mapped[float] = mapped_column(Float, index=True)
    # The field by field comparison and each field's weight (linkage.results.Comparison).
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    # pending | accepted | rejected | superseded (a later run or decision settled it)
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("people_decisions.id"))
    model_id: Mapped[int | None] = mapped_column(ForeignKey("people_linkage_models.id"))

    __table_args__ = (
        Index("ix_people_review_items_pending", "status", "match_probability"),
        _PERSONAL,
    )


class KeptApart(Base):
    """Two source records a person decided are different people: no run may link them."""

    __tablename__ = "people_kept_apart"

    # The smaller record id first, so a pair has one row.
    left_record_id: Mapped[int] = mapped_column(
        ForeignKey("people_source_records.id"), primary_key=True
    )
    right_record_id: Mapped[int] = mapped_column(
        ForeignKey("people_source_records.id"), primary_key=True, index=True
    )
    decision_id: Mapped[int] = mapped_column(ForeignKey("people_decisions.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LinkageModel(Base):
    """A Splink model trained on this council's records, and the thresholds it was used with."""

    __tablename__ = "people_linkage_models"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The one the linker uses; training a new model makes it active.
    active: Mapped[bool] = mapped_column(Boolean, index=True)
    # Splink's settings with the trained m and u probabilities (its own JSON format).
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    records_trained_on: Mapped[int] = mapped_column(Integer)
    # What training did: each phase's iterations and whether EM converged; the parameters.
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)


class SurvivorshipRule(Base):
    """How one field of the golden record is chosen among a resident's source records."""

    __tablename__ = "people_survivorship_rules"

    field: Mapped[str] = mapped_column(String(32), primary_key=True)
    # most_trusted (the first source in ``sources`` that has a value; then the most recent)
    # | most_recent (the latest ``source_updated_at`` with a value; ties by trust)
    rule: Mapped[str] = mapped_column(String(16))
    # Source names, most trusted first (most_trusted); sources not listed come after, by trust.
    sources: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str | None] = mapped_column(String(64))
