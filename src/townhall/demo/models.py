"""Tables the demo owns: what was built, and the ground truth of who is who.

The truth table says which source person records belong to the same invented person, so record
linkage can be measured against it. It is demo data only: no domain reads it, and a real
council's instance leaves both tables empty.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from townhall.platform.db import Base


class DemoBuild(Base):
    """One build of the synthetic borough into this database."""

    __tablename__ = "demo_builds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    council_code: Mapped[str] = mapped_column(String(9))
    size: Mapped[str] = mapped_column(String(16))
    seed: Mapped[int] = mapped_column(Integer)
    row_counts: Mapped[dict[str, Any]] = mapped_column(JSON)
    seconds: Mapped[float]
    built_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PersonTruth(Base):
    """Which invented person a source record really belongs to."""

    __tablename__ = "demo_person_truth"

    source_system: Mapped[str] = mapped_column(String(32), primary_key=True)
    source_record_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_key: Mapped[str] = mapped_column(String(16), index=True)
    # Space-separated tags of how the record differs from the person (nickname, old_address,
    # no_dob...), so linkage accuracy can be broken down by kind of disagreement.
    variations: Mapped[str] = mapped_column(String(200), default="")
