"""Tables of the people domain: each source system's person records, kept as they came.

A source record is one system's view of one person (a housing tenant, a council tax payer, a
parking permit holder...), with that system's spelling, dates and address text. Linking records
into residents is a later step (the single view); this table never loses what a source said.
Only this domain's service writes it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from townhall.platform.db import Base


class SourcePersonRecord(Base):
    """One person as one source system records them."""

    __tablename__ = "people_source_records"

    # SQLite only auto-increments an INTEGER primary key.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
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
    uprn: Mapped[int | None] = mapped_column(BigInteger, index=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source_updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    # Residents' personal data: a route reading it must declare it (contract tests).
    __table_args__ = (
        UniqueConstraint("source_system", "source_record_id"),
        {"info": {"personal_data": True}},
    )
